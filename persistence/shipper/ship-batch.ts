/**
 * One shipping transaction: the rows of one journal table of one shard
 * after its watermark, moved into Postgres together with the new watermark.
 *
 *   BEGIN
 *   SELECT shipped_journal_id ... FOR UPDATE     -- W; a second shipper of the same journal waits here
 *   read journal rows with journal_id > W        -- SQLite, read-only, one snapshot, checked
 *   signals, the direct way (pg-tables.ts `direct`):
 *     SAVEPOINT; COPY signals FROM STDIN (FORMAT binary); RELEASE
 *     refused (a key already there: a replay)? ROLLBACK TO SAVEPOINT, then the staging way
 *   every other table, the staging way:
 *     COPY staging FROM STDIN                    -- text, TEMP, ON COMMIT DELETE ROWS
 *     INSERT INTO target SELECT ... ON CONFLICT  -- DO NOTHING (cursors: raise only)
 *   UPDATE journal_watermarks SET shipped_journal_id = max id WHERE ... = W
 *   COMMIT
 *
 * The rows and the watermark commit together or not at all, so a crash at
 * any instant neither loses a row (the watermark never passes an uncommitted
 * row) nor duplicates one (a committed row is below the watermark; and were
 * the watermark ever wrong, the direct COPY fails on the unique key and the
 * staging way's ON CONFLICT makes the replay change nothing).
 */
import { finished } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { JournalReader, ReadLimits, UncheckedRows } from './journal-reader';
import type { ShipRowOf, ShipTableName } from './journal-rows';
import { BinaryCopyWriter } from './copy-binary';
import { pgTableSpecs, type PgTableSpec } from './pg-tables';
import { isConnectionError, ShipError, ShipErrorCode } from './ship-errors';

/** Places a test may stop the shipper at (fault injection). */
export type ShipFaultPoint = 'afterCopy' | 'beforeCommit' | 'afterCommit';

/** Called at each fault point; a test's hook throws or ends the thread there. */
export type FaultHook = (point: ShipFaultPoint, table: ShipTableName, shard: number) => void;

/**
 * A batch read and encoded, ready for its transaction: the rows, and their
 * COPY data cut into chunks: binary for the table's direct way when it has
 * one (`direct`), else the text for its staging table.
 */
export interface ReadyBatch<T extends ShipTableName> {
  rows: ShipRowOf[T][];
  copyChunks: Buffer[];
  direct: boolean;
}

/** What reading a batch is bounded by (limits.copyChunkBytes: the COPY data's chunk size). */
export interface BatchReadLimits extends ReadLimits {
  copyChunkBytes: number;
}

/** Where a batch's rows come from: a shard journal's table (JournalSource), or memory (the benchmark). */
export interface BatchSource<T extends ShipTableName> {
  table: T;
  /** Names the source in errors (the journal's path). */
  name: string;
  /** Highest journal_id ever given in the table (0: none). */
  highestJournalId(): number;
  /** Checked rows after the watermark, ascending, within the limits, encoded (readyBatch). */
  batchAfter(watermark: number, limits: BatchReadLimits): ReadyBatch<T>;
  /**
   * Optional: start on the batch after `watermark` while Postgres works on
   * the current one, for a later batchAfter(watermark). Reads now (during
   * the current COPY) and returns the rest of the work (checks, encoding),
   * to run while Postgres still works on the current batch (the rest of
   * the direct COPY, or the staging way's INSERT). Neither step throws.
   */
  prefetch?(watermark: number, limits: BatchReadLimits): () => void;
}

/**
 * The rows with their COPY data, encoded up front (an encoding error never
 * leaves a COPY half sent) and as Buffers: the socket then takes them as
 * they are, with no conversion while Postgres waits for data. Binary for
 * the table's direct way when it has one and every row fits its types,
 * else text for the staging way.
 */
export function readyBatch<T extends ShipTableName>(table: T, rows: ShipRowOf[T][], copyChunkBytes: number): ReadyBatch<T> {
  const spec = pgTableSpecs[table] as PgTableSpec<T>;
  if (spec.direct !== null) {
    try {
      return { rows, copyChunks: encodeBinaryChunks(spec.direct.encode, rows, copyChunkBytes), direct: true };
    } catch {
      // A value the target's binary types do not take as it is (the text way converts in SQL, or says why it cannot).
    }
  }
  return { rows, copyChunks: encodeChunks(spec, rows, copyChunkBytes), direct: false };
}

