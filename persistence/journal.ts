/**
 * The shard worker's local SQLite journal (better-sqlite3, WAL).
 *
 * Every accepted signal, master snapshot, receiver cursor, state change and
 * security event lands here, in ONE transaction per batch, before anything of
 * the batch is acked or delivered. After kill -9 and restart, `recover`
 * streams back what each subscription actor needs.
 *
 * Connections (docs/threads.md): the file has two writers, each on its own
 * connection through this class. The shard worker appends every batch
 * (`commit`); the shipper thread's pruner
 * (persistence/shipper/journal-pruner.ts) deletes rows already in Postgres
 * and writes checkpoints (`prune`, `pruneShipped*`, `checkpoint`). SQLite's
 * file lock serialises them: a writer holds the write lock for the length
 * of its transaction, and the other waits for it up to its busy timeout
 * (the shard journalLimits.busyTimeoutMs; the pruner, whose transactions
 * are short, journalRetention.pruneBusyTimeoutMs). The shipper's reader
 * (journal-reader.ts) opens the file read-only; in WAL mode readers wait for
 * neither writer.
 *
 * Durability (`JournalSync`, PRAGMA synchronous):
 * - 'normal': WAL frames are written (page cache) at each commit and fsynced
 *   at checkpoints. Survives a process crash (kill -9); a power loss or
 *   kernel panic may lose the last commits (never corrupts the file).
 * - 'full': every commit fsyncs the WAL. Survives power loss too.
 *
 * Retention: `prune` deletes old signals only at or below the latest
 * snapshot/checkpoint, so `recover` (latest snapshot + every signal after
 * it) always rebuilds the same book. `checkpoint` stores a server-made
 * snapshot so a quiet master's journal can be pruned too. The shipper
 * thread runs both, on its own connection, for rows already in Postgres
 * (persistence/shipper/journal-pruner.ts): `stats().signals` counts only
 * what this connection wrote and deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { HistoryReader } from '../actors/actor-types';
import {
  journalLimits,
  type ExecutionReportRecord,
  type SecurityEvent,
  type SignalRecord,
  type SnapshotRecord,
  type SubscriptionState,
} from '@sigplane/protocol';
import {
  JournalError,
  JournalErrorCode,
  checkCursor,
  checkExecutionReportRecord,
  checkSecurityEvent,
  checkState,
  decodeSignal,
  decodeSnapshot,
  encodeSignal,
  encodeSnapshot,
  type Blob,
} from './journal-codec';
import { prepareOwnerOnlyJournal } from './journal-files';
import { openSchema, prepareAll, type Row } from './journal-schema';

export { JournalError, JournalErrorCode } from './journal-codec';

/** Shard i's journal file in the data folder (the shard appends to it; the shipper reads it and prunes it). */
export function journalPathOf(dataDir: string, shard: number): string {
  return path.join(dataDir, `journal-shard-${shard}.sqlite`);
}

/** PRAGMA synchronous: 'normal' with WAL survives kill -9 but not power loss; 'full' survives both. */
export type JournalSync = 'full' | 'normal';

export interface JournalBatch {
  signals: SignalRecord[];
  snapshots: SnapshotRecord[];
  /** Upsert, keeping the max per (subscription, receiver). */
  cursors: { subscriptionId: string; receiverId: string; sequence: number }[];
  states: { subscriptionId: string; state: SubscriptionState; sequence: number; reason: string; atMs: number }[];
  securityEvents: SecurityEvent[];
  /** Receivers' execution reports; one already journaled (same key) is ignored. Optional for callers that never write any. */
  executionReports?: ExecutionReportRecord[];
}

export type SnapshotKind = 'master' | 'checkpoint';

