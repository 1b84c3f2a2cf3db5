/**
 * The journal's SQLite schema, versioned by PRAGMA user_version and marked
 * as ours by PRAGMA application_id.
 *
 * Every table is STRICT (SQLite refuses a value of the wrong type) with
 * CHECKs on what a row may hold: a second line of checks behind the codec's.
 *
 * Every table the Postgres shipper will read has `journal_id INTEGER PRIMARY
 * KEY AUTOINCREMENT`: the append order, never reused even after deletes
 * (prune, cursor replacement), so "shipped up to journal_id N" is a sound
 * watermark. A cursor row is replaced (new journal_id) whenever its sequence
 * grows, so the shipper sees every change as a new id.
 *
 * Writers and readers: the shard worker that owns the file appends; the
 * shipper thread's pruner (persistence/shipper/journal-pruner.ts) is the
 * only other writer and only deletes rows already in Postgres (and writes
 * checkpoints). SQLite serialises the two; other connections only read.
 */

import Database from 'better-sqlite3';
import { journalLimits, type SubscriptionState } from '@sigplane/protocol';
import { JournalError, JournalErrorCode } from './journal-codec';

/** 'SGPJ': marks the file as a sigplane journal. */
export const journalApplicationId = 0x5347504a;

/** Bump together with a migration step in openSchema below. */
export const journalSchemaVersion = 1;

const journalTables = ['signals', 'snapshots', 'states', 'cursors', 'security_events', 'execution_reports'] as const;

const idCheck = (column: string): string => `CHECK (length(${column}) BETWEEN 1 AND ${journalLimits.idCharsMax})`;
const stateCheck = `CHECK (state IN ('ACTIVE', 'DEGRADED', 'SYNCING', 'ISOLATED'))`;

/** Schema version 1, created in one transaction on an empty file. */
const schemaV1 = `
CREATE TABLE signals (
  journal_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT    NOT NULL ${idCheck('subscription_id')},
  sequence        INTEGER NOT NULL CHECK (sequence >= 1),
  record          BLOB    NOT NULL CHECK (length(record) > 0),
  checksum        INTEGER NOT NULL CHECK (checksum BETWEEN 0 AND 4294967295),
  UNIQUE (subscription_id, sequence)
) STRICT;

-- A master's snapshot that replaced the book, or a server-made checkpoint.
-- Recovery uses the latest (highest sequence, then journal_id) per subscription.
CREATE TABLE snapshots (
  journal_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT    NOT NULL ${idCheck('subscription_id')},
  sequence        INTEGER NOT NULL CHECK (sequence >= 0),
  kind            TEXT    NOT NULL CHECK (kind IN ('master', 'checkpoint')),
  record          BLOB    NOT NULL CHECK (length(record) > 0),
  checksum        INTEGER NOT NULL CHECK (checksum BETWEEN 0 AND 4294967295)
) STRICT;
CREATE INDEX snapshots_latest ON snapshots (subscription_id, sequence, journal_id);

-- Append-only history of state changes; recovery uses the latest journal_id.
CREATE TABLE states (
  journal_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT    NOT NULL ${idCheck('subscription_id')},
  state           TEXT    NOT NULL ${stateCheck},
  sequence        INTEGER NOT NULL CHECK (sequence >= 0),
  reason          TEXT    NOT NULL,
  at_ms           REAL    NOT NULL
) STRICT;
CREATE INDEX states_latest ON states (subscription_id, journal_id);

-- One row per (subscription, receiver): the highest sequence it acknowledged.
CREATE TABLE cursors (
  journal_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT    NOT NULL ${idCheck('subscription_id')},
  receiver_id     TEXT    NOT NULL ${idCheck('receiver_id')},
  sequence        INTEGER NOT NULL CHECK (sequence >= 0),
  UNIQUE (subscription_id, receiver_id)
) STRICT;

CREATE TABLE security_events (
  journal_id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms           REAL    NOT NULL,
  code            TEXT    NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  subscription_id TEXT,
  role            TEXT    CHECK (role IS NULL OR role IN ('master', 'receiver')),
  remote_address  TEXT    NOT NULL,
  sequence        INTEGER,
  detail          TEXT    NOT NULL
) STRICT;
`;

/**
 * Execution reports (ExecutionReport frames): one row per (subscription,
 * receiver, sequence, master position, kind), the report's idempotency
 * key; a resent report is not inserted again. An addition to
 * schema version 1 that older builds never read: created, if missing, by
 * every writable open (so a journal written before it gains the table when
 * its shard opens it), inside the same transaction as the checks.
 */
