/**
 * Where each journal table goes in Postgres: its TEMP staging table, the
 * COPY into it, the COPY text of one row, and the INSERT ... SELECT that
 * moves staged rows into the real table without ever duplicating one
 * (migration 002 explains each table's key). Signals also have a direct
 * way: binary COPY straight into `signals` (copy-binary.ts), taken first.
 *
 * Staging tables hold the journal's values as they are (times in ms as
 * float8, '' position ids); the INSERT converts. They are created once per
 * session, ON COMMIT DELETE ROWS, so every transaction starts with them
 * empty and a rolled-back COPY leaves nothing behind.
 *
 * SQL text here is constant; values reach Postgres only as COPY data or as
 * bound parameters ($1 node id, $2 shard).
 */
import type { BinaryCopyWriter } from './copy-binary';
import { copyBytea, copyFloat, copyFloatOrNull, copyInteger, copyIntegerOrNull, copyRow, copyText, copyTextOrNull } from './copy-text';
import type { ShipRowOf, ShipTableName } from './journal-rows';

export interface PgTableSpec<T extends ShipTableName> {
  table: T;
  /** The real table rows land in. */
  target: string;
  staging: string;
  createStagingSql: string;
  copySql: string;
  /** Parameters: $1 node_id, $2 shard. Returns nothing; rowCount is the rows inserted (or raised, for cursors). */
  insertSql: string;
  /** Do the (node_id, shard) parameters appear in insertSql? */
  insertTakesOrigin: boolean;
  /**
   * Staged rows that met an existing row with other content (a signal key
   * reused with different bytes): counted and reported, never overwritten.
   * Null when a conflict can only be the same row again.
   */
  conflictingContentSql: string | null;
  /** The row in COPY text format, newline included. */
  encode(row: ShipRowOf[T]): string;
  /**
   * The fast way in, or null: the rows in binary COPY straight into the
   * target (no staging table, no INSERT). ship-batch.ts takes it inside a
   * savepoint; if Postgres refuses it (a key already there: a replay) the
   * batch goes the staging way above, which handles that.
   */
  direct: { copySql: string; encode(row: ShipRowOf[T], writer: BinaryCopyWriter): void } | null;
}

/** Columns of `signals` the shipper fills, in COPY order (shipped_at takes its default). */
const signalColumns =
  'subscription_id, sequence, generated_at, symbol, order_type, volume, price, action, position_id, stop_loss, take_profit, magic, signing_version, content, received_at';
const signalColumnCount = signalColumns.split(',').length;

const signalsPg: PgTableSpec<'signals'> = {
  table: 'signals',
  target: 'signals',
  staging: 'ship_stage_signals',
  createStagingSql: `CREATE TEMP TABLE IF NOT EXISTS ship_stage_signals (
      subscription_id  UUID NOT NULL,
      sequence         BIGINT NOT NULL,
      generated_at_ms  DOUBLE PRECISION NOT NULL,
      symbol           TEXT NOT NULL,
      order_type       SMALLINT NOT NULL,
      volume           DOUBLE PRECISION NOT NULL,
      price            DOUBLE PRECISION NOT NULL,
      action           SMALLINT NOT NULL,
      position_id      TEXT NOT NULL,
      stop_loss        DOUBLE PRECISION NOT NULL,
      take_profit      DOUBLE PRECISION NOT NULL,
      magic            TEXT NOT NULL,
      signing_version  SMALLINT NOT NULL,
      content          BYTEA NOT NULL,
      received_at_ms   DOUBLE PRECISION NOT NULL
    ) ON COMMIT DELETE ROWS`,
  copySql:
    'COPY ship_stage_signals (subscription_id, sequence, generated_at_ms, symbol, order_type, volume, price, action, ' +
    'position_id, stop_loss, take_profit, magic, signing_version, content, received_at_ms) FROM STDIN',
  insertSql: `INSERT INTO signals (subscription_id, sequence, generated_at, symbol, order_type, volume, price, action,
      position_id, stop_loss, take_profit, magic, signing_version, content, received_at)
    SELECT subscription_id, sequence, to_timestamp(generated_at_ms / 1000), symbol, order_type, volume, price, action,
      NULLIF(position_id, '')::NUMERIC(20, 0), stop_loss, take_profit, magic, signing_version, content,
      to_timestamp(received_at_ms / 1000)
    FROM ship_stage_signals
    ON CONFLICT (subscription_id, sequence) DO NOTHING`,
  insertTakesOrigin: false,
  conflictingContentSql: `SELECT count(*)::int AS n FROM ship_stage_signals s
    JOIN signals t ON t.subscription_id = s.subscription_id AND t.sequence = s.sequence
    WHERE t.content <> s.content`,
  encode: ({ record: r }) =>
    copyRow([
      copyText(r.subscriptionId),
      copyInteger(r.sequence),
      copyFloat(r.generatedAtMs),
      copyText(r.symbol),
      copyInteger(r.orderType),
      copyFloat(r.volume),
      copyFloat(r.price),
      copyInteger(r.action),
      copyText(r.positionId),
      copyFloat(r.stopLoss),
      copyFloat(r.takeProfit),
      copyText(r.magic),
      copyInteger(r.signingVersion),
      copyBytea(r.content),
      copyFloat(r.receivedAtMs),
    ]),
  direct: {
    copySql: `COPY signals (${signalColumns}) FROM STDIN (FORMAT binary)`,
    encode: ({ record: r }, w) => {
      w.row(signalColumnCount);
      w.uuid(r.subscriptionId);
      w.bigint(r.sequence);
      w.timestamptzFromMs(r.generatedAtMs);
      w.text(r.symbol);
      w.smallint(r.orderType);
      w.float8(r.volume);
      w.float8(r.price);
      w.smallint(r.action);
      if (r.positionId === '') w.null();
      else w.numericFromDecimal(r.positionId);
      w.float8(r.stopLoss);
      w.float8(r.takeProfit);
      w.text(r.magic);
      w.smallint(r.signingVersion);
      w.bytea(r.content);
      w.timestamptzFromMs(r.receivedAtMs);
    },
  },
};

