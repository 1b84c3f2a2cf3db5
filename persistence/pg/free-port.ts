/**
 * A TCP port on 127.0.0.1 that was free a moment ago: for an embedded
 * Postgres started by tests and benchmarks, or a test's proxy in front of
 * one. (Another process may take it before it is used; callers that care
 * retry.)
 */
import * as net from 'node:net';

export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
