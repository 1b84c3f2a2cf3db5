/**
 * The shipper as the I/O thread sees it: `startShipper` starts one thread
 * (shipper-worker.ts) that ships every shard journal of this node into
 * Postgres, exactly once, and supervises it; `status()` and `onStatus` say
 * whether Postgres is up and how far behind the journals are;
 * `shippedWatermark(shard)` says which journal rows are safely in Postgres
 * (the only rows a shard may ever prune).
 *
 * Nothing here throws into the caller once started: Postgres down, a broken
 * batch, even a dead thread (restarted with backoff) become status, not
 * exceptions. Only invalid arguments throw, at once.
 *
 * Threads (docs/threads.md): the shipper thread opens each
 * journal-shard-<i>.sqlite read-only beside the shard worker that writes
 * it, and owns one Postgres connection of its own.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { journalRetention, shipper } from '@sigplane/protocol';
import { checkRetentionLimits, retentionLimits, type RetentionLimits } from './journal-pruner';
import { shipTableNames, type ShipTableName } from './journal-rows';
import { nodeIdCharsMax, nodeIdPattern } from './node-id';
import type { BatchResult } from './ship-batch';
import type { ShipperLimits } from './shipper-limits';
import { initialStatus, type ShipperStatus } from './shipper-status';
import type { ShipFaultSpec, ShipperWorkerData, ShipperWorkerMessage } from './shipper-worker';

export type { ShipperStatus } from './shipper-status';
export type { ShipFaultSpec } from './shipper-worker';

export interface ShipperOptions {
  databaseUrl: string;
  dataDir: string;
  shardCount: number;
  /** This node's id (loadOrCreateNodeId(dataDir)); watermarks are kept per node, shard and table. */
  nodeId: string;
  /** Every status the thread reports (about shipStatusIntervalMs apart, at once on changes). Must not throw; if it does, it is ignored. */
  onStatus?: (status: ShipperStatus) => void;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /**
   * Disk budget of all shard journals together, bytes (default
   * journalRetention.diskBudgetBytesDefault): status().journalDisk says how
   * full it is; a warning is logged as it fills.
   */
  journalBudgetBytes?: number;
  /** Overrides of the retention limits (tests: fewer signals kept, quicker passes); false: never prune. */
  retention?: Partial<RetentionLimits> | false;
  /** Overrides of proto/limits.ts `shipper` (tests: smaller batches, faster retries). */
  limits?: Partial<ShipperLimits>;
  /** Test hook: given to the first thread only, so the restarted one ships normally. */
  fault?: ShipFaultSpec;
}

/** Per journal table: every row with journal_id <= this is committed in Postgres. */
export type ShippedWatermark = Readonly<Record<ShipTableName, number>>;

export interface Shipper {
  /** Stops after the batch in flight (or terminates the thread after shipStopTimeoutMs); never rejects. */
  stop(): Promise<void>;
  status(): ShipperStatus;
  /** Known-shipped journal ids of a shard, or null while Postgres has not been reached since start. Only ever rises. */
  shippedWatermark(shard: number): ShippedWatermark | null;
}

/** The thread runs compiled code: beside this file in dist/, or dist/ when this runs from source (tests). */
function workerFile(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'shipper-worker.js');
  return path.resolve(__dirname, '../../dist/persistence/shipper/shipper-worker.js');
}

function checkOptions(options: ShipperOptions, limits: ShipperLimits): void {
  if (typeof options.databaseUrl !== 'string' || options.databaseUrl === '') throw new TypeError('startShipper: databaseUrl is empty');
  if (typeof options.dataDir !== 'string' || options.dataDir === '') throw new TypeError('startShipper: dataDir is empty');
  if (!Number.isInteger(options.shardCount) || options.shardCount < 1 || options.shardCount > limits.shardsMax) {
    throw new RangeError(`startShipper: shardCount must be 1..${limits.shardsMax}, got ${options.shardCount}`);
  }
  if (typeof options.nodeId !== 'string' || !nodeIdPattern.test(options.nodeId)) {
    throw new TypeError(`startShipper: nodeId must be 1..${nodeIdCharsMax} of [A-Za-z0-9._-]`);
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`startShipper: limit ${name} must be a positive integer, got ${value}`);
  }
}

