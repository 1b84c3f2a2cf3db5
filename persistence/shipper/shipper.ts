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

/** The options' limits, retention and journal budget over their defaults, checked (invalid ones throw, at once). */
interface ShipperSettings {
  limits: ShipperLimits;
  /** null: never prune. */
  retention: RetentionLimits | null;
  journalBudgetBytes: number;
}

function shipperSettings(options: ShipperOptions): ShipperSettings {
  const limits: ShipperLimits = { ...shipper, ...options.limits };
  checkOptions(options, limits);
  const retention: RetentionLimits | null = options.retention === false ? null : { ...retentionLimits, ...options.retention };
  if (retention !== null) checkRetentionLimits(retention);
  const journalBudgetBytes = options.journalBudgetBytes ?? journalRetention.diskBudgetBytesDefault;
  if (!Number.isSafeInteger(journalBudgetBytes) || journalBudgetBytes < 1) {
    throw new RangeError(`startShipper: journalBudgetBytes must be a positive integer, got ${journalBudgetBytes}`);
  }
  return { limits, retention, journalBudgetBytes };
}

/** Known-shipped journal ids per shard and table, as batches commit and statuses report them; they only rise. */
class ShippedWatermarks {
  readonly #byShard: (Record<ShipTableName, number> | null)[];

  constructor(shardCount: number) {
    this.#byShard = Array.from({ length: shardCount }, () => null);
  }

  raise(shard: number, table: ShipTableName, watermark: number): void {
    const known = (this.#byShard[shard] ??= { signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 });
    known[table] = Math.max(known[table], watermark);
  }

  /** A copy of a shard's watermarks, or null while none is known. */
  of(shard: number): ShippedWatermark | null {
    const known = this.#byShard[shard];
    return known === null ? null : { ...known };
  }

  /** Every shard's, copied: a new thread starts from them. */
  all(): (ShippedWatermark | null)[] {
    return this.#byShard.map((_, shard) => this.of(shard));
  }
}

/**
 * Runs the shipper thread and restarts it when it dies (backoff from
 * shipRetryInitialMs, doubling up to shipRetryMaxMs, reset once a thread
 * lived longer than that), keeping the status, the batch counts and the
 * shipped watermarks across threads.
 */
class ShipperSupervisor implements Shipper {
  readonly #options: ShipperOptions;
  readonly #settings: ShipperSettings;
  readonly #log: NonNullable<ShipperOptions['log']>;
  readonly #shipped: ShippedWatermarks;
  #latest: ShipperStatus;
  #restarts = 0;
  /** Counted here from each committed batch, so they hold across thread restarts (each thread counts from 0). */
  readonly #counts = { shippedRows: 0, insertedRows: 0, conflictingRows: 0, batches: 0, lastShippedAtMs: null as number | null };
  #restartBackoffMs: number;
  #stopping = false;
  #worker: Worker | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #exited: Promise<void> = Promise.resolve();

  constructor(options: ShipperOptions, settings: ShipperSettings) {
    this.#options = options;
    this.#settings = settings;
    this.#log = options.log ?? (() => undefined);
    this.#shipped = new ShippedWatermarks(options.shardCount);
    this.#latest = initialStatus(options.shardCount, Date.now(), settings.journalBudgetBytes);
    this.#restartBackoffMs = settings.limits.shipRetryInitialMs;
  }

  /** Starts a thread; `fault` is the test hook, given to the first thread only. */
  spawn(fault: ShipFaultSpec | null): void {
    const workerData: ShipperWorkerData = {
      databaseUrl: this.#options.databaseUrl,
      dataDir: this.#options.dataDir,
      shardCount: this.#options.shardCount,
      nodeId: this.#options.nodeId,
      limits: this.#settings.limits,
      retention: this.#settings.retention,
      journalBudgetBytes: this.#settings.journalBudgetBytes,
      journalBudgetWarnRatio: journalRetention.diskBudgetWarnRatio,
      fault,
      knownWatermarks: this.#shipped.all(),
    };
    const startedAtMs = Date.now();
    const w = new Worker(workerFile(), { workerData });
    this.#worker = w;
    w.on('message', (message: ShipperWorkerMessage) => this.#onMessage(message));
    w.on('error', (error) => this.#log('error', 'shipper thread failed', { message: error.message }));
    this.#exited = new Promise<void>((resolve) => {
      w.once('exit', (code) => {
        if (this.#worker === w) this.#worker = null;
        resolve();
        if (!this.#stopping) this.#restartAfterDeath(code, startedAtMs);
      });
    });
  }

  #onMessage(message: ShipperWorkerMessage): void {
    if (message.t === 'status') this.#publish(message.status);
    else if (message.t === 'batch') this.#onBatch(message.shard, message.result, message.atMs);
    else if (message.t === 'log') this.#log(message.level, message.message, message.fields);
  }

  #publish(status: ShipperStatus): void {
    this.#latest = { ...status, ...this.#counts, restarts: this.#restarts };
    if (status.watermarksKnown) {
      for (const s of status.shards) for (const table of shipTableNames) this.#shipped.raise(s.shard, table, s.tables[table].watermark);
    }
    try {
      this.#options.onStatus?.(this.#latest);
    } catch {
      // the caller's callback must not break shipping
    }
  }

  #onBatch(shard: number, result: BatchResult, atMs: number): void {
    const counts = this.#counts;
    counts.batches++;
    counts.shippedRows += result.rows;
    counts.insertedRows += result.inserted;
    counts.conflictingRows += result.conflicting;
    counts.lastShippedAtMs = atMs;
    this.#shipped.raise(shard, result.table, result.watermark);
    this.#latest = { ...this.#latest, ...counts };
  }

  /** Died unexpectedly: restart with backoff, reset once a thread has lived a while. */
  #restartAfterDeath(code: number, startedAtMs: number): void {
    const { limits } = this.#settings;
    if (Date.now() - startedAtMs > limits.shipRetryMaxMs) this.#restartBackoffMs = limits.shipRetryInitialMs;
    this.#restarts++;
    this.#publish({ ...this.#latest, running: false });
    this.#log('error', 'shipper thread exited; restarting', { code, restartInMs: this.#restartBackoffMs, restarts: this.#restarts });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#stopping) this.spawn(null);
    }, this.#restartBackoffMs);
    this.#restartBackoffMs = Math.min(this.#restartBackoffMs * 2, limits.shipRetryMaxMs);
  }

  async stop(): Promise<void> {
    if (this.#stopping) return this.#exited;
    this.#stopping = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    const w = this.#worker;
    if (w === null) return;
    w.postMessage({ t: 'stop' });
    const stopTimeoutMs = this.#settings.limits.shipStopTimeoutMs;
    const timer = setTimeout(() => {
      this.#log('warn', 'shipper thread did not stop in time; terminating it', { afterMs: stopTimeoutMs });
      void w.terminate();
    }, stopTimeoutMs);
    await this.#exited;
    clearTimeout(timer);
    this.#latest = { ...this.#latest, running: false };
  }

  status(): ShipperStatus {
    return this.#latest;
  }

  shippedWatermark(shard: number): ShippedWatermark | null {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.#options.shardCount) {
      throw new RangeError(`shippedWatermark: shard must be 0..${this.#options.shardCount - 1}, got ${shard}`);
    }
    return this.#shipped.of(shard);
  }
}

/** Checks the options (invalid ones throw, at once), starts the thread and returns its supervisor. */
export function startShipper(options: ShipperOptions): Shipper {
  const supervisor = new ShipperSupervisor(options, shipperSettings(options));
  supervisor.spawn(options.fault ?? null);
  return supervisor;
}
