/**
 * The Receiver EA acks cumulatively, with the TypeScript SDK's policy
 * (client/receiver-acks.ts; mql5/Include/Sigplane/ReceiverAcks.mqh):
 *
 * - its numbers are the SDK's (Limits.mqh against client/limits.ts);
 * - on seeded event streams (bursts, quiet spells, snapshots, lost
 *   connections, deinit) the EA's class sends exactly the acks the SDK's
 *   class sends, at the same moments, when its timer runs when the SDK's
 *   timer fires; with a timer every few ms, a held ack goes within the
 *   interval plus one timer period, and the count stays within the
 *   policy's bound;
 * - against a real server: a burst through a Receiver EA costs far fewer
 *   DeliveryAcks than deliveries (the server's sigplane_receiver_acks_total
 *   equals what the EA says it sent, within the bound of the mechanism),
 *   and the server's cursor for the license still reaches the last
 *   sequence while the EA stays connected and no delivery follows: the
 *   held ack is sent from OnTimer.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReceiverAcks, receiverDefaults } from '@sigplane/client';
import { journalPathOf } from '../../persistence/journal';
import { openMaster } from '../support/e2e';
import { scrapeMetrics, until } from '../support/fault-server-process';
import { Prng } from '../support/prng';
import { v2Body, v2Frame } from '../support/signals';
import type { TestServer, TestSubscription } from '../support/test-server';
import { eaBuildTimeoutMs } from './support/ea-build';
import { selftest } from './support/selftest';
import { accountSymbols, type EaTestBed, receiverEa, startEaTestBed } from './support/session';

const seed = Number(process.env.SIGPLANE_TEST_SEED ?? 20261209);
const { ackIntervalMs, ackBurst, ackEveryDefault: ackEvery } = receiverDefaults;

/** One event of a receiver's ack life: x executed, s snapshot applied, g connection gone, d deinit. */
interface AckEvent {
  kind: 'x' | 's' | 'g' | 'd';
  sequence: number;
  ms: number;
}

/** A seeded stream: storms (hundreds within a few ms), bursts, quiet spells, snapshots, lost connections; deinit last. */
function eventStream(random: Prng, count: number): AckEvent[] {
  const events: AckEvent[] = [];
  let ms = 0;
  let sequence = 0;
  let storm = 0;
  for (let i = 0; i < count; i++) {
    if (storm === 0 && random.chance(0.005)) storm = random.int(100, 700);
    const roll = random.next();
    if (storm > 0) ms += random.chance(0.8) ? 0 : 1;
    else ms += roll < 0.5 ? 0 : roll < 0.85 ? random.int(1, 15) : roll < 0.97 ? random.int(20, 250) : random.int(300, 2_000);
    // A storm is deliveries only: its acks are the budget's, the timer's and ackEvery's.
    const kind = storm > 0 ? 'x' : random.chance(0.01) ? 'g' : random.chance(0.01) ? 's' : 'x';
    if (storm > 0) storm--;
    if (kind === 'g') events.push({ kind, sequence: 0, ms });
    else events.push({ kind, sequence: (sequence += kind === 's' ? random.int(1, 40) : 1), ms });
  }
  events.push({ kind: 'd', sequence: 0, ms: ms + random.int(0, 50) });
  return events;
}

function script(start: number, events: { kind: string; sequence: number; ms: number }[]): string {
  return `acks ${start} ${events.map((e) => `${e.kind}${e.kind === 'x' || e.kind === 's' ? e.sequence : ''}@${e.ms}`).join(' ')}`;
}

/**
 * The SDK's class on the stream (fake timers: its timer fires at its own moment): the acks it sent, the
 * moments its timer fired, and how many acks went because ackEvery executions were held.
 */
