/**
 * The journal's record codec and its checks (TigerBeetle: check data before
 * it is written and again when it is read back).
 *
 * Signals and snapshots are stored as msgpackr blobs of a fixed-order array
 * (a tuple) whose first element is the format version, plus a CRC-32 of the
 * blob in its own column. Reading verifies the checksum, the tuple's shape,
 * every field, and that the record's subscriptionId/sequence equal the row's
 * key columns. Any mismatch is corruption: it throws JOURNAL_CORRUPT, naming
 * the subscription and the sequence, and nothing is returned.
 *
 * Tuples instead of maps: half the bytes (no key names in every row) and
 * faster to encode; this module is the one place that knows the layout.
 * Records (msgpackr's `useRecords`) are off, so every blob decodes alone,
 * without structures kept by some earlier process.
 */
import { Packr } from 'msgpackr';
import {
  executionReports,
  executionReportIdPattern,
  fields,
  journalLimits,
  wire,
  Action,
  RejectCode,
  SubscriptionState,
  UpgradeRefusalCode,
  executionKinds,
  executionOutcomes,
  legacyUpgradeEventCodes,
  type ExecutionReportRecord,
  type Position,
  type SecurityEvent,
  type SignalRecord,
  type SnapshotRecord,
  checkPosition,
  SigplaneError,
} from '@sigplane/protocol';
import { crc32 } from './crc32';

/** Stable error codes of the journal (a caller may act on `code`). */
export const JournalErrorCode = {
  /** A record handed to commit/checkpoint fails its checks: a bug upstream; nothing was written. */
  INVALID_RECORD: 'JOURNAL_INVALID_RECORD',
  /** A signal with this (subscription, sequence) is already journaled: nothing of the batch was written. */
  DUPLICATE_SIGNAL: 'JOURNAL_DUPLICATE_SIGNAL',
  /** A record would break an ordering invariant recovery relies on: nothing was written. */
  OUT_OF_ORDER: 'JOURNAL_OUT_OF_ORDER',
  /** What was read back is not what was written: stop, do not use it. */
  CORRUPT: 'JOURNAL_CORRUPT',
  /** The file is not a sigplane journal of a version this build understands. */
  SCHEMA: 'JOURNAL_SCHEMA',
  /** A read was asked with arguments outside their bounds. */
  INVALID_ARGUMENT: 'JOURNAL_INVALID_ARGUMENT',
  /** An earlier I/O error left the journal unusable: restart and recover from disk. */
  FAILED: 'JOURNAL_FAILED',
  /** The journal was closed. */
  CLOSED: 'JOURNAL_CLOSED',
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

export class JournalError extends SigplaneError<JournalErrorCode> {
  constructor(code: JournalErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, `${code}: ${message}`, options);
    this.name = 'JournalError';
  }
}

/** Version of the tuple layouts below; stored as each blob's first element. */
const recordFormatVersion = 1;

const packr = new Packr({ useRecords: false, moreTypes: false });

const actionMax = Math.max(...Object.values(Action));
const subscriptionStates: ReadonlySet<string> = new Set(Object.values(SubscriptionState));
const securityCodes: ReadonlySet<string> = new Set([...Object.values(RejectCode), ...Object.values(UpgradeRefusalCode), ...legacyUpgradeEventCodes]);
const decimalUint64 = /^(0|[1-9][0-9]{0,19})$/;

// ---------------------------------------------------------------- checks

/** Throws `code` with `what: why` unless ok. */
function check(ok: boolean, code: JournalErrorCode, what: string, why: string): asserts ok {
  if (!ok) throw new JournalError(code, `${what}: ${why}`);
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= journalLimits.idCharsMax;
}
function isSequence(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}
function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isSmallInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}
function isSymbol(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= fields.symbolLengthMax;
}
/** '' (v1) or a decimal uint64. */
function isDecimalId(v: unknown): v is string {
  return typeof v === 'string' && (v === '' || decimalUint64.test(v));
}
function isText(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max;
}