/** The rows in binary COPY format, cut into chunks of at most chunkBytes. */
function encodeBinaryChunks<R>(encode: (row: R, writer: BinaryCopyWriter) => void, rows: readonly R[], chunkBytes: number): Buffer[] {
  const writer = new BinaryCopyWriter(Math.max(64 * 1024, rows.length * binaryRowBytesGuess));
  for (const row of rows) encode(row, writer);
  return writer.finish(chunkBytes);
}
/** First size of a batch's binary buffer per row (it grows if needed): a signal is about 300 bytes. */
const binaryRowBytesGuess = 320;

/**
 * A journal table as a batch source, reading one batch ahead: the next
 * batch is read from SQLite while Postgres takes the current COPY, then
 * checked and encoded while Postgres still works on the current batch (the
 * shipper thread's CPU and Postgres's then overlap), and kept. A kept
 * batch is used only when the next transaction's locked watermark is
 * exactly where it starts and the limits are the same, so it never
 * replaces what the lock says; journal rows do not change once committed
 * (a cursor row replaced meanwhile only ships an older value first, and
 * cursors keep the max).
 */
export class JournalSource<T extends ShipTableName> implements BatchSource<T> {
  /** The batch read ahead: `batch` once checked and encoded, until then only `unchecked`. */
  private ahead: { watermark: number; limits: BatchReadLimits; unchecked: UncheckedRows<T>; batch: ReadyBatch<T> | null } | null = null;

  constructor(
    private readonly reader: JournalReader,
    readonly table: T,
  ) {}

  get name(): string {
    return this.reader.filePath;
  }

  highestJournalId(): number {
    return this.reader.highestJournalId(this.table);
  }

  batchAfter(watermark: number, limits: BatchReadLimits): ReadyBatch<T> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead === null || ahead.watermark !== watermark || !sameLimits(ahead.limits, limits)) {
      return readyBatch(this.table, this.reader.readAfter(this.table, watermark, limits), limits.copyChunkBytes);
    }
    return ahead.batch ?? readyBatch(this.table, this.reader.checkRows(ahead.unchecked), limits.copyChunkBytes);
  }

  prefetch(watermark: number, limits: BatchReadLimits): () => void {
    this.ahead = null;
    try {
      const unchecked = this.reader.readUnchecked(this.table, watermark, limits);
      // An empty read is not kept: rows may arrive before the next batch asks.
      if (unchecked.raw.length > 0) this.ahead = { watermark, limits: { ...limits }, unchecked, batch: null };
    } catch {
      // The next batchAfter reads again and reports the error in its own batch.
    }
    return () => {
      const ahead = this.ahead;
      if (ahead === null) return;
      try {
        ahead.batch = readyBatch(this.table, this.reader.checkRows(ahead.unchecked), limits.copyChunkBytes);
      } catch {
        this.ahead = null; // as above: reported by the batch that reads it again
      }
    };
  }

  /** Drops a kept batch (its transaction failed: the next one re-reads). */
  forget(): void {
    this.ahead = null;
  }
}

function sameLimits(a: BatchReadLimits, b: BatchReadLimits): boolean {
  return a.rowsMax === b.rowsMax && a.bytesMax === b.bytesMax && a.copyChunkBytes === b.copyChunkBytes;
}

export interface BatchLimits {
  rowsMax: number;
  bytesMax: number;
  copyChunkBytes: number;
  timeoutMs: number;
}

export interface BatchOrigin {
  nodeId: string;
  shard: number;
}

export interface BatchResult {
  table: ShipTableName;
  /** Journal rows in the batch (0: nothing after the watermark). */
  rows: number;
  /** Rows written (the direct COPY: all; the staging way: what the INSERT wrote, cursors raised); rows - inserted were already there. */
  inserted: number;
  /** Staged rows that met an existing row with other content (signals only). */
  conflicting: number;
  /** The watermark after the transaction. */
  watermark: number;
  /** The batch stopped at a bound: more rows may be waiting. */
  full: boolean;
}

const lockWatermarkSql = `SELECT shipped_journal_id::text AS w FROM journal_watermarks
  WHERE node_id = $1 AND shard = $2 AND table_name = $3 FOR UPDATE`;
const advanceWatermarkSql = `UPDATE journal_watermarks SET shipped_journal_id = $4, updated_at = NOW()
  WHERE node_id = $1 AND shard = $2 AND table_name = $3 AND shipped_journal_id = $5`;

/** bigint text from Postgres to a safe integer, or a throw. */
export function watermarkFromText(text: unknown): number {
  const value = typeof text === 'string' && /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new ShipError(ShipErrorCode.WATERMARK_CONFLICT, `watermark ${String(text)} is not a safe integer`);
  return value;
}

