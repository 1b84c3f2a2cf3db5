/**
 * TCP ports on this machine: one on 127.0.0.1 that was free a moment ago
 * (for an embedded Postgres, a test's proxy), and whether a given one is
 * free (a listener about to bind it names the cause when it is not).
 * Another process may take a port between the check and its use; callers
 * that care retry or report the bind's own failure.
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

/** The error binding host:port gets now (EADDRINUSE: taken), or null when it is free. The probe is closed at once. */
export function bindError(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    probe.listen({ host, port }, () => probe.close(() => resolve(null)));
  });
}
