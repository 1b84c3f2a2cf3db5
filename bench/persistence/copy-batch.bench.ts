/**
 * Shipping journal rows to Postgres (persistence/shipper/):
 *
 * - benny, per batch: one whole shipping transaction of N new signals
 *   (lock the watermark, binary COPY straight into `signals` in a
 *   savepoint, advance the watermark, COMMIT; ship-batch.ts), rows from
 *   memory, for N = 500 and 5000 (shipBatchRowsMax); against the baseline
 *   of the same transaction with multi-row parameterized INSERTs (1000
 *   rows, 15 000 parameters per statement);
 * - end to end: a shard journal of 200 000 signals (~120 B of content each)
 *   drained by the real shipper thread with the default limits: SQLite
 *   reads, CRC and field checks, COPY, commits; rows/s from the shipper's
 *   start (thread, connection and all) to the last watermark. Twice: into
 *   the fresh database, before the benny cases, and into the same database
 *   after them, when `signals` holds the millions of rows they wrote and
 *   Postgres is still writing those back.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/persistence/copy-batch.bench.js
 *
 * Postgres: DATABASE_URL names a server (the bench makes its own database
 * there and drops it after), otherwise an embedded one in a temp folder.
 * Journal files go to SIGPLANE_BENCH_DIR or the OS temp folder.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import { Client } from 'pg';
import { shipper, type SignalRecord } from '@sigplane/protocol';
import { Journal, type JournalBatch } from '../../persistence/journal';
import { redactUrl, startEmbeddedPostgres } from '../../persistence/pg/embedded';
import { migrate } from '../../persistence/pg/migrate';
import { createPool } from '../../persistence/pg/pool';
import { journalPathOf } from '../../persistence/shipper/journal-reader';
import type { SignalRow } from '../../persistence/shipper/journal-rows';
import { ensureWatermarkRows, openSession } from '../../persistence/shipper/pg-session';
import { readyBatch, shipBatch, watermarkFromText, type BatchSource } from '../../persistence/shipper/ship-batch';
import { startShipper } from '../../persistence/shipper/shipper';
import { freeLocalPort } from '../../persistence/pg/free-port';
import { queryOnce } from '../pg-admin';

const batchSizes = [500, shipper.shipBatchRowsMax] as const;
const insertRowsPerStatement = 1000;
const contentBytes = 120;
const drainSignals = 200_000;
const drainJournalBatchSignals = 1000;

export interface DrainResult {
  signals: number;
  seconds: number;
  rowsPerSecond: number;
  batches: number;
}

function signalTemplate(subscriptionId: string, sequence: number, content: Uint8Array): SignalRecord {
  const nowMs = Date.now();
  return {
    subscriptionId,
    sequence,
    generatedAtMs: nowMs - 3,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    action: 1,
    positionId: String(1_000_000 + sequence),
    stopLoss: 1.05,
    takeProfit: 1.2,
    magic: '42',
    signingVersion: 2,
    content,
    receivedAtMs: nowMs,
  };
}

/**
 * benny probes a case by calling it before timing it, without waiting: the
 * calls are chained here so that one connection never runs two
 * transactions at once.
 */
function serial(fn: () => Promise<void>): () => () => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  const op = (): Promise<void> => (chain = chain.then(fn));
  return () => op;
}

/** Signals from memory: journal_id = sequence, always N new ones after the watermark. */
function memorySource(subscriptionId: string, content: Uint8Array): BatchSource<'signals'> {
  let highest = 0;
  return {
    table: 'signals',
    name: 'memory',
    highestJournalId: () => highest + batchSizes[batchSizes.length - 1],
    batchAfter(watermark, limits) {
      const rows: SignalRow[] = [];
      for (let id = watermark + 1; id <= watermark + limits.rowsMax; id++) rows.push({ journalId: id, record: signalTemplate(subscriptionId, id, content) });
      highest = watermark + limits.rowsMax;
      return readyBatch('signals', rows, limits.copyChunkBytes);
    },
  };
}

