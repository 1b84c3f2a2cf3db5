/**
 * The shipping loop, run by the shipper thread (shipper-worker.ts): every
 * pass takes at most one batch of each journal table of each shard, in
 * turn, so no shard starves another; a pass that filled a batch is followed
 * at once by the next, otherwise the loop sleeps shipIntervalMs.
 *
 * Failures never leave the loop:
 * - Postgres unreachable or the connection broken: the connection is thrown
 *   away, `postgresUp` goes false, and the loop reconnects with backoff
 *   (shipRetryInitialMs doubling to shipReconnectMaxMs). The journal keeps the
 *   rows meanwhile; the backlog drains once a connection holds.
 * - One table of one shard failing (corruption, an unshippable row, a batch
 *   Postgres refused): that table is retried with its own backoff and its
 *   error is reported; the other tables and shards go on.
 *
 * After the passes, at most every pruneIntervalMs, journal retention
 * (journal-pruner.ts) deletes what is shipped and no longer needed, and the
 * journals' disk is measured against the budget (a warning as it fills).
 *
 * All state that matters is in Postgres (watermarks) and in the journal
 * (rows): the watermarks kept here only save queries and feed the status,
 * and every batch re-reads its watermark under a row lock.
 */
import Database from 'better-sqlite3';
import type { Client } from 'pg';
import { JournalPruner, type RetentionLimits } from './journal-pruner';
import { JournalReader, journalPathOf } from './journal-reader';
import { shipTableNames, type ShipTableName } from './journal-rows';
import { ensureWatermarkRows, openSession, readWatermarks } from './pg-session';
import { JournalSource, shipBatch, type BatchResult, type FaultHook } from './ship-batch';
import { nodeIdCharsMax } from './node-id';
import { errorCode, errorMessage, isConnectionError } from './ship-errors';
import type { ShipperLimits } from './shipper-limits';
import { initialStatus, journalDiskLevel, type JournalDiskLevel, type ShipFailure, type ShipperStatus } from './shipper-status';

export interface ShipLoopOptions {
  databaseUrl: string;
  dataDir: string;
  shardCount: number;
  nodeId: string;
  limits: ShipperLimits;
  /** Journal retention; without it nothing is pruned. */
  retention?: RetentionLimits;
  /** Disk budget of all shard journals together (bytes). */
  journalBudgetBytes: number;
  /** Share of the budget from which the disk is reported 'warning'. */
  journalBudgetWarnRatio: number;
  /** Sends a status (throttled to limits.shipStatusIntervalMs, at once when Postgres goes up or down). */
  report: (status: ShipperStatus) => void;
  /** Called after each batch that committed rows, before the next batch starts. */
  onBatch?: (shard: number, result: BatchResult, atMs: number) => void;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  fault?: FaultHook;
  /** Watermarks read from Postgres by an earlier thread: lower bounds, so lag is right before the first connect. */
  knownWatermarks?: (Record<ShipTableName, number> | null)[];
  now?: () => number;
}

interface TableRetry {
  retryAtMs: number;
  backoffMs: number;
  /** Cursors keep no time: when lag was first seen above zero. */
  pendingSinceMs: number | null;
}

export class ShipLoop {
  private client: Client | null = null;
  /** Set by the client's 'error'/'end': the connection must be replaced before the next batch. */
  private broken: Error | null = null;
  private readonly readers: (JournalReader | null)[];
  /** Per shard and table, the source over the shard's current reader (reads one batch ahead). */
  private readonly sources: (Record<ShipTableName, JournalSource<ShipTableName>> | null)[];
  private readonly retries: Record<ShipTableName, TableRetry>[];
  /** A journal that failed to open is tried again from this time on (ms). */
  private readonly openRetryAtMs: number[];
  private connectBackoffMs: number;
  private nextConnectAtMs = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  private lastReportAtMs = -Infinity;
  private readonly status: ShipperStatus;
  private readonly now: () => number;
  private readonly pruners: (JournalPruner | null)[];
  private nextPruneAtMs = 0;