/** First failed check of a signal, or null. */
function signalFault(r: SignalRecord): string | null {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (!isId(r.subscriptionId)) return 'subscriptionId';
  if (!isSequence(r.sequence, 1)) return 'sequence';
  if (!isFiniteNumber(r.generatedAtMs)) return 'generatedAtMs';
  if (!isSymbol(r.symbol)) return 'symbol';
  if (!isSmallInt(r.orderType, fields.orderTypeMax)) return 'orderType';
  if (!isFiniteNumber(r.volume)) return 'volume';
  if (!isFiniteNumber(r.price)) return 'price';
  if (!isSmallInt(r.action, actionMax)) return 'action';
  if (!isDecimalId(r.positionId)) return 'positionId';
  if (!isFiniteNumber(r.stopLoss)) return 'stopLoss';
  if (!isFiniteNumber(r.takeProfit)) return 'takeProfit';
  if (!isDecimalId(r.magic)) return 'magic';
  if (r.signingVersion !== 1 && r.signingVersion !== 2) return 'signingVersion';
  if (!(r.content instanceof Uint8Array) || r.content.length > journalLimits.signalContentBytesMax) return 'content';
  if (!isFiniteNumber(r.receivedAtMs)) return 'receivedAtMs';
  return null;
}

/** The snapshot position rule the I/O thread applies to a master's snapshot (proto/signal-rules). */
function positionFault(p: Position): string | null {
  if (p === null || typeof p !== 'object') return 'not an object';
  return checkPosition(p)?.message ?? null;
}

function snapshotFault(s: SnapshotRecord): string | null {
  if (s === null || typeof s !== 'object') return 'not an object';
  if (!isId(s.subscriptionId)) return 'subscriptionId';
  if (!isSequence(s.sequence, 0)) return 'sequence';
  if (!isFiniteNumber(s.generatedAtMs)) return 'generatedAtMs';
  if (!Array.isArray(s.positions) || s.positions.length > wire.snapshotPositionsMax) return 'positions';
  for (let i = 0; i < s.positions.length; i++) {
    const fault = positionFault(s.positions[i]);
    if (fault !== null) return `positions[${i}]: ${fault}`;
  }
  return null;
}

function describe(subscriptionId: unknown, sequence: unknown): string {
  return `subscription ${JSON.stringify(subscriptionId)} sequence ${String(sequence)}`;
}

export function checkSignal(r: SignalRecord): void {
  const fault = signalFault(r);
  check(fault === null, JournalErrorCode.INVALID_RECORD, `signal ${describe(r?.subscriptionId, r?.sequence)}`, `invalid ${fault}`);
}

export function checkSnapshot(s: SnapshotRecord): void {
  const fault = snapshotFault(s);
  check(fault === null, JournalErrorCode.INVALID_RECORD, `snapshot ${describe(s?.subscriptionId, s?.sequence)}`, `invalid ${fault}`);
}

export function checkCursor(c: { subscriptionId: string; receiverId: string; sequence: number }): void {
  const what = `cursor ${describe(c?.subscriptionId, c?.sequence)} receiver ${JSON.stringify(c?.receiverId)}`;
  check(c !== null && typeof c === 'object', JournalErrorCode.INVALID_RECORD, what, 'not an object');
  check(isId(c.subscriptionId), JournalErrorCode.INVALID_RECORD, what, 'invalid subscriptionId');
  check(isId(c.receiverId), JournalErrorCode.INVALID_RECORD, what, 'invalid receiverId');
  check(isSequence(c.sequence, 0), JournalErrorCode.INVALID_RECORD, what, 'invalid sequence');
}

export function checkState(s: { subscriptionId: string; state: string; sequence: number; reason: string; atMs: number }): void {
  const what = `state ${describe(s?.subscriptionId, s?.sequence)}`;
  check(s !== null && typeof s === 'object', JournalErrorCode.INVALID_RECORD, what, 'not an object');
  check(isId(s.subscriptionId), JournalErrorCode.INVALID_RECORD, what, 'invalid subscriptionId');
  check(subscriptionStates.has(s.state), JournalErrorCode.INVALID_RECORD, what, `invalid state ${JSON.stringify(s.state)}`);
  check(isSequence(s.sequence, 0), JournalErrorCode.INVALID_RECORD, what, 'invalid sequence');
  check(isText(s.reason, journalLimits.stateReasonCharsMax), JournalErrorCode.INVALID_RECORD, what, 'invalid reason');
  check(isFiniteNumber(s.atMs), JournalErrorCode.INVALID_RECORD, what, 'invalid atMs');
}

