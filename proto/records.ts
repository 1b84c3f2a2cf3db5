/**
 * Internal records: what the I/O thread hands a shard (through the ring),
 * what the journal stores and what deliveries are built from. Plain data
 * only (they cross threads as msgpackr), and how a signal's is built.
 */

/** Stable rejection codes: the names of proto's RejectCode. */
export const RejectCode = {
  MALFORMED: 'MALFORMED',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  INVALID_FIELD: 'INVALID_FIELD',
  STALE: 'STALE',
  FUTURE: 'FUTURE',
  REPLAY: 'REPLAY',
  WRONG_SUBSCRIPTION: 'WRONG_SUBSCRIPTION',
  BUSY: 'BUSY',
  DEGRADED_BUFFER_FULL: 'DEGRADED_BUFFER_FULL',
  PRICE_DEVIATION: 'PRICE_DEVIATION',
  POSITION_UNKNOWN: 'POSITION_UNKNOWN',
  ISOLATED: 'ISOLATED',
  UNSUPPORTED: 'UNSUPPORTED',
  SEQUENCE_OUT_OF_RANGE: 'SEQUENCE_OUT_OF_RANGE',
  REPORT_INVALID: 'REPORT_INVALID',
  REPORT_NOT_DELIVERED: 'REPORT_NOT_DELIVERED',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export const SubscriptionState = {
  ACTIVE: 'ACTIVE',
  DEGRADED: 'DEGRADED',
  SYNCING: 'SYNCING',
  ISOLATED: 'ISOLATED',
} as const;
export type SubscriptionState = (typeof SubscriptionState)[keyof typeof SubscriptionState];

/** proto Action values. */
export const Action = {
  NETTING: 0, // v1: a market order on the symbol's net position
  OPEN: 1,
  MODIFY: 2,
  CLOSE: 3,
  PARTIAL_CLOSE: 4,
} as const;
export type Action = (typeof Action)[keyof typeof Action];

/** MT5 ENUM_ORDER_TYPE values the positions book understands. */
export const OrderType = {
  BUY: 0,
  SELL: 1,
  BUY_LIMIT: 2,
  SELL_LIMIT: 3,
  BUY_STOP: 4,
  SELL_STOP: 5,
  BUY_STOP_LIMIT: 6,
  SELL_STOP_LIMIT: 7,
  CLOSE_BY: 8,
} as const;

/**
 * A signal's execution fields as plain values: what a SignalBody carries,
 * named as the engine keeps them. The one list of them: a decoded body
 * gives them through `signalBodyFields` and a record goes back into a
 * body for receivers through `encodeDelivery` (proto/codec.ts).
 */
export interface SignalBodyFields {
  subscriptionId: string;
  /** 1 .. 2^53-1 */
  sequence: number;
  generatedAtMs: number;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  /** Action value; always NETTING (0) for v1. */
  action: number;
  /** Decimal string of the uint64 position id ('' for v1). */
  positionId: string;
  stopLoss: number;
  takeProfit: number;
  /** Decimal string of the uint64 magic number ('' for v1). */
  magic: string;
}

/**
 * A decoded body's fields before any rule: a 64-bit integer beyond 2^53-1
 * is null (proto/codec.ts `safeInteger`), for the rules to refuse.
 */
export type DecodedSignalBodyFields = Omit<SignalBodyFields, 'sequence' | 'generatedAtMs'> & { sequence: number | null; generatedAtMs: number | null };

/** One authenticated, shape-checked, fresh signal. */
export interface SignalRecord extends SignalBodyFields {
  signingVersion: 1 | 2;
  /**
   * The exact content the MAC covered: v1, the payload string's UTF-8
   * bytes; v2, the body bytes. Two signals are duplicates when these match.
   */
  content: Uint8Array;
  /** Server clock when the I/O thread received it (ms). */
  receivedAtMs: number;
}

/**
 * The record of a checked signal: its execution fields (a decoded body's,
 * proto/codec.ts `signalBodyFields`) under the subscription, sequence and
 * generation time the checks settled. One object literal, built once per
 * signal on the I/O thread (a spread of the fields cost twice as much).
 */
export function signalRecord(
  fields: Omit<SignalBodyFields, 'subscriptionId' | 'sequence' | 'generatedAtMs'>,
  subscriptionId: string,
  sequence: number,
  generatedAtMs: number,
  signingVersion: 1 | 2,
  content: Uint8Array,
  receivedAtMs: number,
): SignalRecord {
  return {
    subscriptionId,
    sequence,
    generatedAtMs,
    symbol: fields.symbol,
    orderType: fields.orderType,
    volume: fields.volume,
    price: fields.price,
    action: fields.action,
    positionId: fields.positionId,
    stopLoss: fields.stopLoss,
    takeProfit: fields.takeProfit,
    magic: fields.magic,
    signingVersion,
    content,
    receivedAtMs,
  };
}

export interface Position {
  positionId: string;
  symbol: string;
  orderType: number;
  volume: number;
  openPrice: number;
  stopLoss: number;
  takeProfit: number;
  magic: string;
  openedSequence: number;
}

/** A master's signed full snapshot (verified by the I/O thread). */
export interface SnapshotRecord {
  subscriptionId: string;
  sequence: number;
  generatedAtMs: number;
  positions: Position[];
}

/**
 * Stable codes of a refused WebSocket upgrade: the JSON body's `code` of the
 * HTTP refusal (docs/protocol.md, "Connecting"). RATE_LIMITED is also a
 * RejectCode (frames); the two mean the same.
 */
export const UpgradeRefusalCode = {
  QUERY_NOT_ALLOWED: 'QUERY_NOT_ALLOWED',
  CREDENTIAL_IN_URL: 'CREDENTIAL_IN_URL',
  NOT_A_WEBSOCKET_UPGRADE: 'NOT_A_WEBSOCKET_UPGRADE',
  UNSUPPORTED_WEBSOCKET_VERSION: 'UNSUPPORTED_WEBSOCKET_VERSION',
  AUTHORIZATION_TOO_LARGE: 'AUTHORIZATION_TOO_LARGE',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  MISSING_TOKEN: 'MISSING_TOKEN',
  MALFORMED_TOKEN: 'MALFORMED_TOKEN',
  UNKNOWN_TOKEN: 'UNKNOWN_TOKEN',
  EXPIRED: 'EXPIRED',
  REVOKED: 'REVOKED',
  WRONG_ROLE: 'WRONG_ROLE',
  IP_NOT_ALLOWED: 'IP_NOT_ALLOWED',
  SUBSCRIPTION_ISOLATED: 'SUBSCRIPTION_ISOLATED',
  UNAVAILABLE: 'UNAVAILABLE',
  RATE_LIMITED: 'RATE_LIMITED',
} as const;
export type UpgradeRefusalCode = (typeof UpgradeRefusalCode)[keyof typeof UpgradeRefusalCode];

/** A security event's code is the one the client was answered: a frame's RejectCode or an upgrade's refusal code. */
export type SecurityEventCode = RejectCode | UpgradeRefusalCode;

/**
 * Codes that journals written before upgrade refusals kept their own code
 * may still hold, with that code in `detail`. Read, never written: the
 * shipper stores the refusal code instead (persistence/shipper/journal-rows.ts).
 */
export const legacyUpgradeEventCodes: ReadonlySet<string> = new Set(['AUTH_REFUSED', 'IP_REFUSED']);

/** A rejection or refusal worth keeping: journaled, shipped, audited. */
export interface SecurityEvent {
  atMs: number;
  /** What the client was answered (never a summary of it): the runbook's queries select on it. */
  code: SecurityEventCode;
  subscriptionId: string | null;
  role: 'master' | 'receiver' | null;
  remoteAddress: string;
  sequence: number | null;
  detail: string;
}

/** Execution report kinds and outcomes (proto ExecutionKind / ExecutionOutcome; execution_reports columns). */
export const executionKinds = ['open', 'adopt', 'close', 'reduce', 'modify', 'skip'] as const;
export type ExecutionKind = (typeof executionKinds)[number];
export const executionOutcomes = ['filled', 'partially_filled', 'skipped', 'rejected'] as const;
export type ExecutionOutcome = (typeof executionOutcomes)[number];

/** One execution report, checked, as the shard journals it and the shipper ships it. */
export interface ExecutionReportRecord {
  subscriptionId: string;
  /** The receiver's license token id. */
  receiverId: string;
  sequence: number;
  masterPositionId: string;
  kind: ExecutionKind;
  outcome: ExecutionOutcome;
  ticket: string | null;
  requestedVolume: number;
  volume: number;
  price: number | null;
  slippagePips: number | null;
  delayMs: number | null;
  profit: number | null;
  currency: string | null;
  reason: string | null;
  executedAtMs: number;
  receivedAtMs: number;
}
