/**
 * Issue 15, item 2: a full disk must not kill the shard for good.
 *
 * The data folder is a small tmpfs of its own, a real server process
 * (`node dist/cli/main.js serve`) serves it, and the SDK's master publishes
 * under load while a ballast file leaves the journal little room. Then the
 * ballast is deleted and the same process, never restarted, must accept
 * again by itself.
 *
 * - Disk full (no reserve): the journal write that finds no space is
 *   answered BUSY, nothing it held is acked, /readyz says "journal disk
 *   full"; once space returns the shard is back, /readyz is 200, every
 *   publish is acked and the receiver executes each signal once, in order.
 * - Reserve: new signals are refused BUSY below the reserve, before the disk
 *   is full, without closing anyone; /readyz says "journal disk low"; freed
 *   space lets them in again.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterClient, ReceiverClient, type PublishResult } from '@sigplane/client';
import type { SigplaneClientError } from '../../client/errors';
import { journalPathOf } from '../../persistence/journal';
import { range } from '../support/e2e';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { killHard, newKek, scrapeMetrics, startServerProcess, storeFor, until, type ServerProcess } from '../support/fault-server-process';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs';

const mebibyte = 1024 * 1024;
const fast = { minMs: 20, maxMs: 200 };
/** Publishes unanswered at a time: enough load to fill a few MiB in seconds. */
const inFlightMax = 64;

let database: TestDatabase;
const kek = newKek();
const mounts: Tmpfs[] = [];
let server: ServerProcess | null = null;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  if (server !== null) await killHard(server);
  server = null;
});
afterAll(async () => {
  for (const m of mounts.splice(0)) m.unmount();
  await database?.drop();
});

interface ReadyzBody {
  ready: boolean;
  reasons: string[];
  journalDisk?: string;
  journalDiskFreeBytes?: number;
  journalDiskReserveBytes?: number;
}

async function readyz(port: number): Promise<{ status: number; body: ReadyzBody }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyzBody };
}

/** Waits until /readyz is 503 giving `reason`. */
function untilNotReady(target: ServerProcess, reason: string, detail: () => string): Promise<void> {
  return until(
    `/readyz to say "${reason}"`,
    async () => {
      const r = await readyz(target.port);
      return r.status === 503 && r.body.reasons.includes(reason);
    },
    30_000,
    () => `${detail()}; ${target.stderr().slice(-3000)}`,
  );
}

/** The sequences shard 0's journal holds for the subscription, read from the file itself. */
function journaledSequences(dataDir: string, subscriptionId: string): Set<number> {
  const db = new Database(journalPathOf(dataDir, 0), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT sequence FROM signals WHERE subscription_id = ?').pluck().all(subscriptionId) as number[];
    return new Set(rows);
  } finally {
    db.close();
  }
}

async function subscription(dataDir: string): Promise<{ subscriptionId: string; masterToken: string; macKeyId: string; macKey: Buffer; receiverToken: string }> {
  const store = storeFor(database.pool, dataDir, kek);
  const created = await store.createSubscription({ name: `disk-${path.basename(dataDir)}` });
  await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  // Load, not a rate-limit test.
  await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 });
  const receiverToken = (await store.issueReceiverToken(created.subscriptionId, {})).token;
  return { ...created, macKey: Buffer.from(created.macSecretHex, 'hex'), receiverToken };
}