/** The rows in COPY text, cut into chunks of about chunkBytes. */
function encodeChunks<T extends ShipTableName>(spec: PgTableSpec<T>, rows: readonly ShipRowOf[T][], chunkBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  let chunk = '';
  for (const row of rows) {
    chunk += spec.encode(row);
    if (chunk.length >= chunkBytes) {
      chunks.push(Buffer.from(chunk));
      chunk = '';
    }
  }
  if (chunk.length > 0) chunks.push(Buffer.from(chunk));
  return chunks;
}

/**
 * COPY the chunks with `copySql`; resolves with the rows Postgres counted.
 * `whileCopying` runs once every chunk and the end of the data are in the
 * socket, while Postgres still parses them.
 */
export async function copyChunks(client: Client, copySql: string, chunks: readonly Buffer[], whileCopying?: () => void): Promise<number> {
  const stream = client.query(copyFrom(copySql));
  const completed = finished(stream);
  // The stream holds the chunks until Postgres is ready for them; the last write's callback fires once they are all in the socket.
  const written = new Promise<void>((resolve, reject) => {
    if (chunks.length === 0) resolve();
    chunks.forEach((chunk, i) => stream.write(chunk, i < chunks.length - 1 ? undefined : (error) => (error ? reject(error) : resolve())));
  });
  // Whichever fails first fails the race; the other one's later rejection is not an unhandled one.
  completed.catch(() => undefined);
  written.catch(() => undefined);
  await Promise.race([written, completed]);
  stream.end(); // sends CopyDone at once: Postgres can finish the COPY while whileCopying runs
  whileCopying?.();
  await completed;
  return stream.rowCount;
}

/**
 * Ships one batch of `table` (see the file comment). Throws on any failure
 * after a ROLLBACK; if the ROLLBACK itself fails the connection is left to
 * the caller to discard (the error says which).
 */
export async function shipBatch<T extends ShipTableName>(
  client: Client,
  source: BatchSource<T>,
  origin: BatchOrigin,
  limits: BatchLimits,
  fault?: FaultHook,
): Promise<BatchResult> {
  const { table } = source;
  const spec = pgTableSpecs[table] as PgTableSpec<T>;
  return withWatchdog(client, limits.timeoutMs, `${table} of shard ${origin.shard}`, async () => {
    await client.query('BEGIN');
    try {
      const result = await shipInTransaction(client, source, spec, origin, limits, fault);
      await client.query('COMMIT');
      fault?.('afterCommit', table, origin.shard);
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined); // a broken connection rolls back on the server anyway
      throw error;
    }
  });
}

async function shipInTransaction<T extends ShipTableName>(
  client: Client,
  source: BatchSource<T>,
  spec: PgTableSpec<T>,
  origin: BatchOrigin,
  limits: BatchLimits,
  fault: FaultHook | undefined,
): Promise<BatchResult> {
  const { table } = spec;
  const key = [origin.nodeId, origin.shard, table];
  const locked = await client.query<{ w: string }>(lockWatermarkSql, key);
  if (locked.rowCount !== 1) {
    throw new ShipError(ShipErrorCode.WATERMARK_CONFLICT, `no journal_watermarks row for ${JSON.stringify(key)}`);
  }
  const before = watermarkFromText(locked.rows[0].w);
  const highest = source.highestJournalId();
  if (highest < before) {
    throw new ShipError(
      ShipErrorCode.JOURNAL_BEHIND_WATERMARK,
      `${source.name}: ${table} ids end at ${highest} but Postgres has shipped up to ${before} from node ${origin.nodeId} shard ${origin.shard}`,
    );
  }
  const readLimits = { rowsMax: limits.rowsMax, bytesMax: limits.bytesMax, copyChunkBytes: limits.copyChunkBytes };
  const batch = source.batchAfter(before, readLimits);
  const { rows } = batch;
  if (rows.length > limits.rowsMax) throw new ShipError(ShipErrorCode.BATCH_REFUSED, `source gave ${rows.length} rows, more than ${limits.rowsMax}`);
  if (rows.length === 0) return { table, rows: 0, inserted: 0, conflicting: 0, watermark: before, full: false };
  const after = rows[rows.length - 1].journalId;
  if (!(after > before)) throw new ShipError(ShipErrorCode.WATERMARK_CONFLICT, `batch ends at ${after}, not after ${before}`);

  const more = full(rows.length, highest, after, limits);
  // The next batch is read (and, on the direct way, also checked and encoded) while Postgres takes this COPY; once.
  let prepareAhead: (() => void) | undefined;
  let prefetched = false;
  const prefetch = (): void => {
    if (prefetched || !more) return;
    prefetched = true;
    prepareAhead = source.prefetch?.(after, readLimits);
  };

  let written: { inserted: number; conflicting: number } | null = null;
  if (batch.direct && spec.direct !== null) {
    written = await copyDirect(client, spec.direct.copySql, batch.copyChunks, rows.length, table, () => {
      prefetch();
      prepareAhead?.();
      prepareAhead = undefined;
    });
  }
  if (written === null) {
    const textChunks = batch.direct ? encodeChunks(spec, rows, readLimits.copyChunkBytes) : batch.copyChunks;
    written = await stageAndInsert(client, spec, textChunks, rows.length, origin, prefetch, () => prepareAhead?.());
  }
  fault?.('afterCopy', table, origin.shard);
  const { inserted: insertedRows, conflicting } = written;
  const advanced = await client.query(advanceWatermarkSql, [...key, after, before]);
  if (advanced.rowCount !== 1) {
    throw new ShipError(ShipErrorCode.WATERMARK_CONFLICT, `watermark of ${JSON.stringify(key)} moved away from ${before}`);
  }
  fault?.('beforeCommit', table, origin.shard);
  return {
    table,
    rows: rows.length,
    inserted: insertedRows,
    conflicting,
    watermark: after,
    full: more,
  };
}