const cursorsPg: PgTableSpec<'cursors'> = {
  table: 'cursors',
  target: 'receiver_cursors',
  staging: 'ship_stage_cursors',
  createStagingSql: `CREATE TEMP TABLE IF NOT EXISTS ship_stage_cursors (
      subscription_id UUID NOT NULL,
      receiver_id     UUID NOT NULL,
      sequence        BIGINT NOT NULL
    ) ON COMMIT DELETE ROWS`,
  copySql: 'COPY ship_stage_cursors (subscription_id, receiver_id, sequence) FROM STDIN',
  // GROUP BY: one command may not touch a row twice; keep the max, only ever raise.
  insertSql: `INSERT INTO receiver_cursors AS c (subscription_id, receiver_id, sequence, updated_at)
    SELECT subscription_id, receiver_id, max(sequence), NOW() FROM ship_stage_cursors GROUP BY subscription_id, receiver_id
    ON CONFLICT (subscription_id, receiver_id) DO UPDATE SET sequence = EXCLUDED.sequence, updated_at = EXCLUDED.updated_at
    WHERE c.sequence < EXCLUDED.sequence`,
  insertTakesOrigin: false,
  conflictingContentSql: null,
  encode: (c) => copyRow([copyText(c.subscriptionId), copyText(c.receiverId), copyInteger(c.sequence)]),
  direct: null,
};

const statesPg: PgTableSpec<'states'> = {
  table: 'states',
  target: 'subscription_states',
  staging: 'ship_stage_states',
  createStagingSql: `CREATE TEMP TABLE IF NOT EXISTS ship_stage_states (
      journal_id      BIGINT NOT NULL,
      subscription_id UUID NOT NULL,
      state           TEXT NOT NULL,
      sequence        BIGINT NOT NULL,
      reason          TEXT NOT NULL,
      at_ms           DOUBLE PRECISION NOT NULL
    ) ON COMMIT DELETE ROWS`,
  copySql: 'COPY ship_stage_states (journal_id, subscription_id, state, sequence, reason, at_ms) FROM STDIN',
  insertSql: `INSERT INTO subscription_states (node_id, shard, journal_id, subscription_id, state, sequence, reason, changed_at)
    SELECT $1::text, $2::int, journal_id, subscription_id, state, sequence, reason, to_timestamp(at_ms / 1000)
    FROM ship_stage_states
    ON CONFLICT (node_id, shard, journal_id) DO NOTHING`,
  insertTakesOrigin: true,
  conflictingContentSql: null,
  encode: (s) =>
    copyRow([copyInteger(s.journalId), copyText(s.subscriptionId), copyText(s.state), copyInteger(s.sequence), copyText(s.reason), copyFloat(s.atMs)]),
  direct: null,
};

