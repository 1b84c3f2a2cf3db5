/**
 * Issue 6, scenario 10: masters whose clocks are skewed just inside and just
 * outside the TTL and the clock-skew allowance are accepted and refused
 * exactly at the boundary (docs/protocol.md: STALE when now - generated_at
 * > ttl, FUTURE when generated_at > now + clock_skew; exactly ttl old and
 * exactly clock_skew ahead are fresh).
 *
 * Making it deterministic: the server has no clock hook of its own (the
 * I/O thread reads Date.now() when a frame arrives, io/master-connection.ts).
 * The test server runs in this process, so
 *   1. "frozen": Date.now is pinned to an instant T while the frames are
 *      answered (a spy, not a fake server: the real I/O thread reads it).
 *      Every boundary is then exact to the millisecond: T - ttl accepted,
 *      T - ttl - 1 STALE, T + skew accepted, T + skew + 1 FUTURE.
 *   2. "real clock": two of the four boundaries are exact without pinning
 *      anything, because the server reads its clock after the client did
 *      (now_server >= now_client): generated_at = now_client - ttl - 1 is
 *      always STALE and now_client + skew always fresh. The other two need
 *      a margin for the transit time (now_server - now_client <= the
 *      measured round trip): the case is asserted only when the round trip
 *      was below the margin, and retried (up to 5 times) otherwise.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { subscriptionDefaults } from '@sigplane/protocol';
import { openMaster, send, type Answer } from '../support/e2e';
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
afterEach(() => {
  vi.restoreAllMocks();
});

type Version = 'v1' | 'v2';

function frame(s: TestSubscription, version: Version, sequence: number, generatedAt: number): Uint8Array {
  return version === 'v1'
    ? v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, sequence, { generatedAt }))
    : v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, sequence, { generatedAt }));
}

const settingsCases = [
  { name: 'defaults (ttl 60 s, skew 1 s)', settings: {} as Record<string, number> },
  { name: 'ttl 5 s, skew 250 ms', settings: { ttlMs: 5_000, clockSkewMs: 250 } },
  { name: 'ttl 1 ms, skew 0', settings: { ttlMs: 1, clockSkewMs: 0 } },
];

describe('clock boundaries, frozen server clock', () => {
  for (const { name, settings } of settingsCases) {
    for (const version of ['v1', 'v2'] as const) {
      it(`${version}, ${name}: exactly at ttl and skew accepted, one millisecond beyond refused`, async () => {
        const ttl = settings.ttlMs ?? subscriptionDefaults.ttlMs;
        const skew = settings.clockSkewMs ?? subscriptionDefaults.clockSkewMs;
        const s = await t.subscription({ settings });
        const master: WireClient = await openMaster(t, s);
        const T = Date.now();
        vi.spyOn(Date, 'now').mockReturnValue(T);
        // A master whose clock lags by more than the TTL, by exactly the TTL,
        // leads by exactly the skew allowance and by one millisecond more.
        const answers: Answer[] = [];
        answers.push(await send(master, frame(s, version, 1, T - ttl - 1)));
        answers.push(await send(master, frame(s, version, 1, T - ttl)));
        answers.push(await send(master, frame(s, version, 2, T + skew + 1)));
        answers.push(await send(master, frame(s, version, 2, T + skew)));
        // A refused signal moved nothing: 3 is next.
        answers.push(await send(master, frame(s, version, 3, T)));
        expect(answers).toEqual([
          { kind: 'reject', code: 'STALE', sequence: 1 },
          { kind: 'ack', status: 'ACCEPTED', sequence: 1 },
          { kind: 'reject', code: 'FUTURE', sequence: 2 },
          { kind: 'ack', status: 'ACCEPTED', sequence: 2 },
          { kind: 'ack', status: 'ACCEPTED', sequence: 3 },
        ]);
        vi.restoreAllMocks();
        await master.close();
      });
    }
  }
});

describe('clock boundaries, real clock', () => {
  /** Transit allowance for the two boundaries that depend on it (see the header). */
  const marginMs = 500;

  it('exact where the order of the clocks decides: ttl + 1 ms old is STALE, exactly skew ahead is fresh', async () => {
    for (const { settings } of settingsCases) {
      const ttl = settings.ttlMs ?? subscriptionDefaults.ttlMs;
      const skew = settings.clockSkewMs ?? subscriptionDefaults.clockSkewMs;
      // "skew ahead" must also not turn STALE in transit (ttl + skew of room): the 1 ms TTL is for the frozen clock only.
      if (ttl + skew < 10 * marginMs) continue;
      const s = await t.subscription({ settings });
      const master = await openMaster(t, s);
      for (let i = 0; i < 20; i++) {
        expect(await send(master, frame(s, i % 2 === 0 ? 'v1' : 'v2', 1, Date.now() - ttl - 1))).toEqual({ kind: 'reject', code: 'STALE', sequence: 1 });
      }
      for (let seq = 1; seq <= 20; seq++) {
        expect(await send(master, frame(s, seq % 2 === 0 ? 'v1' : 'v2', seq, Date.now() + skew))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
      }
      await master.close();
    }
  });

  it(`within a ${marginMs} ms transit margin: ttl - margin old is fresh, skew + margin ahead is FUTURE`, async () => {
    const s = await t.subscription({ settings: { ttlMs: 5_000, clockSkewMs: 250 } });
    const master = await openMaster(t, s);
    let sequence = 1;
    let decided = 0;
    for (let attempt = 0; decided < 20 && attempt < 100; attempt++) {
      const fresh = attempt % 2 === 0;
      const sentAt = Date.now();
      const generatedAt = fresh ? sentAt - 5_000 + marginMs : sentAt + 250 + marginMs;
      const answer = await send(master, frame(s, 'v2', sequence, generatedAt));
      const roundTripMs = Date.now() - sentAt;
      // Past the margin the server's clock may have passed the boundary: undecided, try again.
      if (roundTripMs < marginMs) {
        decided++;
        if (fresh) expect(answer).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence });
        else expect(answer).toEqual({ kind: 'reject', code: 'FUTURE', sequence });
      }
      if (answer.kind === 'ack') sequence++;
    }
    expect(decided).toBe(20);
    await master.close();
  });
});