/** What one subscription's actor is rebuilt from. */
export interface RecoveredSubscription {
  subscriptionId: string;
  /** The latest snapshot or checkpoint (highest sequence), or null: the book starts empty. */
  snapshot: SnapshotRecord | null;
  snapshotKind: SnapshotKind | null;
  /** The latest state change, or null (never changed: ACTIVE). */
  state: { state: SubscriptionState; reason: string; sequence: number; atMs: number } | null;
  /** Highest acknowledged sequence per receiver. */
  cursors: { receiverId: string; sequence: number }[];
  /** max(snapshot sequence, highest journaled signal): the last accepted sequence. */
  lastSequence: number;
}

export interface JournalStats {
  signals: number;
  snapshots: number;
  states: number;
  cursors: number;
  securityEvents: number;
  /** Transactions committed by this process. */
  commits: number;
  /** Main file plus WAL. */
  bytes: number;
  walBytes: number;
  /** PRAGMA synchronous as the connection reports it. */
  sync: JournalSync;
}

/**
 * A write found no space left on the journal's filesystem (SQLITE_FULL): the
 * transaction was rolled back, and the same write may succeed once there is
 * room. (An I/O error after ENOSPC, say a failed fsync, is not this: it
 * poisons the journal; see `write`.)
 */
export function isOutOfSpace(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code === 'SQLITE_FULL';
}

/** SQLite errors after which the connection's view of the file cannot be trusted. */
const fatalSqliteCode = /^SQLITE_(IOERR|CORRUPT|NOTADB|CANTOPEN|PROTOCOL)/;

/** The blobs of a batch, encoded (and so checked) before its transaction begins. */
type EncodedBatch = { signals: Blob[]; snapshots: Blob[] };

