/**
 * The one error type the client library raises. `code` is stable: either a
 * server RejectCode name (REPLAY, SIGNATURE_INVALID, ...) or one of the
 * client's own codes below.
 */
import { SigplaneError } from '@sigplane/protocol';

export const ClientErrorCode = {
  /** publish() while the outbox holds outboxSignalsMax unacked signals. */
  OUTBOX_FULL: 'OUTBOX_FULL',
  /** publish() before the first welcome (the starting sequence is unknown). */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The client was closed while the operation was pending. */
  CLOSED: 'CLOSED',
  /** The connection dropped while a sendSignal() answer was pending. */
  DISCONNECTED: 'DISCONNECTED',
  /** The HTTP upgrade was answered with a non-101 status (see httpStatus). */
  UPGRADE_REFUSED: 'UPGRADE_REFUSED',
  /** A bad argument (wrong signing version for the fields, non-integer sequence, ...). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The server sent something this client cannot use. */
  PROTOCOL: 'PROTOCOL',
  /** A publish dropped, never sent again, after an earlier one came back STALE: a snapshot replaced it (docs/protocol.md). */
  SUPERSEDED_BY_SNAPSHOT: 'SUPERSEDED_BY_SNAPSHOT',
  /** A sync request could not be answered from the sent log or a snapshot. */
  SYNC_UNANSWERABLE: 'SYNC_UNANSWERABLE',
  /** waitFor() or connect() ran out of time. */
  TIMEOUT: 'TIMEOUT',
  /** The application's onSignal / onSnapshot threw. */
  HANDLER_FAILED: 'HANDLER_FAILED',
  /** The cursor file exists but cannot be read or parsed. */
  CURSOR_UNREADABLE: 'CURSOR_UNREADABLE',
  /** The transport failed (socket error, DNS, refused). */
  TRANSPORT: 'TRANSPORT',
  /** The copier's position map file exists but cannot be read or parsed. */
  POSITION_MAP_UNREADABLE: 'POSITION_MAP_UNREADABLE',
  /** A delivery came before the server sent this licence's copy settings. */
  SETTINGS_MISSING: 'SETTINGS_MISSING',
  /** The server's copy settings break a rule (the SettingsError code is in the message). */
  SETTINGS_INVALID: 'SETTINGS_INVALID',
  /** The broker kept refusing (requotes) or refused a close / modify: the delivery is retried after a reconnect. */
  BROKER_FAILED: 'BROKER_FAILED',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** `code`: a RejectCode name or a ClientErrorCode. */
export class SigplaneClientError extends SigplaneError {
  /** The sequence concerned, when known (decimal string beyond 2^53-1). */
  readonly sequence: number | string | null;
  /** For UPGRADE_REFUSED: the HTTP status of the refusal. */
  readonly httpStatus: number | null;
  /** For UPGRADE_REFUSED: the server's refusal code from the JSON body (REVOKED, IP_NOT_ALLOWED, ...), when it sent one. */
  readonly refusalCode: string | null;

  constructor(
    code: string,
    message: string,
    options: { sequence?: number | string | null; httpStatus?: number | null; refusalCode?: string | null; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigplaneClientError';
    this.sequence = options.sequence ?? null;
    this.httpStatus = options.httpStatus ?? null;
    this.refusalCode = options.refusalCode ?? null;
  }
}

/** Turn a thrown value into an Error (for events). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
