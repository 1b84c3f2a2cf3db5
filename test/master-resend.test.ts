/**
 * What a correct master does when it resends (docs/protocol.md, "What a
 * correct master does after an outage"), against a real server:
 *
 * - its Welcome says the rate to pace at (the tighter of the connection's
 *   bucket and the subscription's limit);
 * - RATE_LIMITED for N refuses N and everything above it until N comes
 *   again, like BUSY: it never opens a gap;
 * - a byte-identical resend of an accepted signal is DUPLICATE however old
 *   it is; a signal never accepted and older than the TTL is STALE and
 *   moves nothing.
 * The TypeScript client's side: test/client-master-outage.test.ts.
 */
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { journalPathOf } from '../persistence/journal';
import type { DecodedFrame } from '@sigplane/protocol';
import { deliveredSequences, openMaster, openReceiver, send, sleep, states, waitForDeliveries } from './support/e2e';
import { v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';

let t: TestServer;
/** The subscription limit of this server: tighter in rate than some connections' buckets, looser in burst. */
const subscriptionLimit = { ratePerSecond: 2_000, burst: 100_000 };

beforeAll(async () => {
  t = await startTestServer({
    shardCount: 1,
    rateLimits: { upgradesPerIp: { ratePerSecond: 1e9, burst: 1e9 }, subscriptionSignals: subscriptionLimit },
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await t?.close();
});

/** The security events of a subscription in the (only) shard's journal, as committed now. */
function journaledCodes(subscriptionId: string): string[] {
  const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[string], { code: string }>('SELECT code FROM security_events WHERE subscription_id = ? ORDER BY journal_id').all(subscriptionId).map((r) => r.code);
  } finally {
    db.close();
  }
}

function welcomeOf(client: { frames: DecodedFrame[] }): Extract<DecodedFrame, { kind: 'welcome' }>['welcome'] {
  const frame = client.frames.find((f) => f.kind === 'welcome');
  if (frame?.kind !== 'welcome') throw new Error('no welcome');
  return frame.welcome;
}

describe('the Welcome tells a master its pacing', () => {
  it('is the tighter of the connection\'s bucket and the subscription\'s limit, each; receivers get 0', async () => {
    const s = await t.subscription({ settings: { rateLimitPerSecond: 5_000, rateLimitBurst: 300 } });
    const master = await openMaster(t, s);
    expect(welcomeOf(master)).toMatchObject({ role: 'master', signalsPerSecond: 2_000, signalsBurst: 300 });
    const receiver = await openReceiver(t, s.receiverToken, 0);
    await receiver.waitFor((f) => f.kind === 'welcome');
    expect(welcomeOf(receiver)).toMatchObject({ role: 'receiver', signalsPerSecond: 0, signalsBurst: 0 });
    await master.close();
    await receiver.close();
  });
});

describe('the server, on resends', () => {
  it('answers a byte-identical resend older than the TTL DUPLICATE (v1 and v2); a stale signal never accepted is STALE and moves nothing', async () => {
    const s = await t.subscription({ settings: { ttlMs: 5_000 } });
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    const T = Date.now();
    const first = v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1, { generatedAt: T }));
    const second = v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 2, { generatedAt: T }));
    expect(await send(master, first)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 1 });
    expect(await send(master, second)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 2 });

    // An hour later (the I/O thread reads this process's clock): both copies are far older than the TTL.
    vi.spyOn(Date, 'now').mockReturnValue(T + 3_600_000);
    expect(await send(master, first)).toEqual({ kind: 'ack', status: 'DUPLICATE', sequence: 1 });
    expect(await send(master, second)).toEqual({ kind: 'ack', status: 'DUPLICATE', sequence: 2 });
    // Other content under an accepted sequence, and signals never accepted: STALE, nothing held.
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2, { generatedAt: T, volume: 0.3 })))).toEqual({ kind: 'reject', code: 'STALE', sequence: 2 });
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 3, { generatedAt: T })))).toEqual({ kind: 'reject', code: 'STALE', sequence: 3 });
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 9, { generatedAt: T })))).toEqual({ kind: 'reject', code: 'STALE', sequence: 9 });
    vi.restoreAllMocks();
    // The shard's STALE is a security event as the I/O thread's was, journaled before it was sent.
    expect(journaledCodes(s.subscriptionId).filter((code) => code === 'STALE')).toHaveLength(3);

    // 3 is still next: a fresh one is accepted, and nothing was delivered twice.
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 3)))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 3 });
    expect(await waitForDeliveries(receiver, 3)).toEqual([1, 2, 3]);
    await sleep(100);
    expect(deliveredSequences(receiver)).toEqual([1, 2, 3]);
    expect(states(master)).toEqual([]);
    expect(t.server.stateOf(s.subscriptionId)).toBe('ACTIVE');
    await master.close();
    await receiver.close();
  });

  it('RATE_LIMITED for N refuses what follows N (BUSY, "resend from N") until N is resent: it opens no gap', async () => {
    // Three frames at once, then one a second; the clock is held, then moved on, to refill the bucket.
    const s = await t.subscription({ settings: { rateLimitPerSecond: 1, rateLimitBurst: 3 } });
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    const T = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(T);
    const signal = (n: number, key = s.macKey) => v2Frame(key, s.macKeyId, v2Body(s.subscriptionId, n, { generatedAt: T }));
    for (const n of [1, 2, 3]) expect(await send(master, signal(n))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: n });
    const from = master.frames.length;
    expect(await send(master, signal(4))).toEqual({ kind: 'reject', code: 'RATE_LIMITED', sequence: 4 });
    expect(master.frames.slice(from).map((f) => f.kind === 'reject' && f.reject.message)).toEqual(['rate limit exceeded, resend from 4']);

    vi.spyOn(Date, 'now').mockReturnValue(T + 5_000); // a full bucket again (three)
    // 5 would open a gap at 4: refused. A forged 4 does not lift the refusal.
    expect(await send(master, signal(5))).toEqual({ kind: 'reject', code: 'BUSY', sequence: 5 });
    expect(await send(master, signal(4, Buffer.alloc(32, 9)))).toEqual({ kind: 'reject', code: 'SIGNATURE_INVALID', sequence: 4 });
    expect(await send(master, signal(5))).toEqual({ kind: 'reject', code: 'BUSY', sequence: 5 });
    // Resent from 4, in order, once the bucket has refilled: both taken.
    vi.spyOn(Date, 'now').mockReturnValue(T + 10_000);
    expect(await send(master, signal(4))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 4 });
    expect(await send(master, signal(5))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 5 });
    vi.restoreAllMocks();

    expect(states(master)).toEqual([]);
    expect(master.ofKind('syncRequest')).toEqual([]);
    expect(await waitForDeliveries(receiver, 5)).toEqual([1, 2, 3, 4, 5]);
    await master.close();
    await receiver.close();
  });
});
