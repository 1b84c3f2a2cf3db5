/**
 * Issue 6, scenario 3: a replay storm. 100,000 frames that copy accepted
 * signals (v1 and v2) reach the server over 20 master connections: exact
 * copies must be acked DUPLICATE, copies with other content under an
 * accepted sequence refused REPLAY (docs/protocol.md), none forwarded to a
 * receiver, none journaled again, and both counted in /metrics.
 *
 * The seed (which copies, in which order) is printed; SIGPLANE_FAULT_SEED
 * replays it. SIGPLANE_SOAK=1 sends a million.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalPathOf } from '../../persistence/journal';
import { rejectCodeName, safeInteger, rateLimits } from '@sigplane/protocol';
import { Prng } from '../support/prng';
import { answerFor, deliveredSequences, openMaster, openReceiver, range, sleep, waitForDeliveries } from '../support/e2e';
import { faultSeed, scrapeMetrics, soak, until } from '../support/fault-server-process';
import { v1Fields, v1Frame, v2Body, v2Frame } from '../support/signals';
import { startTestServer, type TestServer, type TestSubscription } from '../support/test-server';
import type { WireClient } from '../support/wire-client';

const acceptedCount = 100;
const stormFrames = soak ? 1_000_000 : 100_000;
/**
 * The storm is spread over several subscriptions so that no subscription's
 * own rate limit (rateLimits.subscriptionSignalsBurst, with its 100 accepted
 * signals) is reached however fast the frames come: every frame must be
 * answered DUPLICATE or REPLAY, never RATE_LIMITED.
 */
const copiesPerSubscription = Math.min(5_000, rateLimits.subscriptionSignalsBurst - acceptedCount - 100);
const subscriptionCount = Math.ceil(stormFrames / copiesPerSubscription);
/** One in ten storm frames carries other content under an accepted sequence (REPLAY); the rest are exact copies (DUPLICATE). */
const replayEvery = 10;
/** The copies must not turn STALE while a long (soak) storm runs: freshness is checked before the actor. */
const stormTtlMs = 3_600_000;
/**
 * Frames in flight, all masters together, before they wait for answers:
 * bounded so that the shard's inbound ring (engine.ringBytes) cannot fill;
 * a full ring would answer BUSY (resend), which is not what this tests.
 */
const inFlightTotalMax = 2_000;
const inFlightMax = Math.max(20, Math.floor(inFlightTotalMax / subscriptionCount));

let t: TestServer;
interface Stream {
  s: TestSubscription;
  master: WireClient;
  receiver: WireClient;
  copies: Uint8Array[];
  others: Uint8Array[];
}
const streams: Stream[] = [];
const tally = { duplicate: 0, replay: 0, other: [] as string[], wrongSequence: 0 };
const expected = { duplicate: 0, replay: 0 };

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

/** 100 accepted signals (odd sequences v1, even v2) and, for each, a validly signed frame with other content. */
async function acceptedStream(index: number): Promise<Stream> {
  // Source addresses spread over 127.x so the per-address upgrade limit stays out of the way.
  const s = await t.subscription({ allowIp: '127.0.0.0/8', settings: { rateLimitPerSecond: 10_000_000, rateLimitBurst: 10_000_000, ttlMs: stormTtlMs } });
  const receiver = await openReceiver(t, s.receiverToken, 0, `127.0.${1 + Math.floor(index / 200)}.${1 + (index % 200)}`);
  const master = await openMaster(t, s, `127.1.${1 + Math.floor(index / 200)}.${1 + (index % 200)}`);
  const copies: Uint8Array[] = [];
  const others: Uint8Array[] = [];
  for (let seq = 1; seq <= acceptedCount; seq++) {
    const v1 = seq % 2 === 1;
    copies.push(
      v1 ? v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)) : v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, seq, { positionId: seq })),
    );
    others.push(
      v1
        ? v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq, { volume: 0.2 }))
        : v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, seq, { positionId: seq, volume: 0.2 })),
    );
  }
  for (const frame of copies) master.send(frame);
  await answerFor(master, acceptedCount);
  expect(master.frames.filter((f) => f.kind === 'ack' && f.ack.status === 1).length).toBe(acceptedCount);
  expect(master.ofKind('reject')).toEqual([]);
  return { s, master, receiver, copies, others };
}

