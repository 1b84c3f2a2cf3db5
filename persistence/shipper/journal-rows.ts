/**
 * The journal tables the shipper moves, as read from SQLite: the SELECT of
 * each, and the check of every row read (the journal's codec checks, and
 * what Postgres's column types add).
 *
 * Signals are verified by the journal codec (CRC-32, tuple shape, every
 * field, key columns equal to the record). Cursors, states and security
 * events carry no checksum; their rows are re-checked with the codec's
 * checks as they are read (SQLite's STRICT tables and CHECKs hold them too).
 * A row that fails is corruption (JOURNAL_CORRUPT): shipping of that table
 * of that shard stops there, nothing past it is skipped.
 */
import {
  UpgradeRefusalCode,
  legacyUpgradeEventCodes,
  type ExecutionReportRecord,
  type SecurityEvent,
  type SignalRecord,
  type SubscriptionState,
} from '@sigplane/protocol';
import {
  JournalError,
  JournalErrorCode,
  checkCursor,
  checkState,
  decodeSignal,
  executionReportFault,
  securityEventFault,
} from '../journal-codec';
import { ShipError, ShipErrorCode } from './ship-errors';

/** Journal tables shipped, by their journal name (also `journal_watermarks.table_name`). */
export const shipTableNames = ['signals', 'states', 'cursors', 'security_events', 'execution_reports'] as const;
export type ShipTableName = (typeof shipTableNames)[number];

export interface SignalRow {
  journalId: number;
  record: SignalRecord;
}
export interface CursorRow {
  journalId: number;
  subscriptionId: string;
  receiverId: string;
  sequence: number;
}
export interface StateRow {
  journalId: number;
  subscriptionId: string;
  state: SubscriptionState;
  sequence: number;
  reason: string;
  atMs: number;
}
export interface SecurityEventRow {
  journalId: number;
  event: SecurityEvent;
}

export interface ExecutionReportRow {
  journalId: number;
  report: ExecutionReportRecord;
}

export interface ShipRowOf {
  signals: SignalRow;
  cursors: CursorRow;
  states: StateRow;
  security_events: SecurityEventRow;
  execution_reports: ExecutionReportRow;
}

/** How one journal table is read and checked. */
export interface JournalRowsSpec<T extends ShipTableName> {
  table: T;
  /** Parameters: journal_id lower bound (exclusive), row limit. Ascending journal_id. */
  selectAfterSql: string;
  /** The checked row, or a throw (JOURNAL_CORRUPT, SHIP_UNSHIPPABLE_ROW). */
  check(raw: Record<string, unknown>, filePath: string): ShipRowOf[T];
  /** Approximate bytes of the raw row (for shipBatchBytesMax). */
  rawBytes(raw: Record<string, unknown>): number;
  /** When the row was made (ms), for lag in seconds; null when the table keeps no time. */
  timeMs(row: ShipRowOf[T]): number | null;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Fixed per-row overhead counted against the bytes bound. */
const rowOverheadBytes = 64;

function corrupt(filePath: string, table: string, journalId: unknown, why: string, cause?: unknown): JournalError {
  return new JournalError(JournalErrorCode.CORRUPT, `${filePath}: ${table} row journal_id ${String(journalId)}: ${why}`, { cause });
}

function journalIdOf(raw: Record<string, unknown>, filePath: string, table: string): number {
  const id = raw.journal_id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw corrupt(filePath, table, id, 'invalid journal_id');
  return id;
}

/** Postgres column is UUID: a row whose id is not one would refuse its whole batch. */
function requireUuid(value: string, filePath: string, table: string, journalId: number, column: string): void {
  if (!uuidPattern.test(value)) {
    throw new ShipError(
      ShipErrorCode.UNSHIPPABLE_ROW,
      `${filePath}: ${table} row journal_id ${journalId}: ${column} ${JSON.stringify(value.slice(0, 80))} is not a UUID`,
    );
  }
}

/** Re-runs a codec check on a row read back; its INVALID_RECORD becomes JOURNAL_CORRUPT. */
function recheck(filePath: string, table: string, journalId: number, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw corrupt(filePath, table, journalId, (error as Error).message, error);
  }
}

function textBytes(...values: unknown[]): number {
  let n = rowOverheadBytes;
  for (const v of values) if (typeof v === 'string') n += v.length * 3;
  return n;
}

const signalRows: JournalRowsSpec<'signals'> = {
  table: 'signals',
  selectAfterSql:
    'SELECT journal_id, subscription_id, sequence, record, checksum FROM signals WHERE journal_id > ? ORDER BY journal_id LIMIT ?',
  check(raw, filePath) {
    const journalId = journalIdOf(raw, filePath, 'signals');
    if (typeof raw.subscription_id !== 'string' || typeof raw.sequence !== 'number') {
      throw corrupt(filePath, 'signals', journalId, 'invalid key columns');
    }
    const record = decodeSignal(raw.record, raw.checksum, {
      table: 'signals',
      subscriptionId: raw.subscription_id,
      sequence: raw.sequence,
      journalId,
    });
    requireUuid(record.subscriptionId, filePath, 'signals', journalId, 'subscription_id');
    return { journalId, record };
  },
  rawBytes: (raw) => rowOverheadBytes + (raw.record instanceof Uint8Array ? raw.record.length * 2 : 0),
  timeMs: (row) => row.record.receivedAtMs,
};

