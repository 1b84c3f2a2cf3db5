/**
 * Postgres stopped under load, then started again (issue 3's outage
 * scenario), end to end: `sigplane serve` as users run it (the load bench's
 * adapter: its own process, journal sync full, the shipper on), one master
 * sending signed signals at a steady rate and one receiver, against an
 * embedded Postgres that this suite really stops and restarts (same data
 * folder, same port). It measures what was accepted and delivered while
 * Postgres was down, how long the shipper took to drain the backlog once
 * it was back, and then checks Postgres row by row: every acked signal
 * exactly once.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/persistence/ship-outage.bench.js
 *
 * Always an embedded Postgres (DATABASE_URL is not used: the suite must be
 * able to stop the server). Its folder is made in the OS temp folder and
 * removed at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Summary } from 'benny/lib/internal/common-types';
import { Client } from 'pg';
import { openSigplaneReceiver, SigplaneAdapter, withDatabase } from '../load/adapters/sigplane';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../persistence/pg/embedded';
import { freeLocalPort } from '../../persistence/pg/free-port';

/** The scenario: a steady rate, and when (ms from the first send) Postgres stops, starts again and the master stops sending. */
export interface OutagePlan {
  ratePerSecond: number;
  outageStartMs: number;
  outageEndMs: number;
  sendingEndMs: number;
}

/** What `npm run bench` runs (a test runs a shorter one). */
export const benchOutagePlan: OutagePlan = { ratePerSecond: 2_000, outageStartMs: 2_000, outageEndMs: 7_000, sendingEndMs: 10_000 };

/** After the last send: the longest wait for acks, then for Postgres to hold every acked row. */
const ackWaitMs = 10_000;
const drainWaitMs = 120_000;
const pollMs = 20;

export interface OutageResult {
  ratePerSecond: number;
  outageSeconds: number;
  signalsSent: number;
  acked: number;
  refused: number;
  ackedDuringOutage: number;
  deliveredDuringOutage: number;
  delivered: number;
  /** Rows of the subscription in Postgres when it was started again. */
  rowsAtRestart: number;
  /** Acked signals not yet in Postgres when it was started again (the backlog). */
  backlogAtRestart: number;
  /** From Postgres accepting connections again to the shipper's first new row (its reconnect backoff). */
  resumeSeconds: number | null;
  /** From Postgres accepting connections again to every signal acked by then being there (the backlog shipped; the load goes on meanwhile). */
  drainSeconds: number | null;
  rowsInPostgres: number;
  distinctSequences: number;
  /** Acked signals missing from Postgres at the end. */
  lost: number;
  /** Rows beyond one per sequence (the unique key makes this 0 unless it is broken). */
  duplicated: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The subscription's rows in Postgres, over one connection that is opened
 * again after Postgres went away: polling must not load the Postgres the
 * shipper is draining into (no connection per poll, no rows sent back).
 */
class ShippedRows {
  private client: Client | null = null;

  constructor(
    private readonly url: string,
    private readonly subscriptionId: string,
  ) {}

  /** Row and distinct-sequence counts, or null while Postgres does not answer. */
  async count(): Promise<{ rows: number; distinct: number } | null> {
    const r = await this.query<{ rows: string; distinct: string }>(
      'SELECT count(*)::text AS rows, count(DISTINCT sequence)::text AS distinct FROM signals WHERE subscription_id = $1',
      [this.subscriptionId],
    );
    return r === null ? null : { rows: Number(r.rows), distinct: Number(r.distinct) };
  }