/** First failed check of a security event, or null. */
export function securityEventFault(e: SecurityEvent): string | null {
  const textMax = journalLimits.securityTextCharsMax;
  if (e === null || typeof e !== 'object') return 'not an object';
  if (!isFiniteNumber(e.atMs)) return 'atMs';
  if (!securityCodes.has(e.code)) return 'code';
  if (e.subscriptionId !== null && !isText(e.subscriptionId, textMax)) return 'subscriptionId';
  if (e.role !== null && e.role !== 'master' && e.role !== 'receiver') return 'role';
  if (!isText(e.remoteAddress, textMax)) return 'remoteAddress';
  if (e.sequence !== null && !(typeof e.sequence === 'number' && Number.isSafeInteger(e.sequence))) return 'sequence';
  if (!isText(e.detail, textMax)) return 'detail';
  return null;
}

export function checkSecurityEvent(e: SecurityEvent): void {
  const fault = securityEventFault(e);
  check(fault === null, JournalErrorCode.INVALID_RECORD, `security event ${JSON.stringify(e?.code)} at ${String(e?.atMs)}`, `invalid ${fault}`);
}

/** Why an execution report may not be journaled, or null (the I/O thread checked the frame; this is the journal's own line). */
export function executionReportFault(r: ExecutionReportRecord): string | null {
  if (r === null || typeof r !== 'object') return 'record';
  if (!isId(r.subscriptionId)) return 'subscriptionId';
  if (!isId(r.receiverId)) return 'receiverId';
  if (!isSequence(r.sequence, 1)) return 'sequence';
  if (typeof r.masterPositionId !== 'string' || !executionReportIdPattern.test(r.masterPositionId)) return 'masterPositionId';
  if (!(executionKinds as readonly string[]).includes(r.kind)) return 'kind';
  if (!(executionOutcomes as readonly string[]).includes(r.outcome)) return 'outcome';
  if (r.ticket !== null && !(typeof r.ticket === 'string' && r.ticket.length >= 1 && r.ticket.length <= executionReports.idLengthMax)) return 'ticket';
  if (!isFiniteNumber(r.requestedVolume) || r.requestedVolume < 0) return 'requestedVolume';
  if (!isFiniteNumber(r.volume) || r.volume < 0) return 'volume';
  if (r.price !== null && (!isFiniteNumber(r.price) || r.price < 0)) return 'price';
  if (r.slippagePips !== null && !isFiniteNumber(r.slippagePips)) return 'slippagePips';
  if (r.delayMs !== null && !isSequence(r.delayMs, 0)) return 'delayMs';
  if (r.profit !== null && !isFiniteNumber(r.profit)) return 'profit';
  if (r.currency !== null && !(typeof r.currency === 'string' && /^[A-Z]{3,8}$/.test(r.currency))) return 'currency';
  if (r.reason !== null && !(typeof r.reason === 'string' && r.reason.length >= 1 && r.reason.length <= executionReports.reasonLengthMax)) return 'reason';
  if (!isFiniteNumber(r.executedAtMs)) return 'executedAtMs';
  if (!isFiniteNumber(r.receivedAtMs)) return 'receivedAtMs';
  return null;
}

export function checkExecutionReportRecord(r: ExecutionReportRecord): void {
  const fault = executionReportFault(r);
  check(fault === null, JournalErrorCode.INVALID_RECORD, `execution report ${String(r?.sequence)}`, `invalid ${fault}`);
}

// ---------------------------------------------------------------- blobs

/** An encoded record and the CRC-32 of its bytes. */
export interface Blob {
  bytes: Buffer;
  checksum: number;
}

function seal(tuple: unknown[]): Blob {
  const bytes = packr.pack(tuple);
  return { bytes, checksum: crc32(bytes) };
}

/** Checks, then encodes. */
export function encodeSignal(r: SignalRecord): Blob {
  checkSignal(r);
  return seal([
    recordFormatVersion,
    r.subscriptionId,
    r.sequence,
    r.generatedAtMs,
    r.symbol,
    r.orderType,
    r.volume,
    r.price,
    r.action,
    r.positionId,
    r.stopLoss,
    r.takeProfit,
    r.magic,
    r.signingVersion,
    r.content,
    r.receivedAtMs,
  ]);
}
const signalTupleLength = 16;

