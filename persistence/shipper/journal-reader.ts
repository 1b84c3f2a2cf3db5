/**
 * The shipper's own read-only connection to one shard's journal.
 *
 * WAL lets this reader run beside the shard worker that writes the file:
 * each statement reads one committed snapshot and never blocks the writer
 * (docs/threads.md: the shard worker is the file's only writer). Reads are
 * single statements, so no read transaction stays open between batches to
 * hold back the writer's WAL checkpoints.
 *
 * Why "journal_id > watermark" misses nothing: SQLite has one writer at a
 * time and AUTOINCREMENT ids are assigned inside the writing transaction, so
 * once id N is visible every id below N that will ever exist is visible
 * too (unlike a Postgres sequence, no later commit fills a gap below N).
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { JournalError, JournalErrorCode } from '../journal-codec';
import { journalApplicationId, journalSchemaVersion } from '../journal-schema';
import { journalRowsSpecs, shipTableNames, type ShipRowOf, type ShipTableName } from './journal-rows';

export { journalPathOf } from '../journal';

export interface ReadLimits {
  rowsMax: number;
  bytesMax: number;
}

/** Journal rows as read, bounded but not checked yet (JournalReader.readUnchecked). */
export interface UncheckedRows<T extends ShipTableName> {
  table: T;
  afterId: number;
  raw: Record<string, unknown>[];
}

/** Tables whose rows are only ever appended (no row above a watermark is deleted): lag is max id minus watermark. */
const appendOnly: ReadonlySet<ShipTableName> = new Set(['signals', 'states', 'security_events']);

export class JournalReader {
  private readonly select: { [T in ShipTableName]: Database.Statement<[number, number], Record<string, unknown>> };
  private readonly highestId: Database.Statement<[string], number | null>;
  private readonly countAfter: { [T in ShipTableName]: Database.Statement<[number], number> };
  private readonly lowestId: { [T in ShipTableName]: Database.Statement<[], number | null> };
  private isOpen = true;

