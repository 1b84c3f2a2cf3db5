/**
 * Issue 6, scenario 5 ("gap injection", the seed's sequence-gap DoS): a
 * client without the subscription's key sends frames that claim sequences
 * far beyond the last accepted one, in every form we can think of, plus a
 * seeded thousand of random forgeries. None may change state: no
 * StateChange, no SyncRequest, no journaled state row, the next genuine
 * signal is still last + 1. Then a genuine gap: DEGRADED, the master is
 * asked for exactly the missing range, resends it, ACTIVE, every receiver
 * whole and in order, and the journal holds DEGRADED then ACTIVE.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalPathOf } from '../../persistence/journal';
import { encodeFrame, rejectCodeName, safeInteger } from '@sigplane/protocol';
import { Prng } from '../support/prng';
import { answerFor, deliveredSequences, openMaster, openReceiver, range, send, sleep, states, waitForDeliveries } from '../support/e2e';
import { faultSeed, scrapeMetrics } from '../support/fault-server-process';
import { v1Fields, v1Frame, v2Body, v2Frame } from '../support/signals';
import { startTestServer, type TestServer, type TestSubscription } from '../support/test-server';
import type { WireClient } from '../support/wire-client';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

const randomForgeries = 1_000;

/** Journaled state rows of a subscription (the server must be stopped: the journal is its shard's alone). */
function journaledStates(subscriptionId: string): { state: string; sequence: number }[] {
  const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[string], { state: string; sequence: number }>('SELECT state, sequence FROM states WHERE subscription_id = ? ORDER BY journal_id')
      .all(subscriptionId);
  } finally {
    db.close();
  }
}

function rejectCodes(client: WireClient, from: number): string[] {
  return client.frames.slice(from).flatMap((f) => (f.kind === 'reject' ? [rejectCodeName(f.reject.code)] : []));
}

let victim: TestSubscription;
let genuine: TestSubscription;