/** The SDK's master and receiver on one subscription, and a publisher keeping inFlightMax signals unanswered until stopped. */
async function clients(s: Awaited<ReturnType<typeof subscription>>, target: ServerProcess) {
  const executed: number[] = [];
  const receiverCloses: number[] = [];
  const receiver = new ReceiverClient();
  cleanups.push(() => receiver.close());
  await receiver.connect(target.receiverUrl, s.receiverToken, {
    lastSequence: 0,
    reconnect: fast,
    onSignal: (d) => void executed.push(d.sequenceNumber),
    onSnapshot: () => {
      throw new Error('a snapshot: the receiver should have been sent the deliveries');
    },
    onClose: (code) => void receiverCloses.push(code),
  });

  const master = new MasterClient();
  cleanups.push(() => master.close());
  const acked: number[] = [];
  const busy: number[] = [];
  const otherRejects: string[] = [];
  const masterCloses: number[] = [];
  master.on('ack', (a: PublishResult) => void acked.push(a.sequence));
  master.on('reject', (e: SigplaneClientError) => {
    if (e.code === 'BUSY') busy.push(Number(e.sequence));
    else otherRejects.push(`${e.code}: ${e.message}`);
  });
  await master.connect(target.masterUrl, s.masterToken, {
    signing: { version: 2, keyId: s.macKeyId, key: s.macKey },
    reconnect: fast,
    onClose: (code) => void masterCloses.push(code),
  });

  const published: Promise<PublishResult>[] = [];
  let inFlight = 0;
  let publishing = true;
  let wake: (() => void) | null = null;
  const load = (async () => {
    let count = 0;
    while (publishing) {
      if (inFlight >= inFlightMax) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      inFlight++;
      // Open a position, then close it: the book never fills.
      count++;
      const result = master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765, action: count % 2 === 1 ? 1 : 3, positionId: Math.ceil(count / 2) });
      published.push(result);
      result.catch(() => undefined); // a failure is reported by stop()
      void result.finally(() => {
        inFlight--;
        wake?.();
        wake = null;
      }).catch(() => undefined);
      if (published.length % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  cleanups.push(async () => {
    publishing = false;
    wake?.();
    await load;
  });
  return {
    receiver,
    executed,
    receiverCloses,
    master,
    acked,
    busy,
    otherRejects,
    masterCloses,
    published,
    /** Stops publishing new signals; resolves with every publish's result once all are answered. */
    async stop(timeoutMs: number): Promise<PublishResult[]> {
      publishing = false;
      wake?.();
      await load;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`publishes unanswered after ${timeoutMs} ms (outbox ${master.outboxSize})`)), timeoutMs);
      });
      try {
        return await Promise.race([Promise.all(published), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function mount(sizeBytes: number, prefix: string): Tmpfs {
  const m = mountTmpfs(sizeBytes, prefix);
  mounts.push(m);
  return m;
}

describe('journal disk', () => {
  it('full disk: answers BUSY and acks nothing unjournaled, /readyz says why; when space returns the shard accepts again without a restart and nothing is lost or delivered twice', async () => {
    const disk = mount(4 * mebibyte, 'sigplane-disk-full-');
    const s = await subscription(disk.dir);
    // No reserve: the disk really fills and the journal's own write fails.
    server = await startServerProcess({ databaseUrl: database.url, dataDir: disk.dir, kekBase64: kek, shards: 1, env: { SIGPLANE_JOURNAL_DISK_RESERVE: '0' } });
    const target = server;
    const c = await clients(s, target);
    await until('the first acks', () => c.acked.length > 100, 30_000);
    disk.fill(mebibyte);

    await untilNotReady(target, 'journal disk full', () => `acked ${c.acked.length}, busy ${c.busy.length}, free ${disk.freeBytes()}`);
    const full = await readyz(target.port);
    expect(full.body.journalDisk).toBe('full');
    expect(full.body.journalDiskFreeBytes).toBeLessThan(mebibyte);
    // What the journal could not take is answered BUSY, and keeps being answered so while the disk is full...
    await until('a BUSY answer', () => c.busy.length > 0, 10_000);
    const busyAtFull = c.busy.length;
    await until('BUSY answers to the master resending', () => c.busy.length > busyAtFull + 5, 10_000);
    // ...by a shard that waits for space instead of restarting in a loop.
    expect((await scrapeMetrics(target.port)).get('sigplane_shard_restarts_total')).toBe(0);
    expect((await readyz(target.port)).body.reasons).toContain('journal disk full');
    const journaled = journaledSequences(disk.dir, s.subscriptionId);
    const ackedWhileFull = [...c.acked];
    expect(ackedWhileFull.length).toBeGreaterThan(100);
    expect(ackedWhileFull.filter((seq) => !journaled.has(seq))).toEqual([]);

    // Space back: the same process takes signals again by itself.
    disk.free();
    const freedAtMs = Date.now();
    await until(
      '/readyz to be ready again',
      async () => (await readyz(target.port)).status === 200,
      30_000,
      () => `${JSON.stringify(full.body)}; ${target.stderr().slice(-3000)}`,
    );
    const readyAfterMs = Date.now() - freedAtMs;
    const ackedBeforeRecovery = c.acked.length;
    await until('acks after the recovery', () => c.acked.length > ackedBeforeRecovery + 100, 30_000);
    const results = await c.stop(60_000);
    const n = results.length;
    expect(results.map((r) => r.sequence)).toEqual(range(1, n));
    expect(c.otherRejects).toEqual([]);
    expect(target.child.exitCode).toBeNull(); // the same process throughout
    // Every acked signal is journaled, and the receiver executes 1..n once each, across the shard's restart.
    const after = journaledSequences(disk.dir, s.subscriptionId);
    expect(range(1, n).filter((seq) => !after.has(seq))).toEqual([]);
    await c.receiver.waitFor(n, 30_000);
    expect(c.executed).toEqual(range(1, n));
    expect(c.receiver.duplicatesIgnored).toBe(0);
    const metrics = await scrapeMetrics(target.port);
    expect(metrics.get('sigplane_journal_disk_free_bytes')).toBeGreaterThan(mebibyte);
    console.log(
      `[disk-full] ${ackedWhileFull.length} acked before the disk filled, ${c.busy.length} BUSY answers, ${n} signals in all; ` +
        `shard restarts ${metrics.get('sigplane_shard_restarts_total')}; master closes ${JSON.stringify(c.masterCloses)}; /readyz 200 again ${readyAfterMs} ms after the space came back`,
    );
  });

  it('reserve: below it new signals are refused BUSY before the disk is full, nobody is closed, /readyz says why; freed space lets them in again', async () => {
    const disk = mount(16 * mebibyte, 'sigplane-disk-low-');
    const s = await subscription(disk.dir);
    const reserveBytes = 4 * mebibyte;
    server = await startServerProcess({ databaseUrl: database.url, dataDir: disk.dir, kekBase64: kek, shards: 1, env: { SIGPLANE_JOURNAL_DISK_RESERVE: '4MiB' } });
    const target = server;
    const c = await clients(s, target);
    await until('the first acks', () => c.acked.length > 100, 30_000);
    // Room for about 2 MiB of journal above the reserve (and its hysteresis).
    disk.fill(reserveBytes + 2 * mebibyte);

    await untilNotReady(target, 'journal disk low', () => `acked ${c.acked.length}, busy ${c.busy.length}, free ${disk.freeBytes()}`);
    await until('BUSY answers', () => c.busy.length > 0, 10_000);
    const low = await readyz(target.port);
    expect(low.body.journalDisk).toBe('low');
    expect(low.body.journalDiskReserveBytes).toBe(reserveBytes);
    expect(low.body.journalDiskFreeBytes).toBeLessThan(reserveBytes);
    // Refused before the disk was full: the journal never failed, the shard never restarted, nobody was closed.
    expect(disk.freeBytes()).toBeGreaterThan(mebibyte);
    const lowMetrics = await scrapeMetrics(target.port);
    expect(lowMetrics.get('sigplane_shard_restarts_total')).toBe(0);
    expect(lowMetrics.get('sigplane_journal_disk_refusals_total')).toBeGreaterThan(0);
    const journaled = journaledSequences(disk.dir, s.subscriptionId);
    expect(c.acked.filter((seq) => !journaled.has(seq))).toEqual([]);

    disk.free();
    await until('/readyz to be ready again', async () => (await readyz(target.port)).status === 200, 30_000, () => target.stderr().slice(-3000));
    const ackedBeforeRecovery = c.acked.length;
    await until('acks after the recovery', () => c.acked.length > ackedBeforeRecovery + 100, 30_000);
    const results = await c.stop(60_000);
    const n = results.length;
    expect(results.map((r) => r.sequence)).toEqual(range(1, n));
    expect(results.every((r) => r.status === 'ACCEPTED')).toBe(true);
    expect(c.otherRejects).toEqual([]);
    expect(c.masterCloses).toEqual([]);
    expect(c.receiverCloses).toEqual([]);
    await c.receiver.waitFor(n, 30_000);
    expect(c.executed).toEqual(range(1, n));
    expect(c.receiver.duplicatesIgnored).toBe(0);
    console.log(`[disk-low] ${c.busy.length} BUSY answers below the reserve, ${n} signals in all, free at the refusal ${low.body.journalDiskFreeBytes}`);
  });
});