  private constructor(
    private readonly db: Database.Database,
    readonly filePath: string,
  ) {
    this.select = Object.fromEntries(
      shipTableNames.map((t) => [t, db.prepare<[number, number], Record<string, unknown>>(journalRowsSpecs[t].selectAfterSql)]),
    ) as JournalReader['select'];
    // sqlite_sequence keeps the highest id AUTOINCREMENT ever gave out, even after deletes.
    this.highestId = db.prepare<[string], number | null>('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck();
    this.countAfter = Object.fromEntries(
      shipTableNames.map((t) => [t, db.prepare<[number], number>(`SELECT count(*) FROM ${t} WHERE journal_id > ?`).pluck()]),
    ) as JournalReader['countAfter'];
    this.lowestId = Object.fromEntries(
      shipTableNames.map((t) => [t, db.prepare<[], number | null>(`SELECT min(journal_id) FROM ${t}`).pluck()]),
    ) as JournalReader['lowestId'];
  }

  /**
   * Opens the file read-only, or returns null while it does not exist yet
   * (the shard creates it). Throws if it is not a sigplane journal of the
   * version this build reads.
   */
  static openIfExists(filePath: string, busyTimeoutMs: number): JournalReader | null {
    if (!fs.existsSync(filePath)) return null;
    const db = new Database(filePath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    try {
      const applicationId = db.pragma('application_id', { simple: true });
      const version = db.pragma('user_version', { simple: true });
      if (applicationId === 0 && version === 0) {
        // Created but its schema not committed yet: try again later.
        db.close();
        return null;
      }
      if (applicationId !== journalApplicationId || version !== journalSchemaVersion) {
        throw new JournalError(
          JournalErrorCode.SCHEMA,
          `${filePath}: application_id ${String(applicationId)}, user_version ${String(version)}; this build ships journal schema ${journalSchemaVersion}`,
        );
      }
      return new JournalReader(db, filePath);
    } catch (error) {
      if (db.open) db.close();
      throw error;
    }
  }

  /** Highest journal_id ever assigned in `table` (0: none yet). */
  highestJournalId(table: ShipTableName): number {
    this.assertOpen();
    const id = this.highestId.get(table) ?? 0;
    if (!Number.isSafeInteger(id) || id < 0) throw this.corrupt(`sqlite_sequence for ${table} is ${String(id)}`);
    return id;
  }

  /**
   * Rows with journal_id > afterId, ascending, checked, at most rowsMax and
   * (past the first row) at most bytesMax. One statement: one snapshot.
   * A row that fails its checks ends the batch before it; read first, it
   * throws (JOURNAL_CORRUPT or SHIP_UNSHIPPABLE_ROW), so nothing after it is
   * ever shipped past it.
   */
  readAfter<T extends ShipTableName>(table: T, afterId: number, limits: ReadLimits): ShipRowOf[T][] {
    return this.checkRows(this.readUnchecked(table, afterId, limits));
  }

  /**
   * readAfter in two steps, for a caller that spreads its work: this one
   * runs the statement and applies the bounds; checkRows() does the rest.
   */
  readUnchecked<T extends ShipTableName>(table: T, afterId: number, limits: ReadLimits): UncheckedRows<T> {
    this.assertOpen();
    if (!Number.isSafeInteger(afterId) || afterId < 0 || !(limits.rowsMax >= 1) || !(limits.bytesMax >= 1)) {
      throw new JournalError(JournalErrorCode.INVALID_ARGUMENT, `readAfter(${table}, ${afterId}, ${JSON.stringify(limits)})`);
    }
    const spec = journalRowsSpecs[table];
    const raw: Record<string, unknown>[] = [];
    let bytes = 0;
    for (const row of this.select[table].iterate(afterId, limits.rowsMax)) {
      bytes += spec.rawBytes(row);
      if (raw.length > 0 && bytes > limits.bytesMax) break;
      raw.push(row);
    }
    if (raw.length > limits.rowsMax) throw this.corrupt(`${table}: read ${raw.length} rows, asked at most ${limits.rowsMax}`);
    return { table, afterId, raw };
  }

  /** The rows of readUnchecked, checked as readAfter says. */
  checkRows<T extends ShipTableName>(read: UncheckedRows<T>): ShipRowOf[T][] {
    const { table } = read;
    const spec = journalRowsSpecs[table];
    const rows: ShipRowOf[T][] = [];
    let previous = read.afterId;
    for (const raw of read.raw) {
      let row: ShipRowOf[T];
      try {
        row = spec.check(raw, this.filePath) as ShipRowOf[T];
      } catch (error) {
        // Ship what precedes a bad row; the next read starts at it and throws.
        if (rows.length > 0) break;
        throw error;
      }
      if (!(row.journalId > previous)) throw this.corrupt(`${table}: journal_id ${row.journalId} after ${previous}`);
      previous = row.journalId;
      rows.push(row);
    }
    return rows;
  }

  /**
   * Rows with journal_id > afterId (exact: append-only tables have no holes
   * above a watermark). Pruning (journal-pruner.ts) deletes only at or below
   * the watermark Postgres had; counting from the lowest row still present
   * keeps the count right even if a watermark is later set lower (a replay).
   */
  rowsAfter(table: ShipTableName, afterId: number): number {
    this.assertOpen();
    if (appendOnly.has(table)) {
      const highest = this.highestJournalId(table);
      const lowest = this.lowestId[table].get() ?? highest + 1;
      return Math.max(0, highest - Math.max(afterId, lowest - 1));
    }
    return this.countAfter[table].get(afterId) ?? 0;
  }

  /** Time (ms) of the oldest row after afterId, if the table keeps one. */
  oldestTimeAfterMs(table: ShipTableName, afterId: number): number | null {
    if (table === 'cursors') return null;
    const [row] = this.readAfter(table, afterId, { rowsMax: 1, bytesMax: Number.MAX_SAFE_INTEGER });
    if (row === undefined) return null;
    return (journalRowsSpecs[table].timeMs as (r: typeof row) => number | null)(row);
  }

  /** Disk in use: pages in use (not the free list, which SQLite reuses) plus the WAL file. */
  diskBytes(): number {
    this.assertOpen();
    const pageBytes = this.db.pragma('page_size', { simple: true }) as number;
    const pages = (this.db.pragma('page_count', { simple: true }) as number) - (this.db.pragma('freelist_count', { simple: true }) as number);
    let walBytes = 0;
    try {
      walBytes = fs.statSync(`${this.filePath}-wal`).size;
    } catch {
      walBytes = 0; // no WAL file right now
    }
    return Math.max(0, pages) * pageBytes + walBytes;
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.db.close();
  }

  private corrupt(message: string): JournalError {
    return new JournalError(JournalErrorCode.CORRUPT, `${this.filePath}: ${message}`);
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new JournalError(JournalErrorCode.CLOSED, `${this.filePath} (shipper reader) is closed`);
  }
}
