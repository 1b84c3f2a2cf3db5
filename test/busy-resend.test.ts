/**
 * A full ring answers BUSY, and BUSY never opens a gap. With 4 KiB rings a
 * burst of signals overflows the shard's inbound ring. The server then
 * refuses everything above the first BUSY sequence from that connection
 * until it is resent ("resend from N"), so the subscription stays ACTIVE;
 * the client waits out the refused burst, backs off, and sends again from
 * N within a halved window (client/busy-window.ts): every publish ends
 * ACCEPTED, each signal delivered once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterClient, ReceiverClient, type PublishResult } from '@sigplane/client';
import { rejectCodeName, safeInteger, stateName } from '@sigplane/protocol';
import { openMaster, range } from './support/e2e';
import { scrapeMetrics } from './support/fault-server-process';
import { v2Body, v2Frame } from './support/signals';
import { skipReport } from './support/reports';
import { startTestServer, type TestServer } from './support/test-server';

let t: TestServer;
const unlimited = { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 };

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1, ringBytes: 4096 });
});
afterAll(async () => {
  await t?.close();
});

async function busyRejects(): Promise<number> {
  return (await scrapeMetrics(Number(new URL(t.url).port))).get('sigplane_busy_rejects_total') ?? 0;
}

describe('BUSY (a full ring)', () => {
  it('refuses every signal above the first BUSY one until it is resent: what was taken is a prefix, and the subscription stays ACTIVE', async () => {
    const s = await t.subscription({ settings: unlimited });
    const master = await openMaster(t, s);
    const busyBefore = await busyRejects();
    const count = 2_000;
    for (const sequence of range(1, count)) master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, sequence)));
    await master.waitFor(() => master.ofKind('ack').length + master.ofKind('reject').length >= count, 20_000);

    const acked = master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber));
    const rejects = master.ofKind('reject');
    expect(rejects.length, 'the burst overflowed the ring').toBeGreaterThan(0);
    expect(new Set(rejects.map((f) => rejectCodeName(f.reject.code)))).toEqual(new Set(['BUSY']));
    expect(rejects.every((f) => /^engine busy, resend from \d+$/.test(f.reject.message))).toBe(true);
    // Taken: exactly 1..m, in order; refused: exactly m+1..count.
    expect(acked).toEqual(range(1, acked.length));
    expect(rejects.map((f) => safeInteger(f.reject.sequenceNumber))).toEqual(range(acked.length + 1, count));
    expect(await busyRejects()).toBeGreaterThan(busyBefore);

    // The resend goes in, and continues the sequence.
    const resendFrom = acked.length + 1;
    const answersBefore = master.frames.length;
    master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, resendFrom)));
    const answer = await master.waitFor((f) => f.kind === 'ack' || f.kind === 'reject', 10_000, answersBefore);
    expect(answer.kind).toBe('ack');
    expect(master.ofKind('stateChange').map((f) => stateName(f.stateChange.state))).not.toContain('DEGRADED');
    await master.close();
  });

  it('while refused from N, a signal claiming a sequence above N is answered BUSY before its MAC is checked; N itself is checked in full', async () => {
    const s = await t.subscription({ settings: unlimited });
    const master = await openMaster(t, s);
    const count = 2_000;
    for (const sequence of range(1, count)) master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, sequence)));
    await master.waitFor(() => master.ofKind('ack').length + master.ofKind('reject').length >= count, 20_000);
    const resendFrom = master.ofKind('ack').length + 1;
    expect(resendFrom, 'the burst overflowed the ring').toBeLessThanOrEqual(count);
    const forgedKey = Buffer.alloc(s.macKey.length, 7);
    const answer = async (frame: Uint8Array) => {
      const from = master.frames.length;
      master.send(frame);
      return master.waitFor((f) => f.kind === 'ack' || f.kind === 'reject', 10_000, from);
    };

    const above = await answer(v2Frame(forgedKey, s.macKeyId, v2Body(s.subscriptionId, resendFrom + 5)));
    expect(above.kind === 'reject' && rejectCodeName(above.reject.code)).toBe('BUSY');
    expect(above.kind === 'reject' && above.reject.message).toBe(`engine busy, resend from ${resendFrom}`);
    expect(above.kind === 'reject' && safeInteger(above.reject.sequenceNumber)).toBe(resendFrom + 5);

    const atN = await answer(v2Frame(forgedKey, s.macKeyId, v2Body(s.subscriptionId, resendFrom)));
    expect(atN.kind === 'reject' && rejectCodeName(atN.reject.code)).toBe('SIGNATURE_INVALID');

    const resent = await answer(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, resendFrom)));
    expect(resent.kind).toBe('ack');
    expect(resent.kind === 'ack' && safeInteger(resent.ack.sequenceNumber)).toBe(resendFrom);
    await master.close();
  });

  it('the client resends after BUSY: every publish of a burst is ACCEPTED and delivered once, in order', async () => {
    const s = await t.subscription({ settings: unlimited });
    const delivered: number[] = [];
    const receiver = new ReceiverClient();
    await receiver.connect(t.receiverUrl, s.receiverToken, {
      lastSequence: 0,
      reconnect: false,
      onSignal: (d) => void delivered.push(d.sequenceNumber),
      onSnapshot: () => undefined,
    });
    const master = new MasterClient();
    const states: string[] = [];
    const busy: number[] = [];
    master.on('state', (x: { state: string }) => states.push(x.state));
    master.on('reject', (e: { code: string; sequence?: number | string }) => {
      if (e.code === 'BUSY') busy.push(Number(e.sequence));
    });
    await master.connect(t.masterUrl, s.masterToken, { signing: { version: 1, secret: s.macSecretHex }, reconnect: false });
    try {
      const results: PublishResult[] = [];
      for (let round = 0; round < 4; round++) {
        const burst = range(1, 1_000).map(() => master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765 }));
        results.push(...(await Promise.all(burst)));
      }
      expect(busy.length, 'the bursts overflowed the ring').toBeGreaterThan(0);
      expect(results.map((r) => r.sequence)).toEqual(range(1, 4_000));
      expect(results.every((r) => r.status === 'ACCEPTED' || r.status === 'DUPLICATE')).toBe(true);
      await receiver.waitFor(4_000, 20_000);
      expect(delivered).toEqual(range(1, 4_000));
      expect(states).not.toContain('DEGRADED');
    } finally {
      await master.close();
      await receiver.close();
    }
  });
  it('execution reports answered BUSY are sent again on the same connection until all are taken', async () => {
    const s = await t.subscription({ settings: unlimited });
    const master = await openMaster(t, s);
    master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 1)));
    await master.waitFor((f) => f.kind === 'ack', 10_000);
    const receiver = new ReceiverClient();
    const rejects: string[] = [];
    receiver.on('reject', (e: { code: string }) => rejects.push(e.code));
    await receiver.connect(t.receiverUrl, s.receiverToken, { lastSequence: 0, onSignal: () => undefined, onSnapshot: () => undefined });
    await receiver.waitFor(1, 10_000);
    const count = 400;
    for (const n of range(1, count)) {
      receiver.sendExecutionReport(skipReport(1, `r${n}`));
    }
    const until = Date.now() + 30_000;
    while (receiver.unackedReportCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(rejects, 'the burst overflowed the ring').toContain('BUSY');
    expect(receiver.unackedReportCount).toBe(0);
    expect(receiver.counters).toMatchObject({ reportsAcked: count, reportsRefused: 0, reportsDropped: 0, sessions: 1 });
    await receiver.close();
    await master.close();
  });
});