/** Checks, then encodes. */
export function encodeSnapshot(s: SnapshotRecord): Blob {
  checkSnapshot(s);
  const positions = s.positions.map((p) => [
    p.positionId,
    p.symbol,
    p.orderType,
    p.volume,
    p.openPrice,
    p.stopLoss,
    p.takeProfit,
    p.magic,
    p.openedSequence,
  ]);
  return seal([recordFormatVersion, s.subscriptionId, s.sequence, s.generatedAtMs, positions]);
}
const snapshotTupleLength = 5;
const positionTupleLength = 9;

/** The row a blob came from, for messages and key checks. */
export interface RowKey {
  table: 'signals' | 'snapshots';
  subscriptionId: string;
  sequence: number;
  journalId: number;
}

function corrupt(key: RowKey, why: string, cause?: unknown): JournalError {
  return new JournalError(
    JournalErrorCode.CORRUPT,
    `${key.table} row journal_id ${key.journalId} ${describe(key.subscriptionId, key.sequence)}: ${why}`,
    { cause },
  );
}

/** Verifies the checksum and the tuple's envelope; returns the tuple. */
function open(bytes: unknown, checksum: unknown, key: RowKey, tupleLength: number): unknown[] {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw corrupt(key, 'record is not a non-empty blob');
  const actual = crc32(bytes);
  if (actual !== checksum) {
    throw corrupt(key, `checksum mismatch (stored ${String(checksum)}, computed ${actual})`);
  }
  let tuple: unknown;
  try {
    tuple = packr.unpack(bytes);
  } catch (error) {
    throw corrupt(key, 'record does not decode', error);
  }
  if (!Array.isArray(tuple) || tuple.length !== tupleLength) throw corrupt(key, 'record has the wrong shape');
  if (tuple[0] !== recordFormatVersion) throw corrupt(key, `unknown record format ${String(tuple[0])}`);
  return tuple;
}

/** msgpackr yields a Buffer; the record type promises a plain Uint8Array (same memory, no copy). */
function plainBytes(v: unknown): Uint8Array | unknown {
  return v instanceof Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
}

/** Verifies everything (checksum, shape, fields, key columns) or throws JOURNAL_CORRUPT. */
export function decodeSignal(bytes: unknown, checksum: unknown, key: RowKey): SignalRecord {
  const t = open(bytes, checksum, key, signalTupleLength);
  const r = {
    subscriptionId: t[1],
    sequence: t[2],
    generatedAtMs: t[3],
    symbol: t[4],
    orderType: t[5],
    volume: t[6],
    price: t[7],
    action: t[8],
    positionId: t[9],
    stopLoss: t[10],
    takeProfit: t[11],
    magic: t[12],
    signingVersion: t[13],
    content: plainBytes(t[14]),
    receivedAtMs: t[15],
  } as SignalRecord;
  const fault = signalFault(r);
  if (fault !== null) throw corrupt(key, `decoded record has an invalid ${fault}`);
  if (r.subscriptionId !== key.subscriptionId || r.sequence !== key.sequence) {
    throw corrupt(key, `record says ${describe(r.subscriptionId, r.sequence)}: key mismatch`);
  }
  return r;
}

/** Verifies everything (checksum, shape, fields, key columns) or throws JOURNAL_CORRUPT. */
export function decodeSnapshot(bytes: unknown, checksum: unknown, key: RowKey): SnapshotRecord {
  const t = open(bytes, checksum, key, snapshotTupleLength);
  const rows = t[4];
  if (!Array.isArray(rows)) throw corrupt(key, 'positions is not an array');
  const positions: Position[] = [];
  for (const p of rows) {
    if (!Array.isArray(p) || p.length !== positionTupleLength) throw corrupt(key, 'a position has the wrong shape');
    positions.push({
      positionId: p[0],
      symbol: p[1],
      orderType: p[2],
      volume: p[3],
      openPrice: p[4],
      stopLoss: p[5],
      takeProfit: p[6],
      magic: p[7],
      openedSequence: p[8],
    });
  }
  const s = { subscriptionId: t[1], sequence: t[2], generatedAtMs: t[3], positions } as SnapshotRecord;
  const fault = snapshotFault(s);
  if (fault !== null) throw corrupt(key, `decoded snapshot has an invalid ${fault}`);
  if (s.subscriptionId !== key.subscriptionId || s.sequence !== key.sequence) {
    throw corrupt(key, `record says ${describe(s.subscriptionId, s.sequence)}: key mismatch`);
  }
  return s;
}
