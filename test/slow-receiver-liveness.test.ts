/**
 * A receiver too slow for its subscription is closed within a bound,
 * whatever the kernel buffers, and resumes on reconnect with nothing lost or
 * doubled (docs/protocol.md, "Slow receivers"; io/receiver-read-lag.ts).
 *
 * The server is the built one (`sigplane serve` from dist/) in its own
 * process; the slow receivers are bare TCP sockets that do the WebSocket
 * handshake themselves and then really stop reading, or read about 64 KiB
 * every 2 s (test/support/raw-receiver.ts). Before this rule the kernel
 * took about 4 MB for such a receiver before the server's own 1 MiB limit
 * began to count, the close frame was then refused behind the full buffer,
 * and a receiver that kept trickling stayed connected, minutes behind; a
 * receiver that stopped reading at a low rate and kept sending heartbeats
 * was never closed.
 *
 * The bounds checked are amounts, not times: how far behind the receiver
 * was (bytes sent it had not read) when the server closed it. The time
 * rule (a ping unanswered for wire.receiverReadLagMsMax) is checked by its
 * reason (`read_lag`) on a subscription too slow to reach the byte bound.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CloseCode } from '../io/server';
import { encodeHeartbeat, wire } from '@sigplane/protocol';
import { createTestDatabase, type TestDatabase } from './support/database';
import { answerFor, deliveredSequences, openWelcomed, range, sleep, waitForDeliveries } from './support/e2e';
import { killHard, newKek, scrapeMetrics, startServerProcess, storeFor, until, type ServerProcess } from './support/fault-server-process';
import { RawReceiver } from './support/raw-receiver';
import { subscribeFrame, v1Fields, v1Frame } from './support/signals';
import type { WireClient } from './support/wire-client';

/**
 * How far behind (bytes sent, not read) a receiver may get before it is
 * closed, with room for the probe interval and for this test noticing:
 * twice the rule's bound plus a second of signals. Before the rule it was
 * the kernel's buffers plus the server's, about 5 MB.
 */
const behindBytesMax = 2 * wire.receiverUnreadBytesMax + 512 * 1024;

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess;
const kek = newKek();

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-slow-receiver-'));
  server = await startServerProcess({
    databaseUrl: database.url,
    dataDir,
    kekBase64: kek,
    journalSync: 'normal',
    env: { SIGPLANE_SUB_RATE: '1000000', SIGPLANE_SUB_BURST: '1000000', SIGPLANE_UPGRADE_RATE: '100000', SIGPLANE_UPGRADE_BURST: '100000' },
  });
});
afterAll(async () => {
  if (server) await killHard(server);
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Stream {
  subscriptionId: string;
  key: string;
  master: WireClient;
  fast: WireClient;
  slowToken: string;
}

async function openStream(): Promise<Stream> {
  const store = storeFor(database.pool, dataDir, kek);
  const created = await store.createSubscription({ name: `slow-${Date.now()}` });
  await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 });
  const slow = await store.issueReceiverToken(created.subscriptionId, {});
  const fast = await store.issueReceiverToken(created.subscriptionId, {});
  return {
    subscriptionId: created.subscriptionId,
    key: created.macSecretHex,
    master: await openWelcomed(server.masterUrl, created.masterToken),
    fast: await openWelcomed(server.receiverUrl, fast.token, {}, (c) => c.send(subscribeFrame(0))),
    slowToken: slow.token,
  };
}

/** A slow receiver, subscribed from 0 and welcomed before it slows down. */
async function openSlow(stream: Stream): Promise<RawReceiver> {
  const slow = await RawReceiver.open(server.port, stream.slowToken, 0);
  await slow.waitForFrame((f) => f.kind === 'welcome', 10_000);
  return slow;
}

/** Signals at `perSecond` on a schedule (a late wake-up sends all that fell due) until stopped. */
function startMaster(stream: Stream, perSecond: number): { sent: () => number; stop: () => Promise<number> } {
  let sent = 0;
  let running = true;
  const startedAt = performance.now();
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((performance.now() - startedAt) / 1000) * perSecond);
      while (sent < due) stream.master.send(v1Frame(stream.key, v1Fields(stream.subscriptionId, ++sent)));
      await sleep(10);
    }
  })();
  return {
    sent: () => sent,
    async stop() {
      running = false;
      await loop;
      if (sent > 0) expect((await answerFor(stream.master, sent, 30_000)).kind).toBe('ack');
      return sent;
    },
  };
}

/** sigplane_backpressure_drops_total of receivers, by reason. */
async function receiverDrops(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [key, value] of await scrapeMetrics(server.port)) {
    const match = /^sigplane_backpressure_drops_total\{role="receiver"(?:,reason="([a-z_]+)")?\}$/.exec(key);
    if (match !== null) out.set(match[1] ?? 'unknown', value);
  }
  return out;
}

function total(drops: Map<string, number>): number {
  return [...drops.values()].reduce((a, b) => a + b, 0);
}