const cursorRows: JournalRowsSpec<'cursors'> = {
  table: 'cursors',
  selectAfterSql: 'SELECT journal_id, subscription_id, receiver_id, sequence FROM cursors WHERE journal_id > ? ORDER BY journal_id LIMIT ?',
  check(raw, filePath) {
    const journalId = journalIdOf(raw, filePath, 'cursors');
    const row = {
      journalId,
      subscriptionId: raw.subscription_id as string,
      receiverId: raw.receiver_id as string,
      sequence: raw.sequence as number,
    };
    recheck(filePath, 'cursors', journalId, () => checkCursor(row));
    requireUuid(row.subscriptionId, filePath, 'cursors', journalId, 'subscription_id');
    requireUuid(row.receiverId, filePath, 'cursors', journalId, 'receiver_id');
    return row;
  },
  rawBytes: (raw) => textBytes(raw.subscription_id, raw.receiver_id),
  timeMs: () => null,
};

const stateRows: JournalRowsSpec<'states'> = {
  table: 'states',
  selectAfterSql:
    'SELECT journal_id, subscription_id, state, sequence, reason, at_ms FROM states WHERE journal_id > ? ORDER BY journal_id LIMIT ?',
  check(raw, filePath) {
    const journalId = journalIdOf(raw, filePath, 'states');
    const row = {
      journalId,
      subscriptionId: raw.subscription_id as string,
      state: raw.state as SubscriptionState,
      sequence: raw.sequence as number,
      reason: raw.reason as string,
      atMs: raw.at_ms as number,
    };
    recheck(filePath, 'states', journalId, () => checkState(row));
    requireUuid(row.subscriptionId, filePath, 'states', journalId, 'subscription_id');
    return row;
  },
  rawBytes: (raw) => textBytes(raw.subscription_id, raw.reason),
  timeMs: (row) => row.atMs,
};

const securityEventRows: JournalRowsSpec<'security_events'> = {
  table: 'security_events',
  selectAfterSql:
    'SELECT journal_id, at_ms, code, subscription_id, role, remote_address, sequence, detail FROM security_events ' +
    'WHERE journal_id > ? ORDER BY journal_id LIMIT ?',
  check(raw, filePath) {
    const journalId = journalIdOf(raw, filePath, 'security_events');
    const event = {
      atMs: raw.at_ms,
      code: raw.code,
      subscriptionId: raw.subscription_id,
      role: raw.role,
      remoteAddress: raw.remote_address,
      sequence: raw.sequence,
      detail: raw.detail,
    } as SecurityEvent;
    const fault = securityEventFault(event);
    if (fault !== null) throw corrupt(filePath, 'security_events', journalId, `invalid ${fault}`);
    return { journalId, event: withRefusalCode(event) };
  },
  rawBytes: (raw) => textBytes(raw.code, raw.subscription_id, raw.remote_address, raw.detail),
  timeMs: (row) => row.event.atMs,
};

/**
 * An upgrade refusal from a journal written before refusals kept their own
 * code (AUTH_REFUSED/IP_REFUSED, the code in `detail`) is shipped with the
 * code the client got, as newer ones are (migration 040 does the same to
 * rows shipped before).
 */
function withRefusalCode(event: SecurityEvent): SecurityEvent {
  if (!legacyUpgradeEventCodes.has(event.code) || !upgradeRefusalCodes.has(event.detail)) return event;
  return { ...event, code: event.detail as UpgradeRefusalCode, detail: 'upgrade refused' };
}
const upgradeRefusalCodes: ReadonlySet<string> = new Set(Object.values(UpgradeRefusalCode));

const executionReportRows: JournalRowsSpec<'execution_reports'> = {
  table: 'execution_reports',
  selectAfterSql:
    'SELECT journal_id, subscription_id, receiver_id, sequence, master_position_id, kind, outcome, ticket, requested_volume, volume, ' +
    'price, slippage_pips, delay_ms, profit, currency, reason, executed_at_ms, received_at_ms FROM execution_reports ' +
    'WHERE journal_id > ? ORDER BY journal_id LIMIT ?',
  check(raw, filePath) {
    const journalId = journalIdOf(raw, filePath, 'execution_reports');
    const report = {
      subscriptionId: raw.subscription_id,
      receiverId: raw.receiver_id,
      sequence: raw.sequence,
      masterPositionId: raw.master_position_id,
      kind: raw.kind,
      outcome: raw.outcome,
      ticket: raw.ticket,
      requestedVolume: raw.requested_volume,
      volume: raw.volume,
      price: raw.price,
      slippagePips: raw.slippage_pips,
      delayMs: raw.delay_ms,
      profit: raw.profit,
      currency: raw.currency,
      reason: raw.reason,
      executedAtMs: raw.executed_at_ms,
      receivedAtMs: raw.received_at_ms,
    } as ExecutionReportRecord;
    const fault = executionReportFault(report);
    if (fault !== null) throw corrupt(filePath, 'execution_reports', journalId, `invalid ${fault}`);
    requireUuid(report.subscriptionId, filePath, 'execution_reports', journalId, 'subscription_id');
    requireUuid(report.receiverId, filePath, 'execution_reports', journalId, 'receiver_id');
    return { journalId, report };
  },
  rawBytes: (raw) => textBytes(raw.subscription_id, raw.receiver_id, raw.master_position_id, raw.ticket, raw.reason) + 96,
  timeMs: (row) => row.report.receivedAtMs,
};

export const journalRowsSpecs: { [T in ShipTableName]: JournalRowsSpec<T> } = {
  signals: signalRows,
  cursors: cursorRows,
  states: stateRows,
  security_events: securityEventRows,
  execution_reports: executionReportRows,
};
