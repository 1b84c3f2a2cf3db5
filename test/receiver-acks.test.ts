/**
 * Receiver acks are cumulative ("executed up to N"), so neither side sends
 * or keeps one per delivery (docs/protocol.md, the receiver flow), against
 * a real server:
 *
 * - the SDK's ReceiverClient coalesces by default (client/receiver-acks.ts):
 *   a burst is acked with far fewer DeliveryAcks than deliveries, and the
 *   server's cursor still reaches the last sequence while the receiver
 *   stays connected; ackEvery 1 still acks each one;
 * - the I/O thread forwards a connection's acks to its shard coalesced
 *   (io/receiver-ack-forwarding.ts): many acks, few cursor records, and
 *   what it holds goes before the detach, so a receiver resuming from the
 *   server's cursor after a close resumes right after its last ack.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiverClient, receiverDefaults } from '@sigplane/client';
import { encodeFrame, wire } from '@sigplane/protocol';
import { journalPathOf } from '../persistence/journal';
import { openMaster, openReceiver, range, waitForDeliveries } from './support/e2e';
import { scrapeMetrics, until } from './support/fault-server-process';
import { v2Body, v2Frame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';

let t: TestServer;
const unlimited = { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 };

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

/** The server's cursor for a receiver license, as committed to the (only) shard's journal; null when it has none. */
function journaledCursor(s: TestSubscription, receiverTokenId: string): number | null {
  const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare<[string, string], { sequence: number }>('SELECT sequence FROM cursors WHERE subscription_id = ? AND receiver_id = ?')
      .get(s.subscriptionId, receiverTokenId);
    return row?.sequence ?? null;
  } finally {
    db.close();
  }
}

async function metric(name: string): Promise<number> {
  return (await scrapeMetrics(Number(new URL(t.url).port))).get(name) ?? 0;
}

/** Publish 1..count on a raw master connection, in chunks, each chunk acked before the next. */
async function publish(s: TestSubscription, from: number, to: number): Promise<void> {
  const master = await openMaster(t, s);
  const chunk = 250;
  for (let start = from; start <= to; start += chunk) {
    const end = Math.min(to, start + chunk - 1);
    const before = master.ofKind('ack').length;
    for (const sequence of range(start, end)) master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, sequence)));
    await master.waitFor(() => master.ofKind('ack').length - before >= end - start + 1, 20_000);
  }
  expect(master.ofKind('reject')).toEqual([]);
  await master.close();
}

describe('the SDK acks cumulatively', () => {
  it('coalesces the acks of a burst by default, and the server cursor still reaches its last sequence while connected', async () => {
    const s = await t.subscription({ settings: unlimited });
    const count = 2_000;
    const receiver = new ReceiverClient();
    await receiver.connect(t.receiverUrl, s.receiverToken, { lastSequence: 0, reconnect: false, onSignal: () => undefined, onSnapshot: () => undefined });
    const acksBefore = await metric('sigplane_receiver_acks_total');
    const startMs = Date.now();
    try {
      await publish(s, 1, count);
      await receiver.waitFor(count, 30_000);
      // Connected all along: the held ack goes without a close.
      await until('the server cursor to reach the last sequence', () => journaledCursor(s, s.receiverTokenId) === count, 30_000);
      const sent = receiver.counters.acksSent;
      const elapsedMs = Date.now() - startMs;
      expect(sent).toBeGreaterThan(0);
      // The policy's bound, however long the run took: the budget, one per interval, one per ackEvery executions.
      const { ackBurst, ackIntervalMs, ackEveryDefault } = receiverDefaults;
      expect(sent, 'at most the ack policy allows').toBeLessThanOrEqual(ackBurst + Math.ceil(elapsedMs / ackIntervalMs) + Math.ceil(count / ackEveryDefault) + 1);
      expect(sent, 'fewer acks than deliveries').toBeLessThan(count);
      expect(await metric('sigplane_receiver_acks_total')).toBe(acksBefore + sent);
    } finally {
      await receiver.close();
    }
  });

  it('with ackEvery 1 acks every executed signal', async () => {
    const s = await t.subscription({ settings: unlimited });
    const count = 300;
    const receiver = new ReceiverClient();
    await receiver.connect(t.receiverUrl, s.receiverToken, { lastSequence: 0, ackEvery: 1, reconnect: false, onSignal: () => undefined, onSnapshot: () => undefined });
    try {
      await publish(s, 1, count);
      await receiver.waitFor(count, 30_000);
      expect(receiver.counters.acksSent).toBe(count);
      await until('the server cursor to reach the last sequence', () => journaledCursor(s, s.receiverTokenId) === count, 30_000);
    } finally {
      await receiver.close();
    }
  });

  it('acks what it executed and held at close(), before the socket closes', async () => {
    const s = await t.subscription({ settings: unlimited });
    const count = 500;
    const receiver = new ReceiverClient();
    // An interval no test waits out: only close() can send what is held.
    await receiver.connect(t.receiverUrl, s.receiverToken, {
      lastSequence: 0,
      ackEvery: 1_000_000,
      ackIntervalMs: 3_600_000,
      reconnect: false,
      onSignal: () => undefined,
      onSnapshot: () => undefined,
    });
    await publish(s, 1, count);
    await receiver.waitFor(count, 30_000);
    await receiver.close();
    await until('the server cursor to reach the last sequence', () => journaledCursor(s, s.receiverTokenId) === count, 30_000);
  });
});