export function startShipper(options: ShipperOptions): Shipper {
  const limits: ShipperLimits = { ...shipper, ...options.limits };
  checkOptions(options, limits);
  const retention: RetentionLimits | null = options.retention === false ? null : { ...retentionLimits, ...options.retention };
  if (retention !== null) checkRetentionLimits(retention);
  const journalBudgetBytes = options.journalBudgetBytes ?? journalRetention.diskBudgetBytesDefault;
  if (!Number.isSafeInteger(journalBudgetBytes) || journalBudgetBytes < 1) {
    throw new RangeError(`startShipper: journalBudgetBytes must be a positive integer, got ${journalBudgetBytes}`);
  }
  const log = options.log ?? (() => undefined);
  let latest: ShipperStatus = initialStatus(options.shardCount, Date.now(), journalBudgetBytes);
  const shipped: (Record<ShipTableName, number> | null)[] = Array.from({ length: options.shardCount }, () => null);
  let restarts = 0;
  /** Counted here from each committed batch, so they hold across thread restarts (each thread counts from 0). */
  const counts = { shippedRows: 0, insertedRows: 0, conflictingRows: 0, batches: 0, lastShippedAtMs: null as number | null };
  let restartBackoffMs = limits.shipRetryInitialMs;
  let stopping = false;
  let worker: Worker | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  let exited: Promise<void> = Promise.resolve();

  const raiseShipped = (shard: number, table: ShipTableName, watermark: number): void => {
    const known = (shipped[shard] ??= { signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 });
    known[table] = Math.max(known[table], watermark);
  };

  const publish = (status: ShipperStatus): void => {
    latest = { ...status, ...counts, restarts };
    if (status.watermarksKnown) {
      for (const s of status.shards) for (const table of shipTableNames) raiseShipped(s.shard, table, s.tables[table].watermark);
    }
    try {
      options.onStatus?.(latest);
    } catch {
      // the caller's callback must not break shipping
    }
  };

  const onBatch = (shard: number, result: BatchResult, atMs: number): void => {
    counts.batches++;
    counts.shippedRows += result.rows;
    counts.insertedRows += result.inserted;
    counts.conflictingRows += result.conflicting;
    counts.lastShippedAtMs = atMs;
    raiseShipped(shard, result.table, result.watermark);
    latest = { ...latest, ...counts };
  };

  const spawn = (fault: ShipFaultSpec | null): void => {
    const workerData: ShipperWorkerData = {
      databaseUrl: options.databaseUrl,
      dataDir: options.dataDir,
      shardCount: options.shardCount,
      nodeId: options.nodeId,
      limits,
      retention,
      journalBudgetBytes,
      journalBudgetWarnRatio: journalRetention.diskBudgetWarnRatio,
      fault,
      knownWatermarks: shipped.map((w) => (w === null ? null : { ...w })),
    };
    const startedAtMs = Date.now();
    const w = new Worker(workerFile(), { workerData });
    worker = w;
    w.on('message', (message: ShipperWorkerMessage) => {
      if (message.t === 'status') publish(message.status);
      else if (message.t === 'batch') onBatch(message.shard, message.result, message.atMs);
      else if (message.t === 'log') log(message.level, message.message, message.fields);
    });
    w.on('error', (error) => log('error', 'shipper thread failed', { message: error.message }));
    exited = new Promise<void>((resolve) => {
      w.once('exit', (code) => {
        if (worker === w) worker = null;
        resolve();
        if (stopping) return;
        // Died unexpectedly: restart with backoff, reset once a thread has lived a while.
        if (Date.now() - startedAtMs > limits.shipRetryMaxMs) restartBackoffMs = limits.shipRetryInitialMs;
        restarts++;
        publish({ ...latest, running: false });
        log('error', 'shipper thread exited; restarting', { code, restartInMs: restartBackoffMs, restarts });
        restartTimer = setTimeout(() => {
          restartTimer = null;
          if (!stopping) spawn(null);
        }, restartBackoffMs);
        restartBackoffMs = Math.min(restartBackoffMs * 2, limits.shipRetryMaxMs);
      });
    });
  };

  spawn(options.fault ?? null);

  return {
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (restartTimer !== null) clearTimeout(restartTimer);
      const w = worker;
      if (w === null) return;
      w.postMessage({ t: 'stop' });
      const timer = setTimeout(() => {
        log('warn', 'shipper thread did not stop in time; terminating it', { afterMs: limits.shipStopTimeoutMs });
        void w.terminate();
      }, limits.shipStopTimeoutMs);
      await exited;
      clearTimeout(timer);
      latest = { ...latest, running: false };
    },
    status() {
      return latest;
    },
    shippedWatermark(shard: number) {
      if (!Number.isInteger(shard) || shard < 0 || shard >= options.shardCount) {
        throw new RangeError(`shippedWatermark: shard must be 0..${options.shardCount - 1}, got ${shard}`);
      }
      const known = shipped[shard];
      return known === null ? null : { ...known };
    },
  };
}