const schemaExecutionReports = `
CREATE TABLE IF NOT EXISTS execution_reports (
  journal_id         INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id    TEXT    NOT NULL ${idCheck('subscription_id')},
  receiver_id        TEXT    NOT NULL ${idCheck('receiver_id')},
  sequence           INTEGER NOT NULL CHECK (sequence >= 1),
  master_position_id TEXT    NOT NULL CHECK (length(master_position_id) BETWEEN 1 AND 64),
  kind               TEXT    NOT NULL CHECK (kind IN ('open', 'adopt', 'close', 'reduce', 'modify', 'skip')),
  outcome            TEXT    NOT NULL CHECK (outcome IN ('filled', 'partially_filled', 'skipped', 'rejected')),
  ticket             TEXT    CHECK (ticket IS NULL OR length(ticket) BETWEEN 1 AND 64),
  requested_volume   REAL    NOT NULL CHECK (requested_volume >= 0),
  volume             REAL    NOT NULL CHECK (volume >= 0),
  price              REAL    CHECK (price IS NULL OR price >= 0),
  slippage_pips      REAL,
  delay_ms           INTEGER CHECK (delay_ms IS NULL OR delay_ms >= 0),
  profit             REAL,
  currency           TEXT    CHECK (currency IS NULL OR length(currency) BETWEEN 3 AND 8),
  reason             TEXT    CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 64),
  executed_at_ms     REAL    NOT NULL,
  received_at_ms     REAL    NOT NULL,
  UNIQUE (subscription_id, receiver_id, sequence, master_position_id, kind)
) STRICT;
`;

/** A signal or snapshot row as read. */
export type Row = { journal_id: number; sequence: number; record: unknown; checksum: unknown };