describe('the I/O thread forwards acks to the shard coalesced', () => {
  it('many acks become few cursor records; what is held goes before the detach, and a resume from the server cursor continues after it', async () => {
    const s = await t.subscription({ settings: unlimited });
    const count = 500;
    await publish(s, 1, count);
    const raw = await openReceiver(t, s.receiverToken, 0);
    expect(await waitForDeliveries(raw, count, 20_000)).toEqual(range(1, count));
    const acksBefore = await metric('sigplane_receiver_acks_total');
    const updatesBefore = await metric('sigplane_receiver_cursor_updates_total');
    const startMs = Date.now();
    for (const sequence of range(1, count)) raw.send(encodeFrame({ deliveryAck: { sequenceNumber: sequence } }));
    await until('every ack to be received', async () => (await metric('sigplane_receiver_acks_total')) === acksBefore + count, 20_000);
    await raw.close();
    await until('the server cursor to reach the last ack', () => journaledCursor(s, s.receiverTokenId) === count, 30_000);
    const elapsedMs = Date.now() - startMs;
    const updates = (await metric('sigplane_receiver_cursor_updates_total')) - updatesBefore;
    expect(updates).toBeGreaterThanOrEqual(1);
    // One forward per interval (the first at once), and what was held at the close: however long the run took.
    expect(updates, 'at most one cursor record per interval').toBeLessThanOrEqual(Math.ceil(elapsedMs / wire.receiverAckForwardIntervalMs) + 2);
    expect(updates, 'fewer cursor records than acks').toBeLessThan(count);

    // Without lastSequence the server's cursor says where to resume: right after the last ack.
    await publish(s, count + 1, count + 3);
    const executed: number[] = [];
    const again = new ReceiverClient();
    await again.connect(t.receiverUrl, s.receiverToken, { reconnect: false, onSignal: (d) => void executed.push(d.sequenceNumber), onSnapshot: () => undefined });
    try {
      await again.waitFor(count + 3, 20_000);
      expect(executed).toEqual(range(count + 1, count + 3));
    } finally {
      await again.close();
    }
  });

  it('an ack below one already forwarded changes nothing: the cursor only moves up', async () => {
    const s = await t.subscription({ settings: unlimited });
    await publish(s, 1, 20);
    const raw = await openReceiver(t, s.receiverToken, 0);
    await waitForDeliveries(raw, 20, 20_000);
    for (const sequence of [5, 20, 7, 3]) raw.send(encodeFrame({ deliveryAck: { sequenceNumber: sequence } }));
    await raw.close();
    await until('the server cursor to reach the highest ack', () => journaledCursor(s, s.receiverTokenId) === 20, 30_000);
  });
});
