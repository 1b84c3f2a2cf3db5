/**
 * A connection that keeps sending past its RATE_LIMITED answers is closed
 * (4029), and its token is refused at the upgrade for the cool-down
 * (429 RATE_LIMITED, Retry-After): a flooder cannot buy a fresh bucket by
 * reconnecting. Other tokens of the subscription are not held back.
 * (The flood's effect on other subscriptions: test/faults/flood.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire, rejectCodeName } from '@sigplane/protocol';
import { openMaster, openReceiver, range } from './support/e2e';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient } from './support/wire-client';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

describe('closing a flood', () => {
  it('closes the flooding connection 4029 and refuses its token for the cool-down; other tokens connect', async () => {
    const s = await t.subscription({ settings: { rateLimitPerSecond: 10, rateLimitBurst: 10 } });
    const master = await openMaster(t, s);
    const frames = range(1, wire.rateLimitedFramesPerSecondMax + 500).map((sequence) => v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, sequence)));
    for (const frame of frames) master.send(frame);
    expect(await master.waitForClose(10_000)).toBe(4029);
    // A frame that found a token again is answered BUSY instead (it follows a RATE_LIMITED one: refused from there).
    const limited = master.ofKind('reject').filter((f) => rejectCodeName(f.reject.code) === 'RATE_LIMITED').length;
    // At most the window's worth of RATE_LIMITED answers, then the close: the rest were never answered.
    expect(limited).toBeGreaterThan(0);
    expect(limited).toBeLessThanOrEqual(wire.rateLimitedFramesPerSecondMax);

    const again = await WireClient.connect(t.masterUrl, s.masterToken);
    expect(again instanceof WireClient).toBe(false);
    if (again instanceof WireClient) return;
    expect([again.status, JSON.parse(again.body)]).toEqual([429, { code: 'RATE_LIMITED' }]);
    const retryAfter = Number(again.headers?.['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(wire.floodCooldownMs / 1000);

    const receiver = await openReceiver(t, s.receiverToken, 0);
    expect(receiver.closeCode).toBeNull();
    await receiver.close();
    expect(t.server.metrics.render()).toMatch(/sigplane_policy_closes_total\{reason="RATE_LIMITED"\} 1/);
  });
});