/**
 * The direct way: binary COPY straight into the target, in a savepoint.
 * Null when Postgres refused it with an SQL error (a key already there, a
 * value the target rejects): rolled back to the savepoint, the caller goes
 * the staging way, whose ON CONFLICT handles a replay and whose error, if
 * the rows are bad, is the one reported. A broken connection throws.
 */
async function copyDirect(
  client: Client,
  copySql: string,
  chunks: readonly Buffer[],
  rowCount: number,
  table: ShipTableName,
  whileCopying: () => void,
): Promise<{ inserted: number; conflicting: number } | null> {
  await client.query('SAVEPOINT ship_direct');
  let copied: number;
  try {
    copied = await copyChunks(client, copySql, chunks, whileCopying);
  } catch (error) {
    if (isConnectionError(error) || typeof (error as { code?: unknown })?.code !== 'string') throw error;
    await client.query('ROLLBACK TO SAVEPOINT ship_direct');
    return null;
  }
  if (copied !== rowCount) throw new ShipError(ShipErrorCode.BATCH_REFUSED, `COPY took ${copied} of ${rowCount} ${table} rows`);
  await client.query('RELEASE SAVEPOINT ship_direct');
  return { inserted: copied, conflicting: 0 };
}

/**
 * The staging way: COPY text into the TEMP staging table, then INSERT ...
 * SELECT ... ON CONFLICT into the target. `whileCopying` runs during the
 * COPY, `whileInserting` during the INSERT (synchronous: the INSERT's
 * answer waits in the socket).
 */
async function stageAndInsert<T extends ShipTableName>(
  client: Client,
  spec: PgTableSpec<T>,
  chunks: readonly Buffer[],
  rowCount: number,
  origin: BatchOrigin,
  whileCopying: () => void,
  whileInserting: () => void,
): Promise<{ inserted: number; conflicting: number }> {
  const copied = await copyChunks(client, spec.copySql, chunks, whileCopying);
  if (copied !== rowCount) throw new ShipError(ShipErrorCode.BATCH_REFUSED, `COPY took ${copied} of ${rowCount} ${spec.table} rows`);
  const inserting = client.query(spec.insertSql, spec.insertTakesOrigin ? [origin.nodeId, origin.shard] : []);
  whileInserting();
  const inserted = (await inserting).rowCount ?? 0;
  let conflicting = 0;
  if (spec.conflictingContentSql !== null && inserted < rowCount) {
    const c = await client.query<{ n: number }>(spec.conflictingContentSql);
    conflicting = c.rows[0].n;
  }
  return { inserted, conflicting };
}

/** The batch stopped at a bound, or more rows were already there: another batch follows at once. */
function full(rows: number, highest: number, after: number, limits: BatchLimits): boolean {
  return rows === limits.rowsMax || highest > after;
}

/**
 * Runs fn; if it has not settled after timeoutMs, destroys the client's
 * socket (the server then rolls the transaction back) so that fn fails
 * instead of hanging on a silent network.
 */
async function withWatchdog<R>(client: Client, timeoutMs: number, what: string, fn: () => Promise<R>): Promise<R> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    client.connection.stream.destroy(new ShipError(ShipErrorCode.BATCH_TIMEOUT, `shipping ${what} took over ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    return await fn();
  } catch (error) {
    if (timedOut) throw new ShipError(ShipErrorCode.BATCH_TIMEOUT, `shipping ${what} took over ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