function sdkAcks(events: AckEvent[]): { sent: string[]; timerMs: number[]; atAckEvery: number } {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  try {
    vi.setSystemTime(0);
    const sent: string[] = [];
    const timerMs: number[] = [];
    let inEvent = false;
    let executedSinceAck = 0;
    let atAckEvery = 0;
    const acks = new ReceiverAcks({ ackEvery, ackIntervalMs, ackBurst }, () => Date.now(), (sequence) => {
      sent.push(`${sequence}@${Date.now()}`);
      if (!inEvent) timerMs.push(Date.now());
      if (executedSinceAck === ackEvery) atAckEvery++;
      executedSinceAck = 0;
      return true;
    });
    for (const e of events) {
      vi.advanceTimersByTime(e.ms - Date.now());
      inEvent = true;
      if (e.kind === 'x' || e.kind === 's') {
        executedSinceAck++;
        acks.executed(e.sequence, e.kind === 's');
      } else if (e.kind === 'g') {
        executedSinceAck = 0;
        acks.forget();
      } else acks.flush();
      inEvent = false;
    }
    expect(acks.acksSent).toBe(sent.length);
    return { sent, timerMs, atAckEvery };
  } finally {
    vi.useRealTimers();
  }
}

describe("the EA's ack policy is the SDK's", () => {
  it('with the same numbers', () => {
    expect(selftest(['ack-limits'])).toEqual([`${ackIntervalMs} ${ackBurst} ${ackEvery}`]);
  });

  it(`sends the acks the SDK sends, at the same moments, on seeded streams (seed ${seed})`, () => {
    const random = new Prng(seed);
    const lines: string[] = [];
    const expected: string[] = [];
    const seen = { timer: 0, atAckEvery: 0 };
    for (let run = 0; run < 40; run++) {
      const events = eventStream(random, random.int(50, 3_000));
      const sdk = sdkAcks(events);
      seen.timer += sdk.timerMs.length;
      seen.atAckEvery += sdk.atAckEvery;
      // The EA's timer runs when the SDK's fired (before the events of that ms, as fake timers fire first).
      const ticks = sdk.timerMs.map((ms) => ({ kind: 't', sequence: 0, ms }));
      const merged = [...ticks, ...events].map((e, order) => ({ e, order: e.kind === 't' ? -1 : order })).sort((a, b) => a.e.ms - b.e.ms || a.order - b.order);
      lines.push(script(0, merged.map((m) => m.e)));
      expected.push([...sdk.sent, `sent=${sdk.sent.length}`].join(' '));
    }
    const answers = selftest(lines);
    for (let run = 0; run < lines.length; run++) expect(answers[run], `run ${run}`).toBe(expected[run]);
    // The streams held acks for the timer, and held ackEvery executions without a token.
    expect(seen.timer).toBeGreaterThan(0);
    expect(seen.atAckEvery).toBeGreaterThan(0);
  });

  it('with a timer every few ms: a held ack goes within the interval plus one timer period, and the count keeps to the bound', () => {
    const random = new Prng(seed + 1);
    for (let run = 0; run < 20; run++) {
      const timerMs = random.int(1, 16);
      const events = eventStream(random, random.int(200, 3_000)).filter((e) => e.kind !== 'g');
      const end = events[events.length - 1].ms;
      const ticks: { kind: string; sequence: number; ms: number }[] = [];
      for (let ms = timerMs; ms <= end + ackIntervalMs + timerMs; ms += timerMs) ticks.push({ kind: 't', sequence: 0, ms });
      // The EA reads the socket, then looks at the timer: the events of a ms before its tick; deinit after them all.
      const stream = [...events.slice(0, -1), ...ticks].sort((a, b) => a.ms - b.ms || (a.kind === 't' ? 1 : 0) - (b.kind === 't' ? 1 : 0));
      const [answer] = selftest([script(0, stream)]);
      const sent = answer.split(' ').slice(0, -1).map((a) => a.split('@').map(Number) as [number, number]);
      for (const e of events) {
        if (e.kind !== 'x' && e.kind !== 's') continue;
        const covering = sent.find(([sequence, ms]) => sequence >= e.sequence && ms >= e.ms);
        expect(covering, `run ${run}: ${e.sequence} acked`).toBeDefined();
        expect(covering![1] - e.ms, `run ${run}: ${e.sequence} held`).toBeLessThanOrEqual(ackIntervalMs + timerMs);
      }
      const executions = events.filter((e) => e.kind === 'x').length;
      const snapshots = events.filter((e) => e.kind === 's').length;
      const bound = ackBurst + Math.floor((end + ackIntervalMs + timerMs) / ackIntervalMs) + Math.floor(executions / ackEvery) + snapshots;
      expect(sent.length, `run ${run}`).toBeLessThanOrEqual(bound);
      for (let i = 1; i < sent.length; i++) expect(sent[i][0], `run ${run}: acks only go up`).toBeGreaterThan(sent[i - 1][0]);
    }
  });
});

