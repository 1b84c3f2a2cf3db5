/**
 * Issue 6, scenario 6: one master connection sends as fast as it can; it is
 * limited (RATE_LIMITED, by its connection's token bucket and its
 * subscription's limit) and, as it keeps sending past more than
 * wire.rateLimitedFramesPerSecondMax refusals in a second, closed with
 * 4029, while another subscription on the same
 * server (one shard, one I/O thread: nothing to hide behind) keeps receiving
 * every signal, in order.
 *
 * The other subscription's latency (master send -> receiver delivery, both
 * in this process) is measured without and with the flood and PRINTED, not
 * asserted: tests never assert timings (bench/ holds speed claims).
 * The flooder runs on its own thread (test/support/fault-flooder.ts); the
 * server is a real child process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rateLimits, safeInteger } from '@sigplane/protocol';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { openWelcomed, range, sleep } from '../support/e2e';
import { startFlooder } from '../support/fault-flooder';
import {
  killHard,
  newKek,
  scrapeMetrics,
  soak,
  startServerProcess,
  stopGracefully,
  storeFor,
  until,
  type ServerProcess,
} from '../support/fault-server-process';
import { subscribeFrame, v1Fields, v1Frame } from '../support/signals';
import { WireClient } from '../support/wire-client';

/** Signals of the measured subscription per phase, one every `paceMs`. */
const measuredSignals = soak ? 5_000 : 600;
const paceMs = 5;
/** Distinct flood frames (sequences 1..n of the flooding subscription); sent round and round. */
const floodFrames = 20_000;
const floodLimits = { rateLimitPerSecond: 200, rateLimitBurst: 400 };

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess | null = null;
const kek = newKek();

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-flood-'));
});
afterAll(async () => {
  if (server !== null) await killHard(server);
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Sends `count` signals from `first`, one per paceMs, and returns each one's send -> delivery latency (ms). */
async function measure(master: WireClient, receiver: WireClient, key: string, sub: string, first: number, count: number): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const onDelivery = (): void => {
    const now = performance.now();
    for (const f of receiver.frames.slice(-8)) {
      if (f.kind !== 'delivery') continue;
      const seq = safeInteger(f.delivery.sequenceNumber)!;
      const at = sentAt.get(seq);
      if (at !== undefined) {
        latencies.push(now - at);
        sentAt.delete(seq);
      }
    }
  };
  receiver.ws.on('message', onDelivery);
  // On a schedule: a late wake-up sends every signal that is due, so a
  // starved test process does not stretch the phase.
  const startedAt = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = startedAt + i * paceMs - performance.now();
    if (wait > 0) await sleep(wait);
    const seq = first + i;
    const frame = v1Frame(key, v1Fields(sub, seq));
    sentAt.set(seq, performance.now());
    master.send(frame);
  }
  await until('every measured signal to be delivered', () => latencies.length === count, 30_000, () => `${latencies.length} of ${count}`);
  receiver.ws.off('message', onDelivery);
  return latencies.sort((a, b) => a - b);
}