  /** Sequences 1..n with no row, or null while Postgres does not answer. */
  async missingUpTo(n: number): Promise<number | null> {
    const r = await this.query<{ missing: string }>(
      `SELECT count(*)::text AS missing FROM generate_series(1, $2::bigint) AS s(sequence)
       WHERE NOT EXISTS (SELECT 1 FROM signals t WHERE t.subscription_id = $1 AND t.sequence = s.sequence)`,
      [this.subscriptionId, n],
    );
    return r === null ? null : Number(r.missing);
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async query<R extends Record<string, string>>(sql: string, params: unknown[]): Promise<R | null> {
    try {
      if (this.client === null) {
        const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
        client.on('error', () => undefined);
        this.client = client;
        await client.connect();
      }
      return (await this.client.query<R>(sql, params)).rows[0];
    } catch {
      await this.close(); // the next query connects again
      return null;
    }
  }
}

export async function measureOutage(plan: OutagePlan = benchOutagePlan, log: (line: string) => void = console.log): Promise<OutageResult> {
  const { ratePerSecond, outageStartMs, outageEndMs, sendingEndMs } = plan;
  if (!(0 < outageStartMs && outageStartMs < outageEndMs && outageEndMs < sendingEndMs && ratePerSecond > 0)) throw new RangeError(`bad outage plan ${JSON.stringify(plan)}`);
  // Directly in the temp folder: as root, Postgres runs as another user that must traverse it.
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-outage-bench-pg-'));
  const port = await freeLocalPort();
  let pg: EmbeddedPostgres | null = null;
  let adapter: SigplaneAdapter | null = null;
  const closers: (() => Promise<void>)[] = [];
  try {
    pg = await startEmbeddedPostgres(pgDir, { port });
    adapter = new SigplaneAdapter({ databaseServerUrl: pg.url, shards: 1, journalSync: 'full', receiverAckEvery: 100 });
    await adapter.start();
    const targets = await adapter.prepareRun(1, 1);
    const shipped = new ShippedRows(withDatabase(pg.url, adapter.databaseName), String(targets.masters[0].subscriptionId));
    closers.push(() => shipped.close());

    let phase: 'before' | 'outage' | 'after' = 'before';
    const acked = new Set<number>();
    let refused = 0;
    let ackedDuringOutage = 0;
    let delivered = 0;
    let deliveredDuringOutage = 0;
    const receiver = await openSigplaneReceiver(targets.receivers[0], () => {
      delivered++;
      if (phase === 'outage') deliveredDuringOutage++;
    });
    closers.push(() => receiver.close());
    const master = await adapter.openMaster(targets.masters[0], {
      onAck(sequence) {
        if (acked.has(sequence)) return;
        acked.add(sequence);
        if (phase === 'outage') ackedDuringOutage++;
      },
      onRefused() {
        refused++;
      },
    });
    closers.push(() => master.close());
    const total = Math.round((ratePerSecond * sendingEndMs) / 1000);
    master.prepare(total);

    log(`sending ${ratePerSecond}/s for ${sendingEndMs / 1000} s; Postgres is stopped from ${outageStartMs / 1000} s to ${outageEndMs / 1000} s`);
    const startMs = performance.now();
    let sent = 0;
    let restartedAtMs: number | null = null;
    let resumedAtMs: number | null = null;
    let drainedAtMs: number | null = null;
    let rowsAtRestart = 0;
    let backlogAtRestart = 0;
    let stopping: Promise<void> | null = null;
    let restarting: Promise<void> | null = null;
    while (sent < total) {
      const elapsed = performance.now() - startMs;
      const due = Math.min(total, Math.floor((elapsed * ratePerSecond) / 1000));
      while (sent < due) master.send(++sent);
      if (stopping === null && elapsed >= outageStartMs) {
        phase = 'outage';
        log(`${(elapsed / 1000).toFixed(1)} s: stopping Postgres (${acked.size} acked so far)`);
        stopping = pg.stop();
      }
      if (restarting === null && stopping !== null && elapsed >= outageEndMs) {
        await stopping;
        log(`${(elapsed / 1000).toFixed(1)} s: starting Postgres again (${acked.size} acked so far)`);
        restarting = startEmbeddedPostgres(pgDir, { port }).then(async (again) => {
          pg = again;
          restartedAtMs = performance.now();
          phase = 'after';
          const rows = await shipped.count();
          rowsAtRestart = rows?.rows ?? 0;
          const ackedAtRestart = acked.size;
          backlogAtRestart = ackedAtRestart - rowsAtRestart;
          // Watch for the shipper's first new row (it reconnects on its own backoff), then for the backlog to be in.
          for (let r = rows; drainedAtMs === null && performance.now() - restartedAtMs < drainWaitMs; r = await shipped.count()) {
            if (r !== null && r.rows > rowsAtRestart) resumedAtMs ??= performance.now();
            if (r !== null && r.rows >= ackedAtRestart) drainedAtMs = performance.now();
            else await sleep(pollMs);
          }
        });
      }
      await sleep(1);
    }
    const ackDeadline = performance.now() + ackWaitMs;
    while (acked.size + refused < total && performance.now() < ackDeadline) await sleep(pollMs);
    log(`all sent; ${acked.size} acked, ${refused} refused; waiting for Postgres to hold every acked signal`);

    await restarting;
    let final = await shipped.count();
    const drainDeadline = performance.now() + drainWaitMs;
    while ((final === null || final.distinct < acked.size) && performance.now() < drainDeadline) {
      await sleep(pollMs);
      final = await shipped.count();
    }
    let highestAcked = 0;
    for (const sequence of acked) highestAcked = Math.max(highestAcked, sequence);
    // The master sends in order and an ack means journaled: the acked signals are 1..highestAcked.
    if (acked.size !== highestAcked) throw new Error(`acked ${acked.size} signals but the highest is ${highestAcked}`);
    return {
      ratePerSecond,
      outageSeconds: (outageEndMs - outageStartMs) / 1000,
      signalsSent: sent,
      acked: acked.size,
      refused,
      ackedDuringOutage,
      deliveredDuringOutage,
      delivered,
      rowsAtRestart,
      backlogAtRestart,
      resumeSeconds: resumedAtMs === null || restartedAtMs === null ? null : (resumedAtMs - restartedAtMs) / 1000,
      drainSeconds: drainedAtMs === null || restartedAtMs === null ? null : (drainedAtMs - restartedAtMs) / 1000,
      rowsInPostgres: final?.rows ?? 0,
      distinctSequences: final?.distinct ?? 0,
      lost: (await shipped.missingUpTo(highestAcked)) ?? acked.size,
      duplicated: final === null ? 0 : final.rows - final.distinct,
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await adapter?.stop().catch(() => undefined);
    await (pg as EmbeddedPostgres | null)?.stop().catch(() => undefined);
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
}

/** The suite for bench/run.ts: no benny cases, one measured scenario. */
export async function run(): Promise<Pick<Summary, 'results'> & { outage: OutageResult }> {
  return { results: [], outage: await measureOutage() };
}

if (require.main === module) {
  run().then(({ outage }) => console.log(outage), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
