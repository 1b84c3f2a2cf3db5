/**
 * A uWebSockets.js listener that owns its port. uWS binds with SO_REUSEPORT
 * unless told otherwise, so a second server on a taken port would start too
 * and the kernel would share the connections between the two. With
 * LIBUS_LISTEN_EXCLUSIVE_PORT the bind fails instead.
 *
 * uWS says only that the bind failed; the cause (port in use, a privileged
 * port, an address that is not on this machine) is found by binding the same
 * address once with node:net (persistence/pg/free-port.ts), whose error has
 * a code (`portProblem`): the error names it and the setting that changes it.
 */
import type * as Uws from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { bindError } from '../persistence/pg/free-port';

/** The 4-argument form of the 20.30 build: host, port, options (LIBUS_LISTEN_*), callback; absent from its typings. */
interface ListenWithOptions {
  listen(host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void): unknown;
}

export interface ListenTarget {
  /** What listens, for the error: "sigplane", "the admin API". */
  what: string;
  host: string;
  port: number;
  /** The setting that chooses the port, for the error: "--port (SIGPLANE_PORT)". */
  setting: string;
}

/** The two listeners of `sigplane serve`, as errors name them. */
export const publicListener = { what: 'sigplane', setting: '--port (SIGPLANE_PORT)' } as const;
export const adminListener = { what: 'the admin API', setting: '--admin-port (SIGPLANE_ADMIN_PORT)' } as const;

/** Why binding host:port fails now (a sentence naming the cause and what to do), or null when it would succeed. */
export async function portProblem(target: ListenTarget): Promise<string | null> {
  const { what, host, port, setting } = target;
  const error = await bindError(host, port);
  if (error === null) return null;
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${what} cannot listen on ${where}: port ${port} is already in use (another sigplane server, or another program); stop it, or choose another port with ${setting}`;
    case 'EACCES':
      return `${what} cannot listen on ${where}: port ${port} needs privileges this user lacks; choose a port above 1023 with ${setting}`;
    case 'EADDRNOTAVAIL':
      return `${what} cannot listen on ${where}: ${host} is not an address of this machine`;
    default:
      return `${what} cannot listen on ${where}: ${error.code ?? error.message}`;
  }
}

/**
 * Listens on target.host:target.port, alone. Rejects with the cause when the
 * port is taken (even by a server that shares ports) or cannot be bound.
 */
export function listenExclusive(
  uws: typeof Uws,
  app: TemplatedApp,
  target: ListenTarget,
): Promise<us_listen_socket> {
  // The module exports the option as a number; its typings have it only as an enum member.
  const exclusive = (uws as unknown as Record<string, unknown>).LIBUS_LISTEN_EXCLUSIVE_PORT;
  if (typeof exclusive !== 'number') {
    return Promise.reject(new Error('this uWebSockets.js build has no LIBUS_LISTEN_EXCLUSIVE_PORT: it cannot refuse a taken port'));
  }
  return new Promise((resolve, reject) => {
    (app as unknown as ListenWithOptions).listen(target.host, target.port, exclusive, (socket) => {
      if (socket) return resolve(socket);
      void portProblem(target).then((problem) =>
        reject(new Error(problem ?? `${target.what} cannot listen on ${target.host}:${target.port} (the port was taken and released meanwhile?)`)),
      );
    });
  });
}
