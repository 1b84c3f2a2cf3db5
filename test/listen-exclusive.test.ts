/**
 * A port sigplane listens on is its own: uWebSockets.js binds with
 * SO_REUSEPORT unless told otherwise, and then a second server on the same
 * port starts too and takes half the connections. Real uWS listeners on
 * 127.0.0.1, real ports.
 */
import crypto from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { us_listen_socket } from 'uWebSockets.js';
import { AdminServer } from '../io/admin/admin-server';
import { listenExclusive, publicListener } from '../io/listen-exclusive';
import { loadNativeUws } from '../io/uws-native';
import { AdminStore } from '../persistence/pg/admin-store';
import { ConfigStore } from '../persistence/pg/config-store';
import { freeLocalPort } from '../persistence/pg/free-port';
import { SecretBox } from '../persistence/pg/secret-box';
import { createTestDatabase, type TestDatabase } from './support/database';

const uws = loadNativeUws();
const sockets: us_listen_socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) uws.us_listen_socket_close(socket);
});

/** A listener as uWS makes it by default (what sigplane did before): it shares its port. */
function sharingListener(port: number): Promise<us_listen_socket | false> {
  return new Promise((resolve) => uws.App().listen('127.0.0.1', port, (socket) => resolve(socket)));
}

describe('listenExclusive', () => {
  it('keeps its port: a server that would share it cannot bind', async () => {
    const port = await freeLocalPort();
    sockets.push(await listenExclusive(uws, uws.App(), { ...publicListener, host: '127.0.0.1', port }));
    const second = await sharingListener(port);
    if (second) sockets.push(second);
    expect(second).toBe(false);
  });

  it('refuses a port that a sharing server holds, naming the port and the setting', async () => {
    const port = await freeLocalPort();
    const first = await sharingListener(port);
    expect(first).not.toBe(false);
    sockets.push(first as us_listen_socket);
    const error = await listenExclusive(uws, uws.App(), { ...publicListener, host: '127.0.0.1', port }).then(
      (socket) => {
        sockets.push(socket);
        return null;
      },
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      `sigplane cannot listen on 127.0.0.1:${port}: port ${port} is already in use (another sigplane server, or another program); stop it, or choose another port with --port (SIGPLANE_PORT)`,
    );
  });

  it('refuses an address that is not on this machine', async () => {
    const error = await listenExclusive(uws, uws.App(), { ...publicListener, host: '192.0.2.1', port: 0 }).catch((e: Error) => e);
    expect((error as Error).message).toBe('sigplane cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine');
  });
});

describe('the admin API listener', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('does not start on a taken port, and says which setting moves it', async () => {
    const port = await freeLocalPort();
    const first = await sharingListener(port);
    expect(first).not.toBe(false);
    sockets.push(first as us_listen_socket);
    const store = new ConfigStore(database.pool, SecretBox.fromKey(crypto.randomBytes(32)));
    const admin = new AdminServer({ host: '127.0.0.1', port, store, adminStore: new AdminStore(database.pool, store) });
    await expect(admin.start()).rejects.toThrow(
      `the admin API cannot listen on 127.0.0.1:${port}: port ${port} is already in use (another sigplane server, or another program); stop it, or choose another port with --admin-port (SIGPLANE_ADMIN_PORT)`,
    );
    admin.stop();
  });
});