export class Journal implements HistoryReader {
  private readonly s: ReturnType<typeof prepareAll>;
  private isOpen = true;
  /** Set by an I/O-level failure: every later write refuses. */
  private failure: Error | null = null;
  private signalCount: number;
  private securityEventTotal: number;
  private commits = 0;
  private readonly commitTransaction: (batch: JournalBatch, encoded: EncodedBatch) => void;
  private readonly checkpointTransaction: (snapshot: SnapshotRecord, blob: Blob) => void;
  private readonly pruneTransaction: (subscriptionId: string, keepLast: number, journalIdMax: number) => number;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.s = prepareAll(db);
    this.signalCount = this.s.count.signals.get()!;
    this.securityEventTotal = this.s.count.security_events.get()!;
    this.commitTransaction = db.transaction((batch: JournalBatch, encoded: EncodedBatch) => this.writeBatch(batch, encoded)).immediate;
    this.checkpointTransaction = db.transaction((snapshot: SnapshotRecord, blob: Blob) => this.writeCheckpoint(snapshot, blob)).immediate;
    this.pruneTransaction = db.transaction((subscriptionId: string, keepLast: number, journalIdMax: number) =>
      this.deleteOld(subscriptionId, keepLast, journalIdMax),
    ).immediate;
  }

  /** Creates the folder (0700) and file (0600) if needed, tightens an existing file and its -wal and -shm (persistence/journal-files.ts), sets WAL and pragmas, creates or checks the schema. */
  static open(filePath: string, options: { sync: JournalSync; busyTimeoutMs?: number }): Journal {
    if (options.sync !== 'full' && options.sync !== 'normal') {
      throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, `sync must be 'full' or 'normal', got ${String(options.sync)}`);
    }
    prepareOwnerOnlyJournal(filePath);
    const db = new Database(filePath, { timeout: options.busyTimeoutMs ?? journalLimits.busyTimeoutMs });
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new JournalError(JournalErrorCode.SCHEMA, `${filePath}: journal_mode is ${String(mode)}, not wal`);
      db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
      const synchronous = db.pragma('synchronous', { simple: true });
      if (synchronous !== (options.sync === 'full' ? 2 : 1)) {
        throw new JournalError(JournalErrorCode.SCHEMA, `${filePath}: synchronous is ${String(synchronous)}`);
      }
      db.pragma('temp_store = MEMORY');
      db.pragma(`wal_autocheckpoint = ${journalLimits.walAutocheckpointPages}`);
      db.pragma(`journal_size_limit = ${journalLimits.walSizeLimitBytes}`);
      db.pragma(`cache_size = -${journalLimits.cacheSizeKiB}`);
      db.pragma('cell_size_check = ON');
      openSchema(db, filePath);
      return new Journal(db, filePath);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Writes the whole batch in ONE transaction, or nothing. Every record is
   * checked and encoded before the transaction starts. Throws on any failure:
   * the caller must then not ack anything of the batch.
   */
  commit(batch: JournalBatch): void {
    this.assertWritable();
    const encoded: EncodedBatch = { signals: batch.signals.map(encodeSignal), snapshots: batch.snapshots.map(encodeSnapshot) };
    for (const cursor of batch.cursors) checkCursor(cursor);
    for (const state of batch.states) checkState(state);
    for (const event of batch.securityEvents) checkSecurityEvent(event);
    const reports = batch.executionReports ?? [];
    for (const report of reports) checkExecutionReportRecord(report);
    const rows =
      batch.signals.length + batch.snapshots.length + batch.cursors.length + batch.states.length + batch.securityEvents.length + reports.length;
    if (rows === 0) return;
    this.write(() => this.commitTransaction(batch, encoded));
    this.signalCount += batch.signals.length;
    this.securityEventTotal += batch.securityEvents.length;
    this.commits++;
  }

  /**
   * Stores a server-made snapshot of the book at `snapshot.sequence`, which
   * lets `prune` delete signals up to it. It must describe committed state:
   * not behind the latest snapshot, not ahead of the last journaled sequence.
   */
  checkpoint(snapshot: SnapshotRecord): void {
    this.assertWritable();
    const blob = encodeSnapshot(snapshot);
    this.write(() => this.checkpointTransaction(snapshot, blob));
    this.commits++;
  }

  /** Accepted signals with from <= sequence <= to, ascending, at most `limit`; each verified. */
  readSignals(subscriptionId: string, fromSequence: number, toSequence: number, limit: number): SignalRecord[] {
    this.assertOpen();
    if (
      typeof subscriptionId !== 'string' ||
      !Number.isSafeInteger(fromSequence) ||
      !Number.isSafeInteger(toSequence) ||
      !Number.isSafeInteger(limit) ||
      limit < 0 ||
      limit > journalLimits.readSignalsLimitMax
    ) {
      throw new JournalError(
        JournalErrorCode.INVALID_ARGUMENT,
        `readSignals(${JSON.stringify(subscriptionId)}, ${fromSequence}, ${toSequence}, ${limit})`,
      );
    }
    if (limit === 0 || fromSequence > toSequence) return [];
    const rows = this.s.readSignals.all(subscriptionId, fromSequence, toSequence, limit);
    const records: SignalRecord[] = [];
    let previous = fromSequence - 1;
    for (const row of rows) {
      if (!(row.sequence > previous && row.sequence <= toSequence)) {
        throw this.corrupt(`readSignals ${JSON.stringify(subscriptionId)}: row sequence ${row.sequence} out of order`);
      }
      previous = row.sequence;
      records.push(this.decodeSignalRow(subscriptionId, row));
    }
    return records;
  }

  /**
   * Streams, one subscription at a time (ascending id), what its actor is
   * rebuilt from: the latest snapshot, latest state, cursors, and the signals
   * after the snapshot in sequence order. `signalsAfterSnapshot` is read
   * lazily, page by page, and may be iterated once, only inside the callback.
   * Every record is verified; a gap after the snapshot is corruption. Run it
   * before the first commit.
   */
  recover(onSubscription: (r: RecoveredSubscription, signalsAfterSnapshot: Iterable<SignalRecord>) => void): void {
    this.assertOpen();
    let after = '';
    for (;;) {
      const subscriptionId = this.nextSubscriptionId(after);
      if (subscriptionId === null) return;
      if (!(subscriptionId > after)) throw this.corrupt(`recover: subscription ids not ascending at ${JSON.stringify(subscriptionId)}`);
      after = subscriptionId;

      const snapshotRow = this.s.latestSnapshot.get(subscriptionId);
      const snapshot = snapshotRow === undefined ? null : this.decodeSnapshotRow(subscriptionId, snapshotRow);
      const stateRow = this.s.latestState.get(subscriptionId);
      const lastSignal = this.s.lastSignalSequence.get(subscriptionId) ?? 0;
      const recovered: RecoveredSubscription = {
        subscriptionId,
        snapshot,
        snapshotKind: snapshotRow?.kind ?? null,
        state:
          stateRow === undefined
            ? null
            : { state: stateRow.state, reason: stateRow.reason, sequence: stateRow.sequence, atMs: stateRow.at_ms },
        cursors: this.s.cursorsOf.all(subscriptionId).map((c) => ({ receiverId: c.receiver_id, sequence: c.sequence })),
        lastSequence: Math.max(snapshot?.sequence ?? 0, lastSignal),
      };
      this.checkReadBack(recovered);
      const signals = new SignalsAfter(this, subscriptionId, snapshot === null ? null : snapshot.sequence);
      try {
        onSubscription(recovered, signals);
      } finally {
        signals.expire();
      }
    }
  }

  /**
   * Retention: deletes this subscription's signals that are both outside the
   * newest `keepLast` and at or below the latest snapshot/checkpoint (so
   * recovery is unchanged), at most `journalLimits.pruneRowsMax` per call
   * (call again while it returns that many), and the snapshots older than
   * the latest. With `journalIdMax` (the shipper's watermark of signals),
   * only signals with journal_id <= journalIdMax go: rows not yet in
   * Postgres stay. Returns the number of signals deleted.
   */
  prune(subscriptionId: string, keepLast: number, journalIdMax: number = Number.MAX_SAFE_INTEGER): number {
    this.assertWritable();
    if (typeof subscriptionId !== 'string' || !Number.isSafeInteger(keepLast) || keepLast < 0 || !Number.isSafeInteger(journalIdMax) || journalIdMax < 0) {
      throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, `prune(${JSON.stringify(subscriptionId)}, ${keepLast}, ${journalIdMax})`);
    }
    const deleted = this.write(() => this.pruneTransaction(subscriptionId, keepLast, journalIdMax));
    if (!(deleted >= 0 && deleted <= journalLimits.pruneRowsMax)) throw this.corrupt(`prune deleted ${deleted} rows`);
    this.signalCount -= deleted;
    return deleted;
  }

  /**
   * Retention of the append-only histories, in one transaction of at most
   * `rowsMax` rows: state changes with journal_id <= statesJournalIdMax that
   * a later change of the same subscription replaced (recovery reads only
   * the latest), and security events with journal_id <= eventsJournalIdMax
   * (recovery never reads them). The bounds are the shipper's watermarks.
   */
  pruneShippedHistory(statesJournalIdMax: number, eventsJournalIdMax: number, rowsMax: number): { states: number; securityEvents: number } {
    this.assertWritable();
    for (const n of [statesJournalIdMax, eventsJournalIdMax, rowsMax]) {
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, `pruneShippedHistory(${statesJournalIdMax}, ${eventsJournalIdMax}, ${rowsMax})`);
      }
    }
    return this.write(() =>
      this.db.transaction(() => {
        const states = this.s.deleteReplacedStates.run(statesJournalIdMax, rowsMax).changes;
        const securityEvents = this.s.deleteSecurityEventsUpTo.run(eventsJournalIdMax, Math.max(0, rowsMax - states)).changes;
        return { states, securityEvents };
      }).immediate(),
    );
  }

  /** The next subscription (ascending id) with journaled signals after `after` ('' for the first), or null. */
  nextSignalSubscription(after: string): string | null {
    this.assertOpen();
    const id = this.s.nextSubscription[0]!.get(after) as string | null | undefined;
    return typeof id === 'string' ? id : null;
  }

  /**
   * The highest sequence a checkpoint may cover so that prune(sub, keepLast,
   * journalIdMax) could delete everything at or below it: the newest signal
   * outside the newest `keepLast` that is also at or below journalIdMax;
   * null when there is none.
   */
  retentionTarget(subscriptionId: string, keepLast: number, journalIdMax: number): number | null {
    this.assertOpen();
    const outside = this.s.nthNewestSignal.get(subscriptionId, keepLast);
    if (outside === undefined) return null;
    const shipped = this.s.newestSignalUpToJournalId.get(subscriptionId, journalIdMax);
    if (shipped === null || shipped === undefined) return null;
    return Math.min(outside, shipped);
  }

  /** The latest snapshot or checkpoint of a subscription (what recovery starts from), verified, or null. */
  latestSnapshot(subscriptionId: string): SnapshotRecord | null {
    this.assertOpen();
    const row = this.s.latestSnapshot.get(subscriptionId);
    return row === undefined ? null : this.decodeSnapshotRow(subscriptionId, row);
  }

  /** Security events journaled (this file, all time minus nothing: the table is append-only). */
  securityEventCount(): number {
    this.assertOpen();
    return this.securityEventTotal;
  }

  stats(): JournalStats {
    this.assertOpen();
    const pageBytes = (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
    let walBytes = 0;
    try {
      walBytes = fs.statSync(`${this.path}-wal`).size;
    } catch {
      walBytes = 0; // no WAL file right now
    }
    return {
      signals: this.signalCount,
      snapshots: this.s.count.snapshots.get()!,
      states: this.s.count.states.get()!,
      cursors: this.s.count.cursors.get()!,
      securityEvents: this.securityEventTotal,
      commits: this.commits,
      bytes: pageBytes + walBytes,
      walBytes,
      sync: this.db.pragma('synchronous', { simple: true }) === 2 ? 'full' : 'normal',
    };
  }

  /** Closes the connection (SQLite checkpoints the WAL into the main file). Idempotent. */
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.db.close();
  }

  // ------------------------------------------------------------ internals

  /** The transaction body: signals, then snapshots, cursors, states, security events. */
  private writeBatch(batch: JournalBatch, encoded: EncodedBatch): void {
    const snapshotSequenceBefore = new Map<string, number>();
    for (let i = 0; i < batch.signals.length; i++) {
      const { subscriptionId: sub, sequence } = batch.signals[i];
      let covered = snapshotSequenceBefore.get(sub);
      if (covered === undefined) {
        covered = this.s.latestSnapshotSequence.get(sub) ?? -1;
        snapshotSequenceBefore.set(sub, covered);
      }
      if (sequence <= covered) {
        throw new JournalError(
          JournalErrorCode.OUT_OF_ORDER,
          `signal subscription ${JSON.stringify(sub)} sequence ${sequence}: at or below the latest snapshot (${covered}); recovery would skip it`,
        );
      }
      try {
        this.s.insertSignal.run(sub, sequence, encoded.signals[i].bytes, encoded.signals[i].checksum);
      } catch (error) {
        if (error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new JournalError(
            JournalErrorCode.DUPLICATE_SIGNAL,
            `signal subscription ${JSON.stringify(sub)} sequence ${sequence} is already journaled; nothing of the batch was written`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    for (let i = 0; i < batch.snapshots.length; i++) {
      const snapshot = batch.snapshots[i];
      const latest = this.s.latestSnapshotSequence.get(snapshot.subscriptionId) ?? null;
      if (latest !== null && snapshot.sequence < latest) {
        throw new JournalError(
          JournalErrorCode.OUT_OF_ORDER,
          `snapshot subscription ${JSON.stringify(snapshot.subscriptionId)} sequence ${snapshot.sequence}: behind the latest snapshot (${latest})`,
        );
      }
      const blob = encoded.snapshots[i];
      this.s.insertSnapshot.run(snapshot.subscriptionId, snapshot.sequence, 'master', blob.bytes, blob.checksum);
    }
    for (const c of batch.cursors) {
      this.s.upsertCursor.run({ sub: c.subscriptionId, receiver: c.receiverId, sequence: c.sequence });
    }
    for (const st of batch.states) {
      this.s.insertState.run(st.subscriptionId, st.state, st.sequence, st.reason, st.atMs);
    }
    for (const e of batch.securityEvents) {
      this.s.insertSecurityEvent.run(e.atMs, e.code, e.subscriptionId, e.role, e.remoteAddress, e.sequence, e.detail);
    }
    for (const r of batch.executionReports ?? []) {
      this.s.insertExecutionReport.run({
        sub: r.subscriptionId,
        receiver: r.receiverId,
        sequence: r.sequence,
        position: r.masterPositionId,
        kind: r.kind,
        outcome: r.outcome,
        ticket: r.ticket,
        requested: r.requestedVolume,
        volume: r.volume,
        price: r.price,
        slippage: r.slippagePips,
        delay: r.delayMs,
        profit: r.profit,
        currency: r.currency,
        reason: r.reason,
        executedAt: r.executedAtMs,
        receivedAt: r.receivedAtMs,
      });
    }
  }

  /** Execution reports with journal_id <= journalIdMax (the shipper's watermark), at most rowsMax, in one transaction. */
  pruneShippedReports(journalIdMax: number, rowsMax: number): number {
    this.assertWritable();
    for (const n of [journalIdMax, rowsMax]) {
      if (!Number.isSafeInteger(n) || n < 0) throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, `pruneShippedReports(${journalIdMax}, ${rowsMax})`);
    }
    return this.write(() => this.s.deleteExecutionReportsUpTo.run(journalIdMax, rowsMax).changes);
  }

  /** Execution reports journaled in this file now. */
  executionReportCount(): number {
    this.assertOpen();
    return this.s.count.execution_reports.get()!;
  }

  private writeCheckpoint(snapshot: SnapshotRecord, blob: Blob): void {
    const sub = snapshot.subscriptionId;
    const latest = this.s.latestSnapshotSequence.get(sub) ?? null;
    const last = Math.max(latest ?? 0, this.s.lastSignalSequence.get(sub) ?? 0);
    if ((latest !== null && snapshot.sequence < latest) || snapshot.sequence > last) {
      throw new JournalError(
        JournalErrorCode.OUT_OF_ORDER,
        `checkpoint subscription ${JSON.stringify(sub)} sequence ${snapshot.sequence}: must lie between ` +
          `the latest snapshot (${latest ?? 'none'}) and the last journaled sequence (${last})`,
      );
    }
    this.s.insertSnapshot.run(sub, snapshot.sequence, 'checkpoint', blob.bytes, blob.checksum);
  }

  private deleteOld(subscriptionId: string, keepLast: number, journalIdMax: number): number {
    const latest = this.s.latestSnapshot.get(subscriptionId);
    if (latest === undefined) return 0; // no snapshot: recovery needs every signal
    this.s.deleteOtherSnapshots.run(subscriptionId, latest.journal_id);
    const newestOutside = this.s.nthNewestSignal.get(subscriptionId, keepLast);
    if (newestOutside === undefined) return 0; // keepLast or fewer signals
    let upTo = Math.min(newestOutside, latest.sequence);
    if (journalIdMax < Number.MAX_SAFE_INTEGER) {
      const shipped = this.s.newestSignalUpToJournalId.get(subscriptionId, journalIdMax);
      if (shipped === null || shipped === undefined) return 0; // nothing shipped yet
      upTo = Math.min(upTo, shipped);
    }
    const bound = this.s.nthOldestSignalUpTo.get(subscriptionId, upTo, journalLimits.pruneRowsMax - 1);
    if (bound !== undefined) upTo = Math.min(upTo, bound);
    return this.s.deleteSignalsUpTo.run(subscriptionId, upTo, journalIdMax).changes;
  }

  /** States and cursors carry no checksum: their rows are checked again as read (SQLite's CHECKs hold them too). */
  private checkReadBack(r: RecoveredSubscription): void {
    try {
      if (r.state !== null) checkState({ subscriptionId: r.subscriptionId, ...r.state });
      for (const c of r.cursors) checkCursor({ subscriptionId: r.subscriptionId, ...c });
      if (!Number.isSafeInteger(r.lastSequence) || r.lastSequence < 0) throw new Error(`lastSequence ${r.lastSequence}`);
    } catch (error) {
      throw this.corrupt(`recover subscription ${JSON.stringify(r.subscriptionId)}: ${(error as Error).message}`);
    }
  }

  /** Runs a write; an I/O-level SQLite error poisons the journal (fsync errors are not retried). */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof Database.SqliteError && fatalSqliteCode.test(error.code)) this.failure = error;
      throw error;
    }
  }

  private nextSubscriptionId(after: string): string | null {
    let next: string | null = null;
    for (const statement of this.s.nextSubscription) {
      const id = statement.get(after) as string | null | undefined;
      if (typeof id === 'string' && (next === null || id < next)) next = id;
    }
    return next;
  }

  /** @internal one page of verified signals after `afterSequence`, for SignalsAfter. */
  signalsPage(subscriptionId: string, afterSequence: number): SignalRecord[] {
    this.assertOpen();
    const rows = this.s.signalsAfter.all(subscriptionId, afterSequence, journalLimits.recoverSignalsPageMax);
    return rows.map((row) => this.decodeSignalRow(subscriptionId, row));
  }

  /** @internal */
  corrupt(message: string): JournalError {
    return new JournalError(JournalErrorCode.CORRUPT, `${this.path}: ${message}`);
  }

  private decodeSignalRow(subscriptionId: string, row: Row): SignalRecord {
    return decodeSignal(row.record, row.checksum, {
      table: 'signals',
      subscriptionId,
      sequence: row.sequence,
      journalId: row.journal_id,
    });
  }

  private decodeSnapshotRow(subscriptionId: string, row: Row): SnapshotRecord {
    return decodeSnapshot(row.record, row.checksum, {
      table: 'snapshots',
      subscriptionId,
      sequence: row.sequence,
      journalId: row.journal_id,
    });
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new JournalError(JournalErrorCode.CLOSED, `${this.path} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure !== null) {
      throw new JournalError(JournalErrorCode.FAILED, `${this.path}: an earlier I/O error (${this.failure.message}); restart and recover`, {
        cause: this.failure,
      });
    }
  }
}

/**
 * The signals after a snapshot, read a page at a time. Iterable once, only
 * while its recover callback runs; checks that sequences follow each other.
 */
class SignalsAfter implements Iterable<SignalRecord> {
  private live = true;
  private started = false;

  constructor(
    private readonly journal: Journal,
    private readonly subscriptionId: string,
    private readonly snapshotSequence: number | null,
  ) {}

  expire(): void {
    this.live = false;
  }

  *[Symbol.iterator](): Iterator<SignalRecord> {
    if (this.started) throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, 'signalsAfterSnapshot may be iterated once');
    this.started = true;
    let last = this.snapshotSequence ?? 0;
    let expected = this.snapshotSequence === null ? null : this.snapshotSequence + 1;
    for (;;) {
      this.assertLive();
      const page = this.journal.signalsPage(this.subscriptionId, last);
      for (const record of page) {
        if (expected !== null && record.sequence !== expected) {
          throw this.journal.corrupt(
            `recover subscription ${JSON.stringify(this.subscriptionId)}: expected sequence ${expected} after ` +
              `${this.snapshotSequence === null ? 'the previous signal' : `snapshot ${this.snapshotSequence}`}, found ${record.sequence}`,
          );
        }
        expected = record.sequence + 1;
        last = record.sequence;
        this.assertLive();
        yield record;
      }
      if (page.length < journalLimits.recoverSignalsPageMax) return;
    }
  }

  private assertLive(): void {
    if (!this.live) {
      throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, 'signalsAfterSnapshot used after its recover callback returned');
    }
  }
}