describe('a Receiver EA against a real server', () => {
  let bed: EaTestBed;
  let t: TestServer;
  let dir: string;
  let closers: (() => Promise<void>)[];

  beforeAll(async () => {
    bed = await startEaTestBed('acks', { shardCount: 1 });
    ({ server: t, dir, closers } = bed);
  }, eaBuildTimeoutMs);

  afterAll(async () => {
    await bed?.close();
  });

  /** The server's cursor for a receiver license, as committed to the (only) shard's journal; null when it has none. */
  function journaledCursor(s: TestSubscription): number | null {
    const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
    try {
      const row = db
        .prepare<[string, string], { sequence: number }>('SELECT sequence FROM cursors WHERE subscription_id = ? AND receiver_id = ?')
        .get(s.subscriptionId, s.receiverTokenId);
      return row?.sequence ?? null;
    } finally {
      db.close();
    }
  }

  async function acksReceived(): Promise<number> {
    return (await scrapeMetrics(t.server.port)).get('sigplane_receiver_acks_total') ?? 0;
  }

  it('acks a burst with far fewer DeliveryAcks than deliveries, and the server cursor reaches the last sequence while connected', async () => {
    const s = await t.subscription({ settings: { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 } });
    const receiver = receiverEa('receiver', path.join(dir, 'receiver'), t, s.receiverToken, accountSymbols(null));
    closers.push(() => receiver.kill9());
    await receiver.startWelcomed();
    await receiver.request('mid EURUSD 1.08765');
    const count = 600;
    const acksBefore = await acksReceived();
    const startMs = Date.now();

    // One position, then stop changes to it, published as fast as the server takes them.
    const master = await openMaster(t, s);
    const body = (sequence: number) =>
      sequence === 1
        ? v2Body(s.subscriptionId, 1, { positionId: 1001, stopLoss: 1.07, takeProfit: 1.1 })
        : v2Body(s.subscriptionId, sequence, { action: 2, positionId: 1001, stopLoss: 1.07 + (sequence % 50) * 0.0001, takeProfit: 1.1 });
    for (let sequence = 1; sequence <= count; sequence++) master.send(v2Frame(s.macKey, s.macKeyId, body(sequence)));
    await master.waitFor(() => master.ofKind('ack').length >= count, 30_000);
    expect(master.ofKind('reject')).toEqual([]);
    await master.close();

    const done = await receiver.waitStatus('every delivery applied', (st) => st.lastSequence === count, 60_000);
    expect(done.failures).toBe(0);
    // Connected all along and nothing more delivered: whatever was held goes from OnTimer.
    await until('the server cursor to reach the last sequence', () => journaledCursor(s) === count, 30_000);
    const elapsedMs = Date.now() - startMs;
    const status = await receiver.status();
    expect(status.welcomed).toBe(true);
    const sent = status.acksSent as number;
    await until('every ack the EA sent to be received', async () => (await acksReceived()) === acksBefore + sent, 10_000);
    expect(sent).toBeGreaterThan(0);
    // The policy's bound, however long the run took: the budget, one per interval, one per ackEvery executions.
    expect(sent, 'at most the ack policy allows').toBeLessThanOrEqual(ackBurst + Math.ceil(elapsedMs / ackIntervalMs) + Math.ceil(count / ackEvery) + 1);
    expect(sent, 'fewer acks than deliveries').toBeLessThan(count);

    // Deinit sends what is held at once: nothing is, and nothing more goes.
    await receiver.stop();
    expect(await acksReceived()).toBe(acksBefore + sent);
  });
});