  constructor(private readonly options: ShipLoopOptions) {
    const { shardCount, nodeId } = options;
    if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`shardCount must be a positive integer, got ${shardCount}`);
    if (typeof nodeId !== 'string' || nodeId.length < 1 || nodeId.length > nodeIdCharsMax) throw new RangeError(`nodeId must be 1..${nodeIdCharsMax} characters`);
    this.now = options.now ?? Date.now;
    this.readers = Array.from({ length: shardCount }, () => null);
    this.sources = Array.from({ length: shardCount }, () => null);
    this.retries = Array.from({ length: shardCount }, () =>
      Object.fromEntries(
        shipTableNames.map((t) => [t, { retryAtMs: 0, backoffMs: options.limits.shipRetryInitialMs, pendingSinceMs: null }]),
      ) as Record<ShipTableName, TableRetry>,
    );
    this.openRetryAtMs = Array.from({ length: shardCount }, () => 0);
    this.connectBackoffMs = options.limits.shipRetryInitialMs;
    this.status = initialStatus(shardCount, this.now(), options.journalBudgetBytes);
    this.pruners = Array.from({ length: shardCount }, (_, shard) =>
      options.retention === undefined ? null : new JournalPruner(journalPathOf(options.dataDir, shard), options.retention),
    );
    options.knownWatermarks?.forEach((known, shard) => {
      if (known === null || shard >= shardCount) return;
      for (const table of shipTableNames) this.status.shards[shard].tables[table].watermark = known[table];
      this.status.watermarksKnown = true;
    });
  }

  /** Ships until stop(); resolves after the connection and the journals are closed. */
  async run(): Promise<void> {
    this.status.running = true;
    this.report(true);
    try {
      while (!this.stopping) {
        const more = await this.pass();
        if (!this.stopping) this.prunePass();
        this.report(false);
        if (this.stopping) break;
        if (more) await new Promise<void>((resolve) => setImmediate(resolve));
        else await this.sleep(this.client === null ? Math.max(0, this.nextConnectAtMs - this.now()) : this.options.limits.shipIntervalMs);
      }
    } finally {
      await this.dropClient(null);
      for (let i = 0; i < this.readers.length; i++) this.closeReader(i);
      for (const pruner of this.pruners) pruner?.close();
      this.status.running = false;
      this.report(true);
    }
  }

  /** Asks the loop to end after the batch in flight. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** One pass over every shard and table; true when a batch was full (more is waiting). */
  private async pass(): Promise<boolean> {
    if (this.client === null && !(await this.connect())) return false;
    const limits = this.options.limits;
    let more = false;
    for (let shard = 0; shard < this.options.shardCount && !this.stopping; shard++) {
      const reader = this.readerFor(shard);
      if (reader === null) continue;
      for (const table of shipTableNames) {
        if (this.stopping) break;
        const retry = this.retries[shard][table];
        const tableStatus = this.status.shards[shard].tables[table];
        if (retry.retryAtMs > this.now()) continue;
        const client = this.client;
        if (client === null || this.broken !== null) {
          await this.dropClient(this.broken);
          return false;
        }
        try {
          // Nothing new: no Postgres round trip (a journal behind its watermark goes on, to be reported).
          if (tableStatus.error === null && reader.highestJournalId(table) === tableStatus.watermark) continue;
          const result = await shipBatch(
            client,
            this.sourceFor(shard, reader, table),
            { nodeId: this.options.nodeId, shard },
            { rowsMax: limits.shipBatchRowsMax, bytesMax: limits.shipBatchBytesMax, copyChunkBytes: limits.copyChunkBytes, timeoutMs: limits.shipBatchTimeoutMs },
            this.options.fault,
          );
          tableStatus.watermark = result.watermark;
          tableStatus.error = null;
          retry.backoffMs = limits.shipRetryInitialMs;
          if (result.rows > 0) {
            this.status.batches++;
            this.status.shippedRows += result.rows;
            this.status.insertedRows += result.inserted;
            this.status.conflictingRows += result.conflicting;
            this.status.lastShippedAtMs = this.now();
            this.options.onBatch?.(shard, result, this.status.lastShippedAtMs);
            if (result.conflicting > 0) {
              this.log('warn', 'signals already in Postgres with other content were kept as they were', { shard, conflicting: result.conflicting });
            }
          }
          more ||= result.full;
        } catch (error) {
          this.sources[shard]?.[table].forget();
          if (this.broken !== null || isConnectionError(error)) {
            await this.dropClient(error);
            return false;
          }
          const failure = this.failure(error);
          tableStatus.error = failure;
          retry.retryAtMs = this.now() + retry.backoffMs;
          retry.backoffMs = Math.min(retry.backoffMs * 2, limits.shipRetryMaxMs);
          if (error instanceof Database.SqliteError) this.closeReader(shard);
          this.log('error', 'shipping a journal table failed; retrying it later', { shard, table, ...failure });
        }
      }
    }
    return more;
  }

  /**
   * Journal retention, every pruneIntervalMs: each shard's pruner gets the
   * watermarks read from Postgres or raised by committed batches (never
   * more than Postgres holds). Skipped before the watermarks are known, and
   * for a shard whose journal is behind its watermark (a replaced file:
   * its rows are not the ones Postgres holds).
   */
  private prunePass(): void {
    const retention = this.options.retention;
    if (retention === undefined || !this.status.watermarksKnown || this.now() < this.nextPruneAtMs) return;
    this.nextPruneAtMs = this.now() + retention.pruneIntervalMs;
    let failed = false;
    for (let shard = 0; shard < this.options.shardCount && !this.stopping; shard++) {
      const pruner = this.pruners[shard];
      const reader = this.readers[shard];
      if (pruner === null || reader === null) continue;
      const tables = this.status.shards[shard].tables;
      try {
        const watermark = Object.fromEntries(shipTableNames.map((t) => [t, tables[t].watermark])) as Record<ShipTableName, number>;
        if (shipTableNames.some((t) => reader.highestJournalId(t) < watermark[t])) continue;
        const counts = pruner.prune(watermark);
        this.status.pruned.signals += counts.signals;
        this.status.pruned.states += counts.states;
        this.status.pruned.securityEvents += counts.securityEvents;
        this.status.pruned.executionReports += counts.executionReports;
        this.status.pruned.checkpoints += counts.checkpoints;
      } catch (error) {
        failed = true;
        pruner.close();
        const failure = { code: errorCode(error), message: errorMessage(error), atMs: this.now() };
        this.status.pruneError = failure;
        this.log('warn', 'pruning a shard journal failed; the next pass tries again', { shard, ...failure });
      }
    }
    if (!failed) this.status.pruneError = null;
  }

  /** Opens the connection, prepares it and reads the watermarks; false (and backoff) when Postgres is not there. */
  private async connect(): Promise<boolean> {
    if (this.now() < this.nextConnectAtMs) return false;
    const limits = this.options.limits;
    try {
      this.broken = null;
      const client = await openSession(
        {
          databaseUrl: this.options.databaseUrl,
          connectTimeoutMs: limits.shipConnectTimeoutMs,
          statementTimeoutMs: limits.shipBatchTimeoutMs,
          idleInTransactionTimeoutMs: limits.shipIdleInTransactionTimeoutMs,
        },
        (error) => {
          if (this.broken === null) this.broken = error;
        },
      );
      this.client = client;
      await ensureWatermarkRows(client, this.options.nodeId, this.options.shardCount);
      const watermarks = await readWatermarks(client, this.options.nodeId, this.options.shardCount);
      for (const [shard, tables] of watermarks) {
        for (const table of shipTableNames) this.status.shards[shard].tables[table].watermark = tables[table];
      }
      this.status.watermarksKnown = true;
      this.connectBackoffMs = limits.shipRetryInitialMs;
      this.setPostgresUp(true, null);
      return true;
    } catch (error) {
      await this.dropClient(error);
      return false;
    }
  }

  /** Discards the connection; with an error, Postgres counts as down and the next connect waits its backoff. */
  private async dropClient(error: unknown): Promise<void> {
    const client = this.client;
    this.client = null;
    this.broken = null;
    if (client !== null) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
    if (error === null || error === undefined) return;
    this.nextConnectAtMs = this.now() + this.connectBackoffMs;
    this.connectBackoffMs = Math.min(this.connectBackoffMs * 2, this.options.limits.shipReconnectMaxMs);
    this.setPostgresUp(false, this.failure(error));
  }

  private setPostgresUp(up: boolean, failure: ShipFailure | null): void {
    const changed = this.status.postgresUp !== up;
    this.status.postgresUp = up;
    if (changed) this.log(up ? 'info' : 'warn', up ? 'shipper connected to Postgres' : 'shipper lost Postgres; journaling', failure === null ? {} : { code: failure.code, message: failure.message });
    if (changed) this.report(true);
  }

  private readerFor(shard: number): JournalReader | null {
    const shardStatus = this.status.shards[shard];
    const existing = this.readers[shard];
    if (existing !== null) return existing;
    if (this.now() < this.openRetryAtMs[shard]) return null;
    try {
      const reader = JournalReader.openIfExists(
        journalPathOf(this.options.dataDir, shard),
        this.options.limits.journalReadBusyTimeoutMs,
      );
      this.readers[shard] = reader;
      shardStatus.journal = reader === null ? 'missing' : 'open';
      return reader;
    } catch (error) {
      shardStatus.journal = 'error';
      this.openRetryAtMs[shard] = this.now() + this.options.limits.shipRetryMaxMs;
      this.status.lastError = this.failure(error);
      this.log('error', 'cannot open a shard journal for shipping', { shard, ...this.status.lastError });
      return null;
    }
  }

  private sourceFor(shard: number, reader: JournalReader, table: ShipTableName): JournalSource<ShipTableName> {
    const sources = (this.sources[shard] ??= Object.fromEntries(shipTableNames.map((t) => [t, new JournalSource(reader, t)])) as Record<
      ShipTableName,
      JournalSource<ShipTableName>
    >);
    return sources[table];
  }

  private closeReader(shard: number): void {
    const reader = this.readers[shard];
    this.readers[shard] = null;
    this.sources[shard] = null;
    try {
      reader?.close();
    } catch {
      // closing a failed connection: nothing more to do
    }
  }

  /** Sends the status when forced or when shipStatusIntervalMs passed since the last; refreshes lag first. */
  private report(force: boolean): void {
    const now = this.now();
    if (!force && now - this.lastReportAtMs < this.options.limits.shipStatusIntervalMs) return;
    this.lastReportAtMs = now;
    this.refreshLag(now);
    this.status.atMs = now;
    try {
      this.options.report(structuredClone(this.status));
    } catch (error) {
      this.log('error', 'shipper status report failed', { message: errorMessage(error) });
    }
  }

  private refreshLag(now: number): void {
    let lagRows = 0;
    let oldestMs: number | null = null;
    let diskBytes = 0;
    for (let shard = 0; shard < this.options.shardCount; shard++) {
      // Opened here too: while Postgres is down, lag must still grow.
      const reader = this.readerFor(shard);
      const shardStatus = this.status.shards[shard];
      try {
        shardStatus.journalBytes = reader === null ? 0 : reader.diskBytes();
      } catch {
        // keep the last value; the reader's errors are reported by its batches
      }
      diskBytes += shardStatus.journalBytes;
      for (const table of shipTableNames) {
        const t = shardStatus.tables[table];
        const retry = this.retries[shard][table];
        if (reader === null) {
          t.lagRows = 0;
          t.oldestUnshippedAtMs = null;
          continue;
        }
        try {
          t.lagRows = reader.rowsAfter(table, t.watermark);
          if (t.lagRows === 0) {
            retry.pendingSinceMs = null;
            t.oldestUnshippedAtMs = null;
          } else {
            retry.pendingSinceMs ??= now;
            t.oldestUnshippedAtMs = reader.oldestTimeAfterMs(table, t.watermark) ?? retry.pendingSinceMs;
          }
        } catch (error) {
          // A row that does not decode is reported by its batch; lag keeps its last value.
          t.oldestUnshippedAtMs ??= retry.pendingSinceMs ?? now;
          if (error instanceof Database.SqliteError) this.closeReader(shard);
        }
        lagRows += t.lagRows;
        if (t.lagRows > 0 && t.oldestUnshippedAtMs !== null && (oldestMs === null || t.oldestUnshippedAtMs < oldestMs)) {
          oldestMs = t.oldestUnshippedAtMs;
        }
      }
    }
    this.status.lagRows = lagRows;
    this.status.lagSeconds = oldestMs === null ? 0 : Math.max(0, (now - oldestMs) / 1000);
    this.refreshDisk(diskBytes);
  }

  /** The journals' disk against the budget; a log line each time the level changes. */
  private refreshDisk(bytes: number): void {
    const disk = this.status.journalDisk;
    const fillRatio = bytes / disk.budgetBytes;
    const level: JournalDiskLevel = journalDiskLevel(fillRatio, this.options.journalBudgetWarnRatio);
    const previous = disk.level;
    disk.bytes = bytes;
    disk.fillRatio = fillRatio;
    disk.level = level;
    if (level === previous) return;
    const fields = { bytes, budgetBytes: disk.budgetBytes, percent: Math.round(fillRatio * 100), postgresUp: this.status.postgresUp, lagRows: this.status.lagRows };
    if (level === 'over') {
      this.log('error', 'journal is over its disk budget: signals are still accepted, but the disk may fill; restore Postgres or raise --journal-budget', fields);
    } else if (level === 'warning') {
      this.log('warn', 'journal is filling its disk budget (Postgres down or behind?)', fields);
    } else {
      this.log('info', 'journal back within its disk budget', fields);
    }
  }

  private failure(error: unknown): ShipFailure {
    const failure = { code: errorCode(error), message: errorMessage(error), atMs: this.now() };
    this.status.lastError = failure;
    return failure;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, message, fields);
  }
}

