/**
 * The e2e helpers' reconnect (test/support/e2e.ts openWelcomed) is as narrow
 * as the uWS bug it covers: one more attempt after a 1006 close before any
 * frame, and nothing else. Against a plain `ws` server that behaves each way.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeWelcome } from '@sigplane/protocol';
import { openWelcomed } from './support/e2e';

let server: WebSocketServer | null = null;

/** A server whose n-th connection (1, 2, ...) is handled by `onConnection`. */
async function serve(onConnection: (ws: WebSocket, n: number) => void): Promise<string> {
  let n = 0;
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => onConnection(ws, ++n));
  await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/master`;
}
const welcome = (ws: WebSocket): void => ws.send(encodeWelcome('0b6f3c1e-1111-4222-8333-444455556666', 'ACTIVE', 0, 'master'));
const dropWithoutCloseFrame = (ws: WebSocket): void => void (ws as unknown as { _socket: { destroy(): void } })._socket.destroy();

afterEach(async () => {
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
});

describe('openWelcomed', () => {
  it('opens once more when the first connection is dropped (1006) before any frame', async () => {
    let opened = 0;
    const url = await serve((ws, n) => (n === 1 ? dropWithoutCloseFrame(ws) : welcome(ws)));
    const client = await openWelcomed(url, 'token', {}, () => void opened++);
    expect(opened).toBe(2);
    expect(client.ofKind('welcome')).toHaveLength(1);
    await client.close();
  });

  it('fails on a second drop', async () => {
    const url = await serve((ws) => dropWithoutCloseFrame(ws));
    await expect(openWelcomed(url, 'token')).rejects.toThrow(/closed with 1006 before its welcome \(attempt 2/);
  });

  it('fails at once on any other close before the welcome', async () => {
    let opened = 0;
    const url = await serve((ws) => ws.close(4003, 'ISOLATED'));
    await expect(openWelcomed(url, 'token', {}, () => void opened++)).rejects.toThrow(/closed with 4003 before its welcome \(attempt 1/);
    expect(opened).toBe(1);
  });
});
