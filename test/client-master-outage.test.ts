/**
 * The TypeScript MasterClient after an outage, against a real server
 * through a proxy the test takes down and brings back (docs/protocol.md,
 * "What a correct master does after an outage"):
 *
 * - it resends a backlog of thousands paced at the rate its Welcome gives:
 *   not one RATE_LIMITED, no 4029 close, each signal landing once, in order;
 * - when a resent signal comes back STALE (never accepted, too old to
 *   execute) it drops its outbox and sends a signed snapshot at its last
 *   sequence: the subscription ends ACTIVE, the receivers holding the
 *   master's positions, and publishing continues after it.
 * The server's side: test/master-resend.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterClient, ReceiverClient, SigplaneClientError, type MasterSigning, type MasterSnapshot, type PublishResult } from '@sigplane/client';
import type { Position } from '@sigplane/protocol';
import { freeLocalPort } from '../persistence/pg/free-port';
import { deliveredSequences, openReceiver, range, sleep, waitForDeliveries } from './support/e2e';
import { TcpProxy } from './support/tcp-proxy';
import { startTestServer, type TestServer } from './support/test-server';

let t: TestServer;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});
afterAll(async () => {
  await t?.close();
});

/** A MasterClient through a proxy the test can take down and bring back (an outage). */
async function masterBehindProxy(
  s: { masterToken: string },
  signing: MasterSigning,
  options: { outboxSignalsMax?: number; clock?: () => number; snapshotProvider?: (last: number) => MasterSnapshot } = {},
): Promise<{ client: MasterClient; proxy: TcpProxy; rejects: SigplaneClientError[]; closes: number[]; states: string[]; errors: SigplaneClientError[] }> {
  const proxy = new TcpProxy(await freeLocalPort(), { host: '127.0.0.1', port: t.server.port });
  await proxy.listen();
  const client = new MasterClient();
  const observed = { client, proxy, rejects: [] as SigplaneClientError[], closes: [] as number[], states: [] as string[], errors: [] as SigplaneClientError[] };
  client.on('reject', (e: SigplaneClientError) => observed.rejects.push(e));
  client.on('close', (code: number) => observed.closes.push(code));
  client.on('state', (x: { state: string }) => observed.states.push(x.state));
  client.on('error', (e: SigplaneClientError) => observed.errors.push(e));
  closers.push(() => proxy.close(), () => client.close());
  await client.connect(`ws://127.0.0.1:${proxy.port}/v1/master`, s.masterToken, {
    signing,
    reconnect: { minMs: 20, maxMs: 100 },
    outboxSignalsMax: options.outboxSignalsMax,
    clock: options.clock,
    snapshotProvider: options.snapshotProvider,
  });
  return observed;
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('the TypeScript client after an outage', () => {
  it('resends a backlog of thousands paced at the welcome\'s rate: never RATE_LIMITED nor closed 4029, each signal once, in order', async () => {
    const backlog = 5_000;
    // 1,500 a second with a burst of 1,000: sent at once, the backlog would be refused after the first thousand.
    const s = await t.subscription({ settings: { rateLimitPerSecond: 1_500, rateLimitBurst: 1_000 } });
    // A receiver on the wire that sends no acks: the subscription's per-connection limit applies to receivers too.
    const receiver = await openReceiver(t, s.receiverToken, 0);
    closers.push(() => receiver.close());
    const m = await masterBehindProxy(s, { version: 1, secret: s.macSecretHex }, { outboxSignalsMax: backlog + 10 });
    expect(m.client.welcome).toMatchObject({ signalsPerSecond: 1_500, signalsBurst: 1_000 });
    const order = (n: number) => ({ symbol: 'EURUSD', orderType: n % 2, volume: 0.1, price: 1.08765 });
    expect(await m.client.publish(order(1))).toEqual({ sequence: 1, status: 'ACCEPTED' });

    await m.proxy.close(); // the outage: the connection is cut and reconnects are refused
    await until(() => !m.client.isReady, 'the disconnect');
    const published: Promise<PublishResult>[] = range(2, backlog + 1).map((n) => m.client.publish(order(n)));
    await sleep(300);
    expect(m.client.outboxSize).toBe(backlog);
    await m.proxy.listen(); // back

    const results = await Promise.all(published);
    expect(results.map((r) => r.sequence)).toEqual(range(2, backlog + 1));
    expect(results.every((r) => r.status === 'ACCEPTED')).toBe(true);
    expect(m.rejects.map((e) => e.code)).toEqual([]);
    expect(m.closes.filter((code) => code === 4029)).toEqual([]);
    await waitForDeliveries(receiver, backlog + 1, 30_000);
    await sleep(100);
    expect(deliveredSequences(receiver)).toEqual(range(1, backlog + 1));
    expect(m.states).not.toContain('DEGRADED');
  });

  it('on STALE drops its outbox and sends a signed snapshot at its last sequence: the subscription ends ACTIVE, receivers hold the master\'s positions', async () => {
    const ttlMs = 10_000;
    const s = await t.subscription({ settings: { ttlMs } });
    // The application: what it opened is what it holds (the snapshot provider reads it).
    const held = new Map<string, Position>();
    const open = (n: number) => ({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765, action: 1, positionId: 100 + n });
    const positionOf = (sequence: number, positionId: number): Position => ({
      positionId: String(positionId), symbol: 'EURUSD', orderType: 0, volume: 0.1, openPrice: 1.08765, stopLoss: 0, takeProfit: 0, magic: '0', openedSequence: sequence,
    });
    const provided: number[] = [];
    // The client's clock stamps generatedAt: during the outage it is first far behind (signals the server will find too old), then right.
    let lagMs = 0;
    const receiverPositions = new Map<string, number>();
    const snapshots: number[] = [];
    const delivered: number[] = [];
    const receiver = new ReceiverClient();
    closers.push(() => receiver.close());
    await receiver.connect(t.receiverUrl, s.receiverToken, {
      lastSequence: 0,
      onSignal: (d) => {
        delivered.push(d.sequenceNumber);
        if (d.signal.action === 1) receiverPositions.set(d.signal.positionId, d.sequenceNumber);
      },
      onSnapshot: (snap) => {
        snapshots.push(snap.sequenceNumber);
        receiverPositions.clear();
        for (const p of snap.positions) receiverPositions.set(p.positionId, p.openedSequence);
      },
    });
    const m = await masterBehindProxy(
      s,
      { version: 2, keyId: s.macKeyId, key: s.macKey },
      {
        clock: () => Date.now() - lagMs,
        snapshotProvider: (last) => {
          provided.push(last);
          return { sequence: last, positions: [...held.values()] };
        },
      },
    );
    const publish = (n: number): Promise<PublishResult> => {
      held.set(String(100 + n), positionOf(n, 100 + n));
      return m.client.publish(open(n));
    };
    for (const n of [1, 2, 3]) expect(await publish(n)).toEqual({ sequence: n, status: 'ACCEPTED' });

    await m.proxy.close();
    await until(() => !m.client.isReady, 'the disconnect');
    lagMs = 2 * ttlMs;
    const stale = range(4, 10).map((n) => publish(n).then((r) => r, (e: SigplaneClientError) => e));
    lagMs = 0;
    const fresh = range(11, 20).map((n) => publish(n).then((r) => r, (e: SigplaneClientError) => e));
    await m.proxy.listen();

    const outcomes = await Promise.all([...stale, ...fresh]);
    expect(outcomes.map((o) => (o instanceof SigplaneClientError ? o.code : o.status))).toEqual([
      'STALE',
      ...range(5, 20).map(() => 'SUPERSEDED_BY_SNAPSHOT'),
    ]);
    expect(m.client.outboxSize).toBe(0);
    expect(provided).toEqual([20]);

    // Publishing continues after the snapshot, from 21.
    expect(await publish(21)).toEqual({ sequence: 21, status: 'ACCEPTED' });
    await receiver.waitFor(21, 10_000);
    await until(() => t.server.stateOf(s.subscriptionId) === 'ACTIVE' && receiverPositions.size === 21, 'ACTIVE and 21 positions');
    expect(snapshots).toEqual([20]);
    expect(delivered).toEqual([1, 2, 3, 21]);
    expect([...receiverPositions].sort((a, b) => a[1] - b[1])).toEqual(range(1, 21).map((n) => [String(100 + n), n]));
    expect(m.errors).toEqual([]);
    expect(m.rejects.filter((e) => e.code === 'RATE_LIMITED')).toEqual([]);
  });
});