/** The baseline: the same transaction with multi-row INSERT ... VALUES and bound parameters. */
async function insertBatch(client: Client, nodeId: string, subscriptionId: string, rowsCount: number, content: Uint8Array): Promise<void> {
  await client.query('BEGIN');
  try {
    const locked = await client.query<{ w: string }>(
      "SELECT shipped_journal_id::text AS w FROM journal_watermarks WHERE node_id = $1 AND shard = 0 AND table_name = 'signals' FOR UPDATE",
      [nodeId],
    );
    const before = watermarkFromText(locked.rows[0].w);
    for (let first = before + 1; first <= before + rowsCount; first += insertRowsPerStatement) {
      const last = Math.min(before + rowsCount, first + insertRowsPerStatement - 1);
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (let seq = first; seq <= last; seq++) {
        const r = signalTemplate(subscriptionId, seq, content);
        const p = values.length;
        tuples.push(
          `($${p + 1}::uuid, $${p + 2}::bigint, to_timestamp($${p + 3}::float8 / 1000), $${p + 4}, $${p + 5}::smallint, $${p + 6}::float8, ` +
            `$${p + 7}::float8, $${p + 8}::smallint, NULLIF($${p + 9}, '')::numeric, $${p + 10}::float8, $${p + 11}::float8, $${p + 12}, ` +
            `$${p + 13}::smallint, $${p + 14}::bytea, to_timestamp($${p + 15}::float8 / 1000))`,
        );
        values.push(r.subscriptionId, r.sequence, r.generatedAtMs, r.symbol, r.orderType, r.volume, r.price, r.action, r.positionId, r.stopLoss,
          r.takeProfit, r.magic, r.signingVersion, Buffer.from(r.content), r.receivedAtMs);
      }
      await client.query(
        `INSERT INTO signals (subscription_id, sequence, generated_at, symbol, order_type, volume, price, action, position_id, stop_loss,
           take_profit, magic, signing_version, content, received_at) VALUES ${tuples.join(', ')}
         ON CONFLICT (subscription_id, sequence) DO NOTHING`,
        values,
      );
    }
    await client.query(
      "UPDATE journal_watermarks SET shipped_journal_id = $2, updated_at = NOW() WHERE node_id = $1 AND shard = 0 AND table_name = 'signals'",
      [nodeId, before + rowsCount],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A journal of `drainSignals` signals, drained by the real shipper thread. */
async function measureDrain(databaseUrl: string, dir: string): Promise<DrainResult> {
  const journal = Journal.open(journalPathOf(dir, 0), { sync: 'normal' });
  const subscriptions = [randomUUID(), randomUUID()];
  const content = new Uint8Array(contentBytes).map((_, i) => (i * 31) & 0xff);
  let sequence = 0;
  while (sequence < drainSignals / subscriptions.length) {
    const batch: JournalBatch = { signals: [], snapshots: [], cursors: [], states: [], securityEvents: [] };
    for (let i = 0; i < drainJournalBatchSignals / subscriptions.length; i++) {
      sequence++;
      for (const sub of subscriptions) batch.signals.push(signalTemplate(sub, sequence, content));
    }
    journal.commit(batch);
  }
  const total = journal.stats().signals;
  const startMs = performance.now();
  const shipper = startShipper({ databaseUrl, dataDir: dir, shardCount: 1, nodeId: `bench-drain-${randomBytes(3).toString('hex')}` });
  try {
    for (;;) {
      const s = shipper.status();
      if (s.watermarksKnown && (shipper.shippedWatermark(0)?.signals ?? 0) >= total) break;
      if (performance.now() - startMs > 300_000) throw new Error(`drain did not finish: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - startMs) / 1000;
    return { signals: total, seconds, rowsPerSecond: Math.round(total / seconds), batches: shipper.status().batches };
  } finally {
    await shipper.stop();
    journal.close();
  }
}

export async function run(): Promise<Summary & { drain: { fresh: DrainResult; afterLoad: DrainResult } }> {
  const dir = fs.mkdtempSync(path.join(process.env.SIGPLANE_BENCH_DIR ?? os.tmpdir(), 'sigplane-copy-bench-'));
  // Its own folder directly in the temp folder: as root, Postgres runs as another user that must traverse it.
  const embeddedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-copy-bench-pg-'));
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
  let serverUrl = process.env.DATABASE_URL ?? '';
  const name = `sigplane_bench_${randomBytes(6).toString('hex')}`; // ours: [a-z0-9_]
  let created = false;
  const clients: Client[] = [];
  try {
    if (serverUrl === '') {
      embedded = await startEmbeddedPostgres(embeddedDir, { port: await freeLocalPort() });
      serverUrl = embedded.url;
    }
    await queryOnce(serverUrl, `CREATE DATABASE ${name}`);
    created = true;
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    const pool = createPool(databaseUrl, { max: 1 });
    await migrate(pool);
    await pool.end();
    console.log(`Postgres: ${redactUrl(serverUrl)}${embedded === null ? '' : ' (embedded)'}, database ${name}`);

    const drainFresh = await measureDrain(databaseUrl, fs.mkdtempSync(path.join(dir, 'drain-fresh-')));
    const content = new Uint8Array(contentBytes).map((_, i) => (i * 7) & 0xff);
    const cases = [];
    for (const n of batchSizes) {
      const copyClient = await openSession(
        { databaseUrl, connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, idleInTransactionTimeoutMs: 60_000 },
        () => undefined,
      );
      clients.push(copyClient);
      const copyNode = `bench-copy-${n}`;
      await ensureWatermarkRows(copyClient, copyNode, 1);
      const source = memorySource(randomUUID(), content);
      const limits = { rowsMax: n, bytesMax: shipper.shipBatchBytesMax, copyChunkBytes: shipper.copyChunkBytes, timeoutMs: 60_000 };
      cases.push(
        b.add(
          `COPY batch of ${n} signals`,
          serial(async () => {
            const result = await shipBatch(copyClient, source, { nodeId: copyNode, shard: 0 }, limits);
            if (result.inserted !== n) throw new Error(`inserted ${result.inserted} of ${n}`);
          }),
          { maxTime: 4, minSamples: 5 },
        ),
      );

      const insertClient = new Client({ connectionString: databaseUrl });
      await insertClient.connect();
      clients.push(insertClient);
      const insertNode = `bench-insert-${n}`;
      await ensureWatermarkRows(insertClient, insertNode, 1);
      const insertSubscription = randomUUID();
      cases.push(
        b.add(
          `multi-row INSERT batch of ${n} signals`,
          serial(() => insertBatch(insertClient, insertNode, insertSubscription, n, content)),
          { maxTime: 4, minSamples: 5 },
        ),
      );
    }
    const summary = await b.suite('copy batch', ...cases, b.cycle(), b.complete());
    for (const r of summary.results) {
      const n = Number(/of (\d+) signals/.exec(r.name)?.[1] ?? 1);
      // benny rounds ops to an integer; the mean time per batch is exact.
      const batchesPerSecond = 1 / r.details.mean;
      console.log(
        `${r.name}: ${batchesPerSecond.toFixed(1)} batches/s, ${Math.round(batchesPerSecond * n).toLocaleString('en')} rows/s ` +
          `(±${r.margin}%, median batch ${(r.details.median * 1000).toFixed(1)} ms)`,
      );
    }
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);

    const drainAfterLoad = await measureDrain(databaseUrl, fs.mkdtempSync(path.join(dir, 'drain-after-')));
    const rows = await queryOnce<{ n: string }>(databaseUrl, 'SELECT count(*)::text AS n FROM signals');
    for (const [when, drain] of [['into the fresh database', drainFresh], [`after the cases above (signals then held ${Number(rows[0].n).toLocaleString('en')} rows)`, drainAfterLoad]] as const) {
      console.log(
        `drain ${when}: ${drain.signals.toLocaleString('en')} journaled signals shipped by the shipper thread in ${drain.seconds.toFixed(2)} s: ` +
          `${drain.rowsPerSecond.toLocaleString('en')} rows/s (${drain.batches} batches of up to ${shipper.shipBatchRowsMax})`,
      );
    }
    return { ...summary, drain: { fresh: drainFresh, afterLoad: drainAfterLoad } };
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
    if (created) await queryOnce(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await embedded?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(embeddedDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