/** Sends this master's share of the storm, at most inFlightMax unanswered, and tallies the answers. */
async function storm(stream: Stream, random: Prng, frames: number): Promise<void> {
  const { master } = stream;
  const from = master.frames.length;
  const sentSequences: number[] = [];
  let counted = from;
  const countAnswers = (): void => {
    for (; counted < master.frames.length; counted++) {
      const f = master.frames[counted]!;
      const sent = sentSequences[counted - from];
      if (f.kind === 'ack' && f.ack.status === 2) {
        tally.duplicate++;
        if (safeInteger(f.ack.sequenceNumber) !== sent) tally.wrongSequence++;
      } else if (f.kind === 'reject' && rejectCodeName(f.reject.code) === 'REPLAY') {
        tally.replay++;
        if (safeInteger(f.reject.sequenceNumber) !== sent) tally.wrongSequence++;
      } else if (tally.other.length < 20) {
        tally.other.push(f.kind === 'reject' ? `${rejectCodeName(f.reject.code)}: ${f.reject.message}` : f.kind);
      }
    }
  };
  master.ws.on('message', countAnswers);
  for (let sent = 0; sent < frames; sent++) {
    const index = random.int(0, acceptedCount - 1);
    const replay = random.int(1, replayEvery) === 1;
    master.send(replay ? stream.others[index]! : stream.copies[index]!);
    sentSequences.push(index + 1);
    if (replay) expected.replay++;
    else expected.duplicate++;
    if (sent + 1 - (counted - from) >= inFlightMax) {
      await until('the storm to be answered', () => counted - from >= sent + 1 - inFlightMax / 2, 30_000, () => JSON.stringify(tally));
    }
  }
  await until('every storm frame to be answered', () => counted - from >= frames, 60_000, () => JSON.stringify(tally));
  master.ws.off('message', countAnswers);
}

describe('replay storm', () => {
  it(`answers ${stormFrames.toLocaleString('en')} copies of accepted signals DUPLICATE or REPLAY and forwards none`, async () => {
    const seed = faultSeed('replay-storm');
    const random = new Prng(seed);
    for (let i = 0; i < subscriptionCount; i++) streams.push(await acceptedStream(i));
    for (const stream of streams) expect(await waitForDeliveries(stream.receiver, acceptedCount)).toEqual(range(1, acceptedCount));

    const started = Date.now();
    let left = stormFrames;
    await Promise.all(
      streams.map((stream) => {
        const frames = Math.min(copiesPerSubscription, left);
        left -= frames;
        return storm(stream, new Prng(random.int(1, 2 ** 31 - 2)), frames);
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `[replay-storm] ${stormFrames} frames over ${subscriptionCount} masters answered in ${seconds.toFixed(1)} s (${Math.round(stormFrames / seconds)}/s): ${JSON.stringify(tally)}`,
    );

    expect(expected.duplicate + expected.replay).toBe(stormFrames);
    expect(tally).toEqual({ duplicate: expected.duplicate, replay: expected.replay, other: [], wrongSequence: 0 });
    // Nothing was forwarded: each receiver still has 1..100, and the next
    // genuine signal is the very next delivery it gets.
    await sleep(100);
    for (const { s, master, receiver } of streams) {
      expect(deliveredSequences(receiver)).toEqual(range(1, acceptedCount));
      master.send(v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, acceptedCount + 1)));
      expect(await answerFor(master, acceptedCount + 1)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: acceptedCount + 1 });
      expect(await waitForDeliveries(receiver, acceptedCount + 1)).toEqual(range(1, acceptedCount + 1));
      expect(receiver.ofKind('stateChange')).toEqual([]);
    }
  }, soak ? 900_000 : 90_000);

  // Counted where the actor decided: the I/O thread tells DUPLICATE acks and actor rejects apart.
  it('counts the storm in /metrics: duplicates and replays by code, each accepted signal once', async () => {
    const metrics = await scrapeMetrics(t.server.port);
    expect({
      accepted: metrics.get('sigplane_signals_accepted_total') ?? 0,
      duplicate: metrics.get('sigplane_signals_duplicate_total') ?? 0,
      replay: metrics.get('sigplane_rejects_total{code="REPLAY"}') ?? 0,
      deliveries: metrics.get('sigplane_deliveries_total') ?? 0,
    }).toEqual({ accepted: subscriptionCount * (acceptedCount + 1), duplicate: expected.duplicate, replay: expected.replay, deliveries: subscriptionCount * (acceptedCount + 1) });
  });

  it('journals nothing twice: the journal holds each accepted sequence once', async () => {
    await t.stopServer(); // the journal is the shard's alone while it runs
    const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
    try {
      const query = db.prepare<[string], { seq: number }>('SELECT sequence AS seq FROM signals WHERE subscription_id = ? ORDER BY sequence');
      for (const { s } of streams) expect(query.all(s.subscriptionId).map((r) => r.seq)).toEqual(range(1, acceptedCount + 1));
    } finally {
      db.close();
    }
  });
});