const securityEventsPg: PgTableSpec<'security_events'> = {
  table: 'security_events',
  target: 'security_events',
  staging: 'ship_stage_security_events',
  createStagingSql: `CREATE TEMP TABLE IF NOT EXISTS ship_stage_security_events (
      journal_id      BIGINT NOT NULL,
      at_ms           DOUBLE PRECISION NOT NULL,
      code            TEXT NOT NULL,
      subscription_id TEXT,
      role            TEXT,
      remote_address  TEXT NOT NULL,
      sequence        BIGINT,
      detail          TEXT NOT NULL
    ) ON COMMIT DELETE ROWS`,
  copySql:
    'COPY ship_stage_security_events (journal_id, at_ms, code, subscription_id, role, remote_address, sequence, detail) FROM STDIN',
  insertSql: `INSERT INTO security_events (node_id, shard, journal_id, event_time, code, subscription_id, role, remote_address, sequence, detail)
    SELECT $1::text, $2::int, journal_id, to_timestamp(at_ms / 1000), code, subscription_id, role, remote_address, sequence, detail
    FROM ship_stage_security_events
    ON CONFLICT (node_id, shard, journal_id) DO NOTHING`,
  insertTakesOrigin: true,
  conflictingContentSql: null,
  encode: ({ journalId, event: e }) =>
    copyRow([
      copyInteger(journalId),
      copyFloat(e.atMs),
      copyText(e.code),
      copyTextOrNull(e.subscriptionId),
      copyTextOrNull(e.role),
      copyText(e.remoteAddress),
      copyIntegerOrNull(e.sequence),
      copyText(e.detail),
    ]),
  direct: null,
};

/**
 * Execution reports: the key is the report's idempotency key (migration
 * 005's UNIQUE (receiver_id, sequence, master_position_id, kind)), so a
 * report resent by a receiver, journaled again after the first was pruned,
 * or replayed in a batch lands once. The first one wins.
 */
const executionReportsPg: PgTableSpec<'execution_reports'> = {
  table: 'execution_reports',
  target: 'execution_reports',
  staging: 'ship_stage_execution_reports',
  createStagingSql: `CREATE TEMP TABLE IF NOT EXISTS ship_stage_execution_reports (
      journal_id         BIGINT NOT NULL,
      subscription_id    UUID NOT NULL,
      receiver_id        UUID NOT NULL,
      sequence           BIGINT NOT NULL,
      master_position_id TEXT NOT NULL,
      kind               TEXT NOT NULL,
      outcome            TEXT NOT NULL,
      ticket             TEXT,
      requested_volume   DOUBLE PRECISION NOT NULL,
      volume             DOUBLE PRECISION NOT NULL,
      price              DOUBLE PRECISION,
      slippage_pips      DOUBLE PRECISION,
      delay_ms           BIGINT,
      profit             DOUBLE PRECISION,
      currency           TEXT,
      reason             TEXT,
      executed_at_ms     DOUBLE PRECISION NOT NULL,
      received_at_ms     DOUBLE PRECISION NOT NULL
    ) ON COMMIT DELETE ROWS`,
  copySql:
    'COPY ship_stage_execution_reports (journal_id, subscription_id, receiver_id, sequence, master_position_id, kind, outcome, ticket, ' +
    'requested_volume, volume, price, slippage_pips, delay_ms, profit, currency, reason, executed_at_ms, received_at_ms) FROM STDIN',
  insertSql: `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, outcome, ticket,
      requested_volume, volume, price, slippage_pips, delay_ms, profit, currency, reason, executed_at, received_at)
    SELECT subscription_id, receiver_id, sequence, master_position_id, kind, outcome, ticket,
      requested_volume, volume, price, slippage_pips, delay_ms, profit, currency, reason,
      to_timestamp(executed_at_ms / 1000), to_timestamp(received_at_ms / 1000)
    FROM ship_stage_execution_reports ORDER BY journal_id
    ON CONFLICT (receiver_id, sequence, master_position_id, kind) DO NOTHING`,
  insertTakesOrigin: false,
  conflictingContentSql: null,
  encode: ({ journalId, report: r }) =>
    copyRow([
      copyInteger(journalId),
      copyText(r.subscriptionId),
      copyText(r.receiverId),
      copyInteger(r.sequence),
      copyText(r.masterPositionId),
      copyText(r.kind),
      copyText(r.outcome),
      copyTextOrNull(r.ticket),
      copyFloat(r.requestedVolume),
      copyFloat(r.volume),
      copyFloatOrNull(r.price),
      copyFloatOrNull(r.slippagePips),
      copyIntegerOrNull(r.delayMs),
      copyFloatOrNull(r.profit),
      copyTextOrNull(r.currency),
      copyTextOrNull(r.reason),
      copyFloat(r.executedAtMs),
      copyFloat(r.receivedAtMs),
    ]),
  direct: null,
};

export const pgTableSpecs: { [T in ShipTableName]: PgTableSpec<T> } = {
  execution_reports: executionReportsPg,
  signals: signalsPg,
  cursors: cursorsPg,
  states: statesPg,
  security_events: securityEventsPg,
};