it('limits a flooding master while another subscription receives every signal in order', async () => {
  const store = storeFor(database.pool, dataDir, kek);
  // The flooder's connection limit is set low (200/s, burst 400) so that the
  // flood exceeds it however slowly a loaded machine lets the server read:
  // at the defaults (2,000/s) a starved server may never read fast enough
  // to empty the bucket, and nothing would be tested.
  const flood = await store.createSubscription({ name: 'flood' });
  await store.addAllowedIp(flood.subscriptionId, '127.0.0.1', {});
  await store.setSubscriptionSettings(flood.subscriptionId, floodLimits);
  // The measured subscription: its own pace is far under every limit.
  const calm = await store.createSubscription({ name: 'calm' });
  await store.addAllowedIp(calm.subscriptionId, '127.0.0.1', {});
  const calmReceiverToken = (await store.issueReceiverToken(calm.subscriptionId, {})).token;

  server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: kek, shards: 1, journalSync: 'normal' });
  const master = await openWelcomed(server.masterUrl, calm.masterToken);
  await master.waitFor((f) => f.kind === 'welcome');
  const receiver = await WireClient.open(server.receiverUrl, calmReceiverToken);
  receiver.send(subscribeFrame(0));
  await receiver.waitFor((f) => f.kind === 'welcome');

  // Warm-up (JIT, journal), then the unloaded baseline.
  await measure(master, receiver, calm.macSecretHex, calm.subscriptionId, 1, 100);
  const unloaded = await measure(master, receiver, calm.macSecretHex, calm.subscriptionId, 101, measuredSignals);

  const frames: Uint8Array[] = [];
  for (let seq = 1; seq <= floodFrames; seq++) frames.push(v1Frame(flood.macSecretHex, v1Fields(flood.subscriptionId, seq, { generatedAt: Date.now() })));
  const flooder = startFlooder({ url: server.masterUrl, token: flood.masterToken, frames });
  await flooder.started;
  await sleep(300); // the flood is on
  const loaded = await measure(master, receiver, calm.macSecretHex, calm.subscriptionId, 101 + measuredSignals, measuredSignals);
  const report = await flooder.stop(3_000);
  const total = 100 + 2 * measuredSignals;

  // The calm subscription: every signal acked, delivered once, in order, nothing refused.
  await until('the calm master to get every ack', () => master.ofKind('ack').length === total, 30_000);
  expect(master.ofKind('reject')).toEqual([]);
  const delivered = receiver.ofKind('delivery').map((f) => safeInteger(f.delivery.sequenceNumber));
  expect(delivered).toEqual(range(1, total));
  expect(receiver.closeCode).toBeNull();

  // The flooder was limited or closed, and let through no more than its limits allow.
  const seconds = report.elapsedMs / 1000;
  const perConnection = floodLimits.rateLimitBurst + floodLimits.rateLimitPerSecond * seconds;
  const perSubscription = rateLimits.subscriptionSignalsBurst + rateLimits.subscriptionSignalsPerSecond * seconds;
  const passed = report.accepted + report.duplicate + Object.entries(report.rejects).reduce((n, [code, k]) => (code === 'RATE_LIMITED' ? n : n + k), 0);
  console.log(
    `[flood] flooder: ${report.sent} sent in ${seconds.toFixed(1)} s, ${report.answers} answered: ${report.accepted} accepted, ${report.duplicate} duplicate, rejects ${JSON.stringify(report.rejects)}, close ${report.closeCode}; limit ${Math.floor(Math.min(perConnection, perSubscription))}`,
  );
  expect(report.rejects.RATE_LIMITED ?? 0).toBeGreaterThan(0);
  expect(report.closeCode).toBe(4029);
  expect(passed).toBeLessThanOrEqual(Math.min(perConnection, perSubscription) + 1);
  const metrics = await scrapeMetrics(server.port);
  // Counted in /metrics: at least what the flooder had read back when it stopped, at most what it sent.
  const limitedCounted = metrics.get('sigplane_rejects_total{code="RATE_LIMITED"}') ?? 0;
  expect(limitedCounted).toBeGreaterThanOrEqual(report.rejects.RATE_LIMITED ?? 0);
  expect(limitedCounted).toBeLessThanOrEqual(report.sent);
  expect(metrics.get('sigplane_policy_closes_total{reason="RATE_LIMITED"}')).toBe(1);
  // One security event per second of flooding, with the count, not one per refused frame.
  await until('the flood\'s security events to be shipped', async () => {
    const r = await database.pool.query<{ n: string }>("SELECT count(*) AS n FROM security_events WHERE code = 'RATE_LIMITED' AND subscription_id = $1", [flood.subscriptionId]);
    return Number(r.rows[0]!.n) > 0;
  }, 30_000);
  const events = await database.pool.query<{ n: string }>("SELECT count(*) AS n FROM security_events WHERE code = 'RATE_LIMITED' AND subscription_id = $1", [flood.subscriptionId]);
  expect(Number(events.rows[0]!.n)).toBeLessThanOrEqual(Math.ceil(seconds) + 2);

  const p = (xs: number[]): string => `p50 ${percentile(xs, 0.5).toFixed(2)} ms, p99 ${percentile(xs, 0.99).toFixed(2)} ms, max ${xs[xs.length - 1]!.toFixed(2)} ms`;
  const ratio = percentile(loaded, 0.99) / percentile(unloaded, 0.99);
  console.log(`[flood] calm subscription, ${measuredSignals} signals each: unloaded ${p(unloaded)}; under flood ${p(loaded)}; p99 ratio ${ratio.toFixed(2)} (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()})`);

  await Promise.all([master.close(), receiver.close()]);
  await stopGracefully(server);
  server = null;
}, soak ? 300_000 : 90_000);