/** Waits until the server has closed one more slow receiver; what the master had sent and the receiver had read then. */
async function waitForDrop(before: number, master: { sent: () => number }, slow: RawReceiver, timeoutMs: number): Promise<{ sent: number; read: number }> {
  let seen = { sent: 0, read: 0 };
  await until(
    'the server to close the slow receiver',
    async () => {
      seen = { sent: master.sent(), read: slow.deliveredSequences().length };
      return total(await receiverDrops()) > before;
    },
    timeoutMs,
    () => `master sent ${master.sent()}, the slow receiver read ${slow.bytesRead} bytes`,
  );
  return seen;
}

/**
 * After its close, the slow receiver's executed sequences are a gap-free
 * prefix 1..k; reconnected (reading normally) from k it gets k+1..n from
 * the window or the journal, and nothing twice.
 */
async function resumeAndCheck(stream: Stream, slow: RawReceiver, n: number): Promise<void> {
  const executed = slow.deliveredSequences();
  expect(executed).toEqual(range(1, executed.length));
  const again = await RawReceiver.open(server.port, stream.slowToken, executed.length);
  try {
    await until('the resumed receiver to catch up', () => executed.length + again.deliveredSequences().length >= n, 30_000);
    await sleep(100);
    expect(again.frames.some((f) => f.kind === 'snapshot')).toBe(false);
    expect([...executed, ...again.deliveredSequences()]).toEqual(range(1, n));
    expect(again.closeCode).toBeNull();
  } finally {
    again.destroy();
  }
}

/** When it was closed, the receiver was behind by at most behindBytesMax (printed: how far it was). */
function expectBoundedBehind(atDrop: { sent: number; read: number }, slow: RawReceiver): void {
  const bytesPerDelivery = slow.bytesRead / Math.max(1, slow.deliveredSequences().length);
  const behindBytes = (atDrop.sent - atDrop.read) * bytesPerDelivery;
  console.log(`closed ${(behindBytes / 2 ** 20).toFixed(2)} MiB behind (${atDrop.sent - atDrop.read} deliveries); it saw close code ${slow.closeCode}`);
  expect(behindBytes).toBeLessThan(behindBytesMax);
}

async function expectFastWhole(stream: Stream, n: number): Promise<void> {
  expect(await waitForDeliveries(stream.fast, n, 30_000)).toEqual(range(1, n));
  expect(stream.fast.closeCode).toBeNull();
}

/**
 * At 1,200 signals a second a receiver slowed down by `slowDown` is closed
 * (server side) before it is behindBytesMax behind; reading normally
 * again it finds the close (4001, or the connection's end) right behind
 * what was sent before it, and resumes with nothing lost or doubled, while
 * the other receiver gets every signal and is never closed.
 */
async function slowAtFullRate(slowDown: (slow: RawReceiver) => void): Promise<void> {
  const stream = await openStream();
  const slow = await openSlow(stream);
  slowDown(slow);
  const dropsBefore = total(await receiverDrops());
  const master = startMaster(stream, 1_200);
  const atDrop = await waitForDrop(dropsBefore, master, slow, 90_000);
  const n = await master.stop();

  slow.readNormally();
  expect([CloseCode.BACKPRESSURE, 1006]).toContain(await slow.waitForClose(30_000));
  expectBoundedBehind(atDrop, slow);
  await expectFastWhole(stream, n);
  await resumeAndCheck(stream, slow, n);
  await Promise.all([stream.master.close(), stream.fast.close()]);
}

it('closes a receiver that stops reading before it falls more than a bounded amount behind, and it resumes with nothing lost or doubled', async () => {
  await slowAtFullRate((slow) => slow.stopReading());
}, 180_000);

it('closes a receiver that reads 64 KiB every 2 s at 1,200 signals a second; reading normally after reconnecting it gets every sequence once, in order', async () => {
  await slowAtFullRate((slow) => slow.readAtMost(64 * 1024, 2_000));
}, 180_000);

it('closes a receiver that stops reading on a quiet subscription once its ping goes unanswered, heartbeats or not (4001 BACKPRESSURE)', async () => {
  const stream = await openStream();
  const slow = await openSlow(stream);
  slow.stopReading();
  // Its writing side is alive: without the read-lag rule it would stay connected for good.
  const heartbeats = setInterval(() => slow.send(encodeHeartbeat(Date.now())), 2_000);
  try {
    const before = await receiverDrops();
    const master = startMaster(stream, 20);
    await waitForDrop(total(before), master, slow, 3 * wire.receiverReadLagMsMax + 15_000);
    const n = await master.stop();
    const after = await receiverDrops();
    expect((after.get('read_lag') ?? 0) - (before.get('read_lag') ?? 0)).toBe(1);

    slow.readNormally();
    // Nothing waited in the server's buffer: the close frame went out at once, behind the deliveries.
    expect(await slow.waitForClose(30_000)).toBe(CloseCode.BACKPRESSURE);
    await expectFastWhole(stream, n);
    await resumeAndCheck(stream, slow, n);
  } finally {
    clearInterval(heartbeats);
  }
  await Promise.all([stream.master.close(), stream.fast.close()]);
}, 180_000);
