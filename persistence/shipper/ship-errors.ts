/**
 * Stable error codes of the shipper (a caller, a metric or an operator acts
 * on `code`). Journal corruption keeps the journal's own code
 * (JOURNAL_CORRUPT, persistence/journal-codec.ts).
 */
import { SigplaneError } from '@sigplane/protocol';

export const ShipErrorCode = {
  /** A journal row is valid for the journal but cannot go to Postgres as it is (e.g. a subscription id that is no UUID). */
  UNSHIPPABLE_ROW: 'SHIP_UNSHIPPABLE_ROW',
  /**
   * The journal's highest id is below what Postgres says was shipped from it:
   * the file was replaced or restored from an older copy while the node id
   * stayed. Shipping that table of that shard stops until an operator looks.
   */
  JOURNAL_BEHIND_WATERMARK: 'SHIP_JOURNAL_BEHIND_WATERMARK',
  /** The watermark row did not move as the transaction expected: nothing was committed. */
  WATERMARK_CONFLICT: 'SHIP_WATERMARK_CONFLICT',
  /** A shipping transaction outlived shipper.shipBatchTimeoutMs (proto/limits.ts): its connection was destroyed. */
  BATCH_TIMEOUT: 'SHIP_BATCH_TIMEOUT',
  /** Postgres could not be reached or the connection broke. */
  POSTGRES_UNREACHABLE: 'SHIP_POSTGRES_UNREACHABLE',
  /** Postgres refused a batch (an SQL error other than a broken connection). */
  BATCH_REFUSED: 'SHIP_BATCH_REFUSED',
  /** The journal file could not be opened or read (not corruption: it may succeed later). */
  JOURNAL_UNREADABLE: 'SHIP_JOURNAL_UNREADABLE',
  /** A test's fault hook fired. */
  FAULT_INJECTED: 'SHIP_FAULT_INJECTED',
} as const;
export type ShipErrorCode = (typeof ShipErrorCode)[keyof typeof ShipErrorCode];

export class ShipError extends SigplaneError<ShipErrorCode> {
  constructor(code: ShipErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, `${code}: ${message}`, options);
    this.name = 'ShipError';
  }
}

/**
 * SQLSTATE classes and codes that mean "the server or the connection is
 * gone or not accepting us", as opposed to "this batch was refused":
 * 08 connection exception, 57P01..57P03 shutdown / cannot connect now,
 * 53300 too many connections, 3D000 no such database (yet).
 */
const unreachableSqlState = /^(08...|57P0[1-3]|53300|3D000)$/;

/** Node socket errors: the connection could not be made or broke. */
const socketErrorCode = /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN)$/;
/** pg's own messages for a connection that is gone (they carry no code). */
const connectionMessage = /connection (terminated|ended|error)|not queryable|Connection terminated|timeout exceeded when trying to connect/i;

/**
 * Did this error come from the connection rather than from the batch? True
 * for our unreachable/timeout codes, the SQLSTATEs above, socket errors and
 * pg's code-less connection messages; false for SQL errors that refuse a
 * batch, journal errors and bugs.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof ShipError) return error.code === ShipErrorCode.POSTGRES_UNREACHABLE || error.code === ShipErrorCode.BATCH_TIMEOUT;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) return unreachableSqlState.test(code);
    return socketErrorCode.test(code);
  }
  return error instanceof Error && connectionMessage.test(error.message);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