describe('gap injection', () => {
  it('no forged frame, from any connection without the key, moves a subscription to DEGRADED', async () => {
    const seed = faultSeed('gap-injection');
    const random = new Prng(seed);
    victim = await t.subscription({ settings: { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 } });
    const attacker = await t.subscription({ settings: { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 } });
    const receiver = await openReceiver(t, victim.receiverToken, 0);
    const master = await openMaster(t, victim);
    const attackerMaster = await openMaster(t, attacker);
    const victimReceiverAsAttacker = await openReceiver(t, (await t.receiverToken(victim.subscriptionId)).token, 0);
    for (let seq = 1; seq <= 3; seq++) expect(await send(master, v1Frame(victim.macSecretHex, v1Fields(victim.subscriptionId, seq)))).toMatchObject({ status: 'ACCEPTED' });

    const far = 1_000;
    const sub = victim.subscriptionId;
    const genuineNext = v1Fields(sub, 4);
    const cases: { what: string; via: WireClient; frame: Uint8Array; code: string }[] = [
      { what: 'v1 signed with a guessed key', via: master, frame: v1Frame(Buffer.from('guessed key'), v1Fields(sub, far)), code: 'SIGNATURE_INVALID' },
      { what: "v1 signed with another subscription's key", via: master, frame: v1Frame(attacker.macSecretHex, v1Fields(sub, far)), code: 'SIGNATURE_INVALID' },
      { what: 'v1 with no signature', via: master, frame: v1Frame(victim.macSecretHex, v1Fields(sub, far), v1Fields(sub, far), ''), code: 'MALFORMED' },
      {
        what: "a genuine signature over sequence 4 with the sequence rewritten",
        via: master,
        frame: v1Frame(victim.macSecretHex, genuineNext, { ...genuineNext, sequence: far }),
        code: 'SIGNATURE_INVALID',
      },
      { what: 'v2 under an unknown key id', via: master, frame: v2Frame(attacker.macKey, 'k1-deadbeef', v2Body(sub, far)), code: 'UNKNOWN_KEY' },
      { what: "v2 under the victim's key id, MAC by another key", via: master, frame: v2Frame(attacker.macKey, victim.macKeyId, v2Body(sub, far)), code: 'SIGNATURE_INVALID' },
      {
        what: 'v2 with the body bytes changed after signing',
        via: master,
        frame: v2Frame(victim.macKey, victim.macKeyId, v2Body(sub, 4), (bytes) => {
          bytes[bytes.length - 1]! ^= 0x01;
          return bytes;
        }),
        code: 'SIGNATURE_INVALID',
      },
      {
        what: "another subscription's master, validly signing a signal that names the victim",
        via: attackerMaster,
        frame: v1Frame(attacker.macSecretHex, v1Fields(sub, far)),
        code: 'WRONG_SUBSCRIPTION',
      },
      { what: "a receiver of the victim sending a signal", via: victimReceiverAsAttacker, frame: v1Frame(Buffer.from('x'), v1Fields(sub, far)), code: 'UNSUPPORTED' },
    ];
    for (const c of cases) {
      const from = c.via.frames.length;
      c.via.send(c.frame);
      const answer = await c.via.waitFor((f) => f.kind === 'reject' || f.kind === 'ack', 10_000, from);
      expect(answer.kind === 'reject' ? rejectCodeName(answer.reject.code) : answer.kind, c.what).toBe(c.code);
    }
    // A receiver asking for a resync far ahead does not touch the master side either.
    victimReceiverAsAttacker.send(encodeFrame({ syncRequest: { fromSequence: far, toSequence: far + 10, full: false } }));

    // A seeded thousand: random sequences beyond the gap, random fields, random keys, v1 and v2.
    const masterFrom = master.frames.length;
    for (let i = 0; i < randomForgeries; i++) {
      const seq = random.int(5, 2 ** 40);
      const wrongKey = Buffer.from(Array.from({ length: 32 }, () => random.int(0, 255)));
      const fields = { volume: random.int(1, 10_000) / 100, price: random.int(1, 2_000_000) / 10_000, orderType: random.int(0, 8) };
      master.send(
        random.chance(0.5)
          ? v1Frame(random.chance(0.5) ? wrongKey : attacker.macSecretHex, v1Fields(sub, seq, fields))
          : v2Frame(wrongKey, random.chance(0.5) ? victim.macKeyId : `k1-${random.int(0, 0xffffff).toString(16)}`, v2Body(sub, seq, fields)),
      );
    }
    await master.waitFor(() => rejectCodes(master, masterFrom).length >= randomForgeries, 30_000);
    await sleep(50);
    const codes = rejectCodes(master, masterFrom);
    expect(codes.length).toBe(randomForgeries);
    expect(codes.filter((c) => c !== 'SIGNATURE_INVALID' && c !== 'UNKNOWN_KEY')).toEqual([]);

    // Nothing moved: no state change anywhere, no sync request, and 4 is still next.
    for (const client of [master, receiver, victimReceiverAsAttacker, attackerMaster]) expect(states(client)).toEqual([]);
    expect(master.ofKind('syncRequest')).toEqual([]);
    expect(await send(master, v1Frame(victim.macSecretHex, genuineNext))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 4 });
    expect(await waitForDeliveries(receiver, 4)).toEqual([1, 2, 3, 4]);
    const metrics = await scrapeMetrics(t.server.port);
    expect(metrics.get('sigplane_subscriptions{state="DEGRADED"}') ?? 0).toBe(0);
    expect(t.server.stateOf(sub)).toBe('ACTIVE');
    await Promise.all([master, receiver, victimReceiverAsAttacker, attackerMaster].map((c) => c.close()));
  });

  it('a genuine gap: DEGRADED, a sync request for exactly the missing range, the resend, ACTIVE, every receiver whole', async () => {
    genuine = await t.subscription();
    const second = await t.receiverToken(genuine.subscriptionId);
    const r1 = await openReceiver(t, genuine.receiverToken, 0);
    const r2 = await openReceiver(t, second.token, 0);
    const master = await openMaster(t, genuine);
    const frames = range(1, 12).map((seq) => v2Frame(genuine.macKey, genuine.macKeyId, v2Body(genuine.subscriptionId, seq)));
    for (const seq of [1, 2, 3]) expect(await send(master, frames[seq - 1]!)).toMatchObject({ status: 'ACCEPTED', sequence: seq });
    // The master's network loses 4..7: 8 and 9 arrive.
    master.send(frames[7]!);
    master.send(frames[8]!);
    const sync = await master.waitFor((f) => f.kind === 'syncRequest');
    expect(sync.kind === 'syncRequest' && [safeInteger(sync.syncRequest.fromSequence), safeInteger(sync.syncRequest.toSequence), sync.syncRequest.full]).toEqual([
      4, 7, false,
    ]);
    await r1.waitFor((f) => f.kind === 'stateChange');
    await r2.waitFor((f) => f.kind === 'stateChange');
    expect(t.server.stateOf(genuine.subscriptionId)).toBe('DEGRADED');
    await sleep(50);
    // Nothing past the gap leaves while DEGRADED, and nothing past it is acked yet.
    expect(deliveredSequences(r1)).toEqual([1, 2, 3]);
    expect(master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber))).toEqual([1, 2, 3]);
    // The master answers the sync request.
    for (const seq of [4, 5, 6, 7]) master.send(frames[seq - 1]!);
    for (const seq of [4, 5, 6, 7, 8, 9]) expect(await answerFor(master, seq)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
    for (const seq of [10, 11, 12]) master.send(frames[seq - 1]!);
    expect(await waitForDeliveries(r1, 12)).toEqual(range(1, 12));
    expect(await waitForDeliveries(r2, 12)).toEqual(range(1, 12));
    for (const client of [r1, r2, master]) expect(states(client)).toEqual(['DEGRADED', 'ACTIVE']);
    expect(t.server.stateOf(genuine.subscriptionId)).toBe('ACTIVE');
    // A receiver joining afterwards gets the same whole sequence.
    const late = await openReceiver(t, (await t.receiverToken(genuine.subscriptionId)).token, 0);
    expect(await waitForDeliveries(late, 12)).toEqual(range(1, 12));
    await Promise.all([master, r1, r2, late].map((c) => c.close()));
  });

  it('journals no state for the forged gaps and DEGRADED then ACTIVE for the genuine one', async () => {
    await t.stopServer();
    expect(journaledStates(victim.subscriptionId)).toEqual([]);
    expect(journaledStates(genuine.subscriptionId).map((r) => r.state)).toEqual(['DEGRADED', 'ACTIVE']);
  });
});
