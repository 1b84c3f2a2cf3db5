/**
 * A TCP port on 127.0.0.1 held by a plain listener, as any other program
 * would hold it: for tests of what sigplane does when its port is taken.
 */
import * as net from 'node:net';

export function holdPort(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export const releasePort = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