/** Every statement the journal runs, prepared once per connection. */
export function prepareAll(db: Database.Database) {
  const nextIn = (table: string) =>
    db.prepare<[string], number | null>(`SELECT min(subscription_id) FROM ${table} WHERE subscription_id > ?`).pluck();
  return {
    insertSignal: db.prepare('INSERT INTO signals (subscription_id, sequence, record, checksum) VALUES (?, ?, ?, ?)'),
    insertSnapshot: db.prepare(
      'INSERT INTO snapshots (subscription_id, sequence, kind, record, checksum) VALUES (?, ?, ?, ?, ?)',
    ),
    upsertCursor: db.prepare(
      `INSERT OR REPLACE INTO cursors (subscription_id, receiver_id, sequence)
       SELECT @sub, @receiver, @sequence WHERE NOT EXISTS
         (SELECT 1 FROM cursors WHERE subscription_id = @sub AND receiver_id = @receiver AND sequence >= @sequence)`,
    ),
    insertState: db.prepare(
      'INSERT INTO states (subscription_id, state, sequence, reason, at_ms) VALUES (?, ?, ?, ?, ?)',
    ),
    insertSecurityEvent: db.prepare(
      `INSERT INTO security_events (at_ms, code, subscription_id, role, remote_address, sequence, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    readSignals: db.prepare<[string, number, number, number], Row>(
      `SELECT journal_id, sequence, record, checksum FROM signals
       WHERE subscription_id = ? AND sequence >= ? AND sequence <= ? ORDER BY sequence LIMIT ?`,
    ),
    signalsAfter: db.prepare<[string, number, number], Row>(
      `SELECT journal_id, sequence, record, checksum FROM signals
       WHERE subscription_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
    ),
    lastSignalSequence: db.prepare<[string], number | null>('SELECT max(sequence) FROM signals WHERE subscription_id = ?').pluck(),
    latestSnapshot: db.prepare<[string], Row & { kind: 'master' | 'checkpoint' }>(
      `SELECT journal_id, sequence, kind, record, checksum FROM snapshots
       WHERE subscription_id = ? ORDER BY sequence DESC, journal_id DESC LIMIT 1`,
    ),
    latestSnapshotSequence: db
      .prepare<[string], number | null>('SELECT max(sequence) FROM snapshots WHERE subscription_id = ?')
      .pluck(),
    latestState: db.prepare<[string], { state: SubscriptionState; reason: string; sequence: number; at_ms: number }>(
      'SELECT state, reason, sequence, at_ms FROM states WHERE subscription_id = ? ORDER BY journal_id DESC LIMIT 1',
    ),
    cursorsOf: db.prepare<[string], { receiver_id: string; sequence: number }>(
      'SELECT receiver_id, sequence FROM cursors WHERE subscription_id = ? ORDER BY receiver_id',
    ),
    nextSubscription: journalTables.filter((t) => t !== 'security_events' && t !== 'execution_reports').map(nextIn),
    // Not INSERT OR IGNORE: an ignored insert would still burn an AUTOINCREMENT id (sqlite_sequence), and the
    // shipper's "highest id ever given" would then never be reached by a watermark.
    insertExecutionReport: db.prepare(
      `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, outcome, ticket,
         requested_volume, volume, price, slippage_pips, delay_ms, profit, currency, reason, executed_at_ms, received_at_ms)
       SELECT @sub, @receiver, @sequence, @position, @kind, @outcome, @ticket, @requested, @volume, @price, @slippage, @delay,
              @profit, @currency, @reason, @executedAt, @receivedAt
        WHERE NOT EXISTS (SELECT 1 FROM execution_reports WHERE subscription_id = @sub AND receiver_id = @receiver
                            AND sequence = @sequence AND master_position_id = @position AND kind = @kind)`,
    ),
    deleteExecutionReportsUpTo: db.prepare(
      'DELETE FROM execution_reports WHERE journal_id IN (SELECT journal_id FROM execution_reports WHERE journal_id <= ? ORDER BY journal_id LIMIT ?)',
    ),
    nthNewestSignal: db
      .prepare<[string, number], number>('SELECT sequence FROM signals WHERE subscription_id = ? ORDER BY sequence DESC LIMIT 1 OFFSET ?')
      .pluck(),
    nthOldestSignalUpTo: db
      .prepare<[string, number, number], number>(
        'SELECT sequence FROM signals WHERE subscription_id = ? AND sequence <= ? ORDER BY sequence LIMIT 1 OFFSET ?',
      )
      .pluck(),
    deleteSignalsUpTo: db.prepare('DELETE FROM signals WHERE subscription_id = ? AND sequence <= ? AND journal_id <= ?'),
    /** The newest signal of a subscription at or below a journal_id (the shipper's watermark). */
    newestSignalUpToJournalId: db
      .prepare<[string, number], number | null>('SELECT max(sequence) FROM signals WHERE subscription_id = ? AND journal_id <= ?')
      .pluck(),
    /** State changes at or below a journal_id that a later change of the same subscription replaced. */
    deleteReplacedStates: db.prepare(
      `DELETE FROM states WHERE journal_id IN (
         SELECT s.journal_id FROM states s
          WHERE s.journal_id <= ?
            AND EXISTS (SELECT 1 FROM states n WHERE n.subscription_id = s.subscription_id AND n.journal_id > s.journal_id)
          ORDER BY s.journal_id LIMIT ?)`,
    ),
    deleteSecurityEventsUpTo: db.prepare(
      'DELETE FROM security_events WHERE journal_id IN (SELECT journal_id FROM security_events WHERE journal_id <= ? ORDER BY journal_id LIMIT ?)',
    ),
    deleteOtherSnapshots: db.prepare('DELETE FROM snapshots WHERE subscription_id = ? AND journal_id <> ?'),
    count: Object.fromEntries(
      journalTables.map((t) => [t, db.prepare<[], number>(`SELECT count(*) FROM ${t}`).pluck()]),
    ) as Record<(typeof journalTables)[number], Database.Statement<[], number>>,
  };
}

/** Creates the schema on an empty file, or checks that the file is a journal of our version. */
export function openSchema(db: Database.Database, filePath: string): void {
  db.transaction(() => {
    const applicationId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    const objects = db.prepare<[], number>("SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").pluck().get()!;
    if (applicationId === 0 && version === 0 && objects === 0) {
      db.exec(schemaV1);
      db.exec(schemaExecutionReports);
      db.pragma(`application_id = ${journalApplicationId}`);
      db.pragma(`user_version = ${journalSchemaVersion}`);
      return;
    }
    if (applicationId !== journalApplicationId) {
      throw new JournalError(JournalErrorCode.SCHEMA, `${filePath} is not a sigplane journal (application_id ${applicationId})`);
    }
    if (version !== journalSchemaVersion) {
      throw new JournalError(
        JournalErrorCode.SCHEMA,
        `${filePath} has journal schema version ${version}; this build reads version ${journalSchemaVersion}`,
      );
    }
    if (!db.readonly) db.exec(schemaExecutionReports);
    const tables = new Set(db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all());
    for (const table of journalTables) {
      if (!tables.has(table)) throw new JournalError(JournalErrorCode.SCHEMA, `${filePath} lacks table ${table}`);
    }
  }).immediate();
}
