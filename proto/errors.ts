/**
 * The catalogue of every stable error code sigplane gives anyone: a client
 * on the wire, an operator (the admin API, the CLI, logs, exit statuses), a
 * caller of the SDK. Grouped by where the codes surface, each with its
 * meaning in one line; docs/errors.md says what to do about each.
 *
 * The codes are defined where they are thrown or answered (`definedIn`);
 * this catalogue does not replace those definitions, it lists them all in
 * one place. The protocol's own code sets are checked here by the compiler
 * (`satisfies Record<RejectCode, ...>`); test/error-catalogue.test.ts checks
 * the rest: every code defined, thrown or answered anywhere is here, every
 * code here is in docs/errors.md, and a code found in two groups of one kind
 * means one thing.
 *
 * Every error class with a `code` extends SigplaneError (sigplane-error.ts).
 */
import type { SettingsErrorCode } from './receiver-settings';
import type { RejectCode, UpgradeRefusalCode } from './records';

export interface ErrorCodeEntry {
  /** What the code means, in one line. */
  readonly meaning: string;
  /** The HTTP status it is answered with (upgrade refusals, the admin API). */
  readonly httpStatus?: number;
  /** A numbered code's name: the constant that holds it. */
  readonly name?: string;
}

export interface ErrorCodeGroup {
  /** The heading of the group's section in docs/errors.md. */
  readonly title: string;
  /** Where the codes surface and who sees them. */
  readonly surface: string;
  /** What carries the code: an error class's `code`, a frame's field, an answer's body. */
  readonly carriedBy: readonly string[];
  /** The file(s) that define the codes. */
  readonly definedIn: readonly string[];
  /**
   * 'text': the codes are names; 'close': WebSocket close codes; 'exit':
   * exit statuses (both keyed by the number). Codes of one kind share one
   * namespace: a code in two groups of a kind means the same in both.
   */
  readonly kind: 'text' | 'close' | 'exit';
  readonly codes: Readonly<Record<string, ErrorCodeEntry>>;
}

/** Meanings of the codes that more than one group gives: one wording for each. */
const shared = {
  RATE_LIMITED: { meaning: 'The sender went over its rate limit: too many frames or requests in a time window.' },
  UNKNOWN_TOKEN: { meaning: 'No such token: never issued, or mistyped.' },
  INVALID_ARGUMENT: { meaning: 'An argument breaks its rules (type, format or bounds): nothing was done.' },
  PRICE_DEVIATION: { meaning: 'The price is further from the reference price than the allowed deviation in pips.' },
  NO_QUOTE: { meaning: 'No quote for the symbol at the broker.' },
} as const;

/** The configuration stores' refusals; the admin API answers most of them as they are. */
const storeCodes = {
  INVALID_ARGUMENT: shared.INVALID_ARGUMENT,
  INVALID_MAC_KEY: { meaning: 'An imported MAC key is not in the generated format (64 lowercase hex characters that look random), or with the legacy v1 opt-in not a legacy secret within its bounds.' },
  SUBSCRIPTION_EXISTS: { meaning: 'The subscription id asked for is taken.' },
  UNKNOWN_SUBSCRIPTION: { meaning: 'No such subscription.' },
  UNKNOWN_TOKEN: shared.UNKNOWN_TOKEN,
  ROTATION_IN_PROGRESS: { meaning: "The previous credential rotation's (or MAC key import's) overlap window is still open." },
  UNKNOWN_USER: { meaning: 'No such user.' },
  UNKNOWN_CREDENTIAL: { meaning: 'No such admin credential.' },
  UNKNOWN_ALLOWED_IP: { meaning: "The address is not on the subscription's allowlist." },
  ALREADY_ERASED: { meaning: 'The user was erased already.' },
  EMAIL_TAKEN: { meaning: "The email is a provider's or a subscriber's, or an erased user's." },
  UNKNOWN_RECEIVER_TOKEN: { meaning: 'Not a token id, or no receiver license token with that id.' },
  INVALID_TENANT: { meaning: "A transaction's tenant is not a user id (UUID) with a known role: nothing was run." },
  KEK_VERSION_UNKNOWN: { meaning: 'Rows are sealed under a key-encryption key version this process was not given.' },
  KEK_OPEN_FAILED: { meaning: 'A sealed secret does not open under its key-encryption key version (a wrong key for that version, or an altered row).' },
  APPLICATION_ROLE_UNSAFE: { meaning: "The server's database role would not be bound by row-level security (a superuser, BYPASSRLS, not in sigplane_app, owns tables): it does not serve." },
} as const;

const reject = {
  title: 'Wire rejects',
  surface: "A `Reject {code, message, sequence_number}` frame: to a master for a signal or a snapshot, to a receiver for an execution report; counted in sigplane_rejects_total{code}, recorded as security events.",
  carriedBy: ['Reject.code (proto RejectCode)', "SigplaneClientError.code (the SDK's publish and report errors)"],
  definedIn: ['proto/sigplane.proto', 'proto/records.ts'],
  kind: 'text',
  codes: {
    MALFORMED: { meaning: 'The frame does not decode, or a required field is missing.' },
    FRAME_TOO_LARGE: { meaning: "A frame over the endpoint's size limit." },
    RATE_LIMITED: shared.RATE_LIMITED,
    SIGNATURE_INVALID: { meaning: "The v1 signature or the v2 MAC does not match the subscription's key." },
    UNKNOWN_KEY: { meaning: 'The v2 key id is not a key valid now for this subscription (unknown, or rotated out).' },
    INVALID_FIELD: { meaning: "A field breaks the seed's field rules (subscription id, symbol, volume, price, order type, action, stops, positions)." },
    STALE: { meaning: 'Older than the signal TTL and not a copy of an accepted signal: never accepted.' },
    FUTURE: { meaning: 'Generated later than now plus the clock-skew allowance.' },
    REPLAY: { meaning: 'A sequence at or below the last accepted one, with other content.' },
    WRONG_SUBSCRIPTION: { meaning: "Signed for another subscription than the connection's." },
    BUSY: { meaning: 'Not taken now (a full shard ring, a journal disk short of space, or an earlier signal of this connection still to be resent): resend from this sequence.' },
    DEGRADED_BUFFER_FULL: { meaning: 'A gap is open and the held-signal buffer is full: the subscription goes SYNCING.' },
    PRICE_DEVIATION: shared.PRICE_DEVIATION,
    POSITION_UNKNOWN: { meaning: 'A modify or close of a position the positions book does not hold.' },
    ISOLATED: { meaning: 'An operator isolated the subscription: nothing is taken until the isolation is lifted.' },
    UNSUPPORTED: { meaning: 'A frame this endpoint does not take.' },
    SEQUENCE_OUT_OF_RANGE: { meaning: 'A sequence or a time beyond 2^53-1.' },
    REPORT_INVALID: { meaning: 'An execution report field out of its bounds (the message names it).' },
    REPORT_NOT_DELIVERED: { meaning: 'An execution report for a sequence not delivered to this receiver.' },
  } satisfies Record<RejectCode, ErrorCodeEntry>,
} as const;

const upgradeRefusal = {
  title: 'Upgrade refusals',
  surface: 'The HTTP answer to a refused WebSocket upgrade on /v1/master or /v1/receiver, with the body {"code": ...}; recorded as a security event under the same code.',
  carriedBy: ['the JSON body\'s code', "SigplaneClientError.refusalCode (with code UPGRADE_REFUSED and httpStatus)"],
  definedIn: ['proto/records.ts', 'io/upgrade.ts (the statuses)'],
  kind: 'text',
  codes: {
    QUERY_NOT_ALLOWED: { httpStatus: 400, meaning: 'A query string on a WebSocket path: none is taken.' },
    CREDENTIAL_IN_URL: { httpStatus: 400, meaning: 'Something credential-shaped in the query string: that credential is to be treated as leaked.' },
    NOT_A_WEBSOCKET_UPGRADE: { httpStatus: 400, meaning: 'Not a WebSocket upgrade (the method, the Upgrade header or Sec-WebSocket-Key).' },
    UNSUPPORTED_WEBSOCKET_VERSION: { httpStatus: 426, meaning: 'Sec-WebSocket-Version is not 13.' },
    AUTHORIZATION_TOO_LARGE: { httpStatus: 431, meaning: 'The Authorization header is over its size limit.' },
    HEADERS_TOO_LARGE: { httpStatus: 431, meaning: "The request's headers together are over their size limit." },
    MISSING_TOKEN: { httpStatus: 401, meaning: 'No `Authorization: Bearer` token.' },
    MALFORMED_TOKEN: { httpStatus: 401, meaning: "The token's format or checksum is wrong (mistyped or cut)." },
    UNKNOWN_TOKEN: { httpStatus: 401, ...shared.UNKNOWN_TOKEN },
    EXPIRED: { httpStatus: 401, meaning: 'The token is past its expiry.' },
    REVOKED: { httpStatus: 401, meaning: 'An operator revoked the token.' },
    WRONG_ROLE: { httpStatus: 403, meaning: 'A token of the other role (a master token on /v1/receiver, or the reverse).' },
    IP_NOT_ALLOWED: { httpStatus: 403, meaning: "The source address is not on the subscription's allowlist." },
    SUBSCRIPTION_ISOLATED: { httpStatus: 403, meaning: 'An operator isolated the subscription: no connection until the isolation is lifted.' },
    UNAVAILABLE: { httpStatus: 503, meaning: 'The configuration store or the upgrade rate limiter did not answer: transient.' },
    RATE_LIMITED: { httpStatus: 429, ...shared.RATE_LIMITED },
  } satisfies Record<UpgradeRefusalCode, ErrorCodeEntry & { httpStatus: number }>,
} as const;

const serverClose = {
  title: 'Close codes (server)',
  surface: 'The close code (and reason) of a WebSocket session the server ends.',
  carriedBy: ['the WebSocket close frame'],
  definedIn: ['io/close-codes.ts CloseCode', 'io/incident-control.ts IncidentCloseCode', 'io/receiver-connection.ts'],
  kind: 'close',
  codes: {
    1001: { name: 'SHUTDOWN', meaning: 'The server is stopping.' },
    1009: { name: 'FRAME_TOO_LARGE', meaning: "A frame over the endpoint's size limit (after a FRAME_TOO_LARGE reject)." },
    1012: { name: 'SHARD_RESTART', meaning: "The subscription's shard restarted or is down, or could not take the session's attach." },
    1013: { name: 'SETTINGS_UNAVAILABLE', meaning: "A receiver license's copy settings could not be read." },
    4001: { name: 'BACKPRESSURE', meaning: 'A receiver too slow for its subscription.' },
    4003: { name: 'ISOLATED', meaning: 'An operator isolated the subscription.' },
    4004: { name: 'REVOKED', meaning: "An operator revoked the session's token." },
    4005: { name: 'EXPIRED', meaning: "The session's token passed its expiry while connected." },
    4006: { name: 'IP_NOT_ALLOWED', meaning: "The session's address is no longer on the subscription's allowlist." },
    4029: { name: 'RATE_LIMITED', meaning: 'The session kept sending after RATE_LIMITED answers.' },
  },
} as const;

const clientClose = {
  title: 'Close codes (SDK)',
  surface: 'The close code the TypeScript SDK ends a session with (the server logs it).',
  carriedBy: ['the WebSocket close frame'],
  definedIn: ['client/connection.ts ClientCloseCode'],
  kind: 'close',
  codes: {
    1000: { name: 'NORMAL', meaning: 'The application closed the client.' },
    4101: { name: 'SILENCE', meaning: 'The server sent nothing for too long.' },
    4102: { name: 'WELCOME_TIMEOUT', meaning: 'No Welcome in time after the upgrade.' },
    4103: { name: 'QUEUE_OVERFLOW', meaning: "The receiver's queue of signals to hand to the application overflowed." },
    4104: { name: 'HANDLER_FAILED', meaning: "The application's onSignal or onSnapshot threw." },
    4105: { name: 'PROTOCOL', meaning: 'The server sent something the client cannot use.' },
  },
} as const;

/** A store code as the admin API answers it. */
function answered<K extends keyof typeof storeCodes>(code: K, httpStatus: number): ErrorCodeEntry {
  return { httpStatus, ...storeCodes[code] };
}

const admin = {
  title: 'Admin API',
  surface: 'The admin API\'s refusals: an HTTP status and the body {"code", "message"}; also in the audit log (response_status).',
  carriedBy: ['the JSON body\'s code', 'AdminHttpError.code'],
  definedIn: ['io/admin/admin-errors.ts (and the store codes it maps)'],
  kind: 'text',
  codes: {
    INVALID_REQUEST: { httpStatus: 400, meaning: 'A field missing, unknown, of the wrong type or out of bounds; a bad id, time, address, cursor or query parameter.' },
    INVALID_JSON: { httpStatus: 400, meaning: 'The body is not JSON.' },
    MISSING_CREDENTIAL: { httpStatus: 401, meaning: 'No Authorization header.' },
    INVALID_CREDENTIAL: { httpStatus: 401, meaning: "The admin credential is malformed, unknown, expired, revoked, or its user erased (not told apart)." },
    FORBIDDEN: { httpStatus: 403, meaning: "The credential's role is below the route's." },
    NOT_FOUND: { httpStatus: 404, meaning: 'No such admin route.' },
    METHOD_NOT_ALLOWED: { httpStatus: 405, meaning: 'The path exists with other methods (listed in `allow`).' },
    PAYLOAD_TOO_LARGE: { httpStatus: 413, meaning: 'The body is over its size limit; refused before it is read.' },
    UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, meaning: 'A body that is not application/json.' },
    RATE_LIMITED: { httpStatus: 429, ...shared.RATE_LIMITED },
    INTERNAL: { httpStatus: 500, meaning: 'Anything else: logged, no detail in the answer.' },
    INVALID_MAC_KEY: answered('INVALID_MAC_KEY', 400),
    UNKNOWN_SUBSCRIPTION: answered('UNKNOWN_SUBSCRIPTION', 404),
    UNKNOWN_TOKEN: answered('UNKNOWN_TOKEN', 404),
    UNKNOWN_USER: answered('UNKNOWN_USER', 404),
    UNKNOWN_CREDENTIAL: answered('UNKNOWN_CREDENTIAL', 404),
    UNKNOWN_ALLOWED_IP: answered('UNKNOWN_ALLOWED_IP', 404),
    ROTATION_IN_PROGRESS: answered('ROTATION_IN_PROGRESS', 409),
    ALREADY_ERASED: answered('ALREADY_ERASED', 409),
    EMAIL_TAKEN: answered('EMAIL_TAKEN', 409),
    SUBSCRIPTION_EXISTS: answered('SUBSCRIPTION_EXISTS', 409),
  },
} as const;

const store = {
  title: 'Configuration store and credentials',
  surface: "Thrown by the Postgres stores (persistence/pg/) to the CLI's operator commands (printed, exit 1), the admin API (answered as above) and the server at start.",
  carriedBy: ['ConfigError', 'MacSecretError', 'ReceiverSettingsStoreError', 'TenantError', 'KekRotationError', 'AuditRetentionError', 'ApplicationRoleError'],
  definedIn: [
    'persistence/pg/config-errors.ts',
    'persistence/pg/imported-mac-secret.ts',
    'persistence/pg/receiver-settings-store.ts',
    'persistence/pg/tenant.ts',
    'persistence/pg/kek-rotation.ts',
    'persistence/pg/audit-retention.ts',
    'persistence/pg/app-role.ts',
  ],
  kind: 'text',
  codes: storeCodes,
} as const;

const warning = {
  title: 'Warnings',
  surface: 'Not a refusal: what was asked was done, and the answer warns (the admin API\'s `warnings`, the CLI on stderr).',
  carriedBy: ['MacKeyWarning.code'],
  definedIn: ['persistence/pg/imported-mac-secret.ts'],
  kind: 'text',
  codes: {
    WEAK_MAC_KEY: { meaning: 'An imported legacy v1 secret was taken but is weak (SHORT, LOW_ENTROPY).' },
  },
} as const;

const settings = {
  title: 'Copy settings',
  surface: "A receiver license's copy settings refused: by the store before anything is written (the CLI prints the code, exit 2), and by the SDK when the server's settings break a rule (SETTINGS_INVALID).",
  carriedBy: ['SettingsError (with `field`)'],
  definedIn: ['proto/receiver-settings.ts'],
  kind: 'text',
  codes: {
    SETTINGS_NOT_AN_OBJECT: { meaning: 'The settings are missing or not an object.' },
    SETTINGS_UNKNOWN_FIELD: { meaning: 'A key that is not a copy setting.' },
    SETTINGS_INVALID_TYPE: { meaning: 'A value of the wrong type.' },
    SETTINGS_INVALID_SYMBOL: { meaning: 'A symbol, a symbol map entry, a prefix or a suffix with characters or a length outside the rules.' },
    SETTINGS_INVALID_MAGIC: { meaning: 'A magic number that is not a decimal uint64.' },
    SETTINGS_TOO_MANY_ENTRIES: { meaning: 'A list or a map over its entry limit.' },
    SETTINGS_OUT_OF_RANGE: { meaning: 'A number outside its bounds.' },
    SETTINGS_INVALID_LOT_MODE: { meaning: 'A lot mode that does not exist.' },
    SETTINGS_LOT_RANGE_EMPTY: { meaning: 'lotMin is above lotMax.' },
    SETTINGS_MASTER_EQUITY_REQUIRED: { meaning: "EQUITY_RATIO without the provider's account size (masterEquity)." },
    SETTINGS_FILTER_CONFLICT: { meaning: 'A symbol or a magic number both allowed and blocked.' },
  } satisfies Record<SettingsErrorCode, ErrorCodeEntry>,
} as const;

const journal = {
  title: 'Journal',
  surface: "The shard journal's invariants (SQLite): a shard worker's log and its exit; the shipper's status when it reads a journal.",
  carriedBy: ['JournalError'],
  definedIn: ['persistence/journal-codec.ts JournalErrorCode'],
  kind: 'text',
  codes: {
    JOURNAL_INVALID_RECORD: { meaning: 'A record handed to commit or checkpoint fails its checks (a bug upstream): nothing was written.' },
    JOURNAL_DUPLICATE_SIGNAL: { meaning: 'A signal with this subscription and sequence is journaled already: nothing of the batch was written.' },
    JOURNAL_OUT_OF_ORDER: { meaning: 'A record would break an ordering invariant that recovery relies on: nothing was written.' },
    JOURNAL_CORRUPT: { meaning: 'What was read back is not what was written.' },
    JOURNAL_SCHEMA: { meaning: 'The file is not a sigplane journal of a version this build understands.' },
    JOURNAL_INVALID_ARGUMENT: { meaning: 'A read asked with arguments outside their bounds.' },
    JOURNAL_FAILED: { meaning: 'An earlier I/O error left the journal unusable.' },
    JOURNAL_CLOSED: { meaning: 'The journal was closed.' },
  },
} as const;

const ship = {
  title: 'Shipper',
  surface: "The shipper thread (journal to Postgres): its log lines and its status (a table's error.code, pruneError.code).",
  carriedBy: ['ShipError'],
  definedIn: ['persistence/shipper/ship-errors.ts ShipErrorCode'],
  kind: 'text',
  codes: {
    SHIP_UNSHIPPABLE_ROW: { meaning: 'A journal row valid for the journal cannot go to Postgres as it is.' },
    SHIP_JOURNAL_BEHIND_WATERMARK: { meaning: 'The journal ends below what Postgres says was shipped from it (replaced or restored from an older copy): that table of that shard stops shipping.' },
    SHIP_WATERMARK_CONFLICT: { meaning: 'The watermark row did not move as the transaction expected: nothing was committed.' },
    SHIP_BATCH_TIMEOUT: { meaning: 'A shipping transaction outlived its time limit: its connection was destroyed.' },
    SHIP_POSTGRES_UNREACHABLE: { meaning: 'Postgres could not be reached, or the connection broke.' },
    SHIP_BATCH_REFUSED: { meaning: 'Postgres refused a batch (an SQL error other than a broken connection).' },
    SHIP_JOURNAL_UNREADABLE: { meaning: 'The journal file could not be opened or read (not corruption: it may succeed later).' },
    SHIP_FAULT_INJECTED: { meaning: "A test's fault hook fired." },
  },
} as const;

const ring = {
  title: 'Rings',
  surface: 'The shared-memory rings between the I/O thread and the shard workers: a caller bug or broken shared state, in a thread\'s log.',
  carriedBy: ['RingError'],
  definedIn: ['engine/ring-buffer.ts RingErrorCode'],
  kind: 'text',
  codes: {
    RING_RECORD_SIZE: { meaning: 'A record of 0 bytes or over the largest record: a caller bug, not "full".' },
    RING_LAYOUT: { meaning: 'The buffer is not a ring of this layout, or a ring size is invalid.' },
    RING_INVARIANT: { meaning: 'Shared state breaks an invariant (a corrupt length, an index out of range, two producers).' },
  },
} as const;

const client = {
  title: 'SDK',
  surface: "The TypeScript SDK's errors: thrown or rejected by its calls, or emitted as 'error' events. The code is one of these or a wire reject code.",
  carriedBy: ['SigplaneClientError'],
  definedIn: ['client/errors.ts ClientErrorCode'],
  kind: 'text',
  codes: {
    OUTBOX_FULL: { meaning: 'publish() while the outbox holds its most unacknowledged signals.' },
    NOT_CONNECTED: { meaning: 'publish() before the first Welcome (the starting sequence is unknown).' },
    CLOSED: { meaning: 'The client was closed while the operation was pending.' },
    DISCONNECTED: { meaning: 'The connection dropped while an answer was pending.' },
    UPGRADE_REFUSED: { meaning: 'The server refused the upgrade (httpStatus; refusalCode is its upgrade refusal code).' },
    INVALID_ARGUMENT: shared.INVALID_ARGUMENT,
    PROTOCOL: { meaning: 'The server sent something this client cannot use.' },
    SUPERSEDED_BY_SNAPSHOT: { meaning: 'A publish dropped, never sent again, after an earlier one came back STALE: a snapshot replaced it.' },
    SYNC_UNANSWERABLE: { meaning: 'A sync request could not be answered from the sent log or a snapshot.' },
    TIMEOUT: { meaning: 'waitFor() or connect() ran out of time.' },
    HANDLER_FAILED: { meaning: "The application's onSignal or onSnapshot threw." },
    CURSOR_UNREADABLE: { meaning: 'The cursor file exists but cannot be read or parsed.' },
    TRANSPORT: { meaning: 'The transport failed (a socket error, DNS, refused).' },
    POSITION_MAP_UNREADABLE: { meaning: "The copier's position map file exists but cannot be read or parsed." },
    SETTINGS_MISSING: { meaning: "A delivery came before the server sent this license's copy settings." },
    SETTINGS_INVALID: { meaning: "The server's copy settings break a rule (the settings code is in the message)." },
    BROKER_FAILED: { meaning: 'The broker kept requoting, or refused a close or a modify: the delivery is retried after a reconnect.' },
  },
} as const;

const skipReason = {
  title: 'Copy skip reasons',
  surface: "Why the SDK's copier did not copy a master position: the execution report's reason (outcome skipped), in Postgres's execution_reports.",
  carriedBy: ['ExecutionReport.reason'],
  definedIn: ['client/copy-rules.ts SkipReason'],
  kind: 'text',
  codes: {
    NOT_A_POSITION: { meaning: 'A pending order or CLOSE_BY: only market positions are copied.' },
    SYMBOL_NOT_ALLOWED: { meaning: "The symbol is not on the license's allowed list." },
    SYMBOL_BLOCKED: { meaning: "The symbol is on the license's blocked list." },
    MAGIC_NOT_ALLOWED: { meaning: "The magic number is not on the license's allowed list." },
    MAGIC_BLOCKED: { meaning: "The magic number is on the license's blocked list." },
    SIGNAL_TOO_OLD: { meaning: 'Older than signalAgeMsMax at the receiver.' },
    SYMBOL_UNKNOWN: { meaning: 'The broker has no such symbol (after mapping).' },
    NO_QUOTE: shared.NO_QUOTE,
    PRICE_DEVIATION: shared.PRICE_DEVIATION,
    NO_STOP_LOSS: { meaning: "RISK_PERCENT needs the master's stop loss to size the trade." },
    LOT_BELOW_MIN: { meaning: 'The sized volume rounds below the smallest allowed.' },
    OPEN_POSITIONS_NOT_COPIED: { meaning: 'A position opened while this receiver was away, and copyOpenPositions is off.' },
    BROKER_REJECTED: { meaning: 'The broker refused the order for good (the report says BROKER_REJECTED:<broker code>).' },
  },
} as const;

const paperBroker = {
  title: 'Paper broker',
  surface: "The SDK's paper broker's refusals (demo, tests): a BrokerResult's code, in reports as BROKER_REJECTED:<code>.",
  carriedBy: ['BrokerResult.code'],
  definedIn: ['client/paper-broker.ts PaperRejectCode'],
  kind: 'text',
  codes: {
    REQUOTE: { meaning: 'The price moved: try again (transient).' },
    INVALID_SYMBOL: { meaning: 'The paper account has no such symbol.' },
    INVALID_VOLUME: { meaning: "A volume outside the symbol's minimum, maximum or step, or above the open volume." },
    INVALID_STOPS: { meaning: 'A negative stop loss or take profit.' },
    NO_QUOTE: shared.NO_QUOTE,
    POSITION_NOT_FOUND: { meaning: 'No open position with that ticket.' },
    COMMENT_TOO_LONG: { meaning: "An order comment over the broker's limit." },
  },
} as const;

const cli = {
  title: 'CLI',
  surface: 'The `sigplane` command: a line on stderr, exit status 2; nothing was started or changed.',
  carriedBy: ['UsageError', 'ConfigError (cli/config.ts)'],
  definedIn: ['cli/args.ts', 'cli/config.ts'],
  kind: 'text',
  codes: {
    USAGE: { meaning: 'The command line is wrong: an unknown command, action or option, or a value outside its rules.' },
    INVALID_SETTING: { meaning: 'A setting (flag, environment variable or config file) is invalid; the line names it and where it came from.' },
  },
} as const;

const cliExit = {
  title: 'Exit statuses',
  surface: "The `sigplane` command's exit status.",
  carriedBy: ['the process exit status'],
  definedIn: ['cli/main.ts'],
  kind: 'exit',
  codes: {
    1: { name: 'FAILED', meaning: 'The command failed (the log line says why), or a command that checks found a problem (demo, billing charge-fees).' },
    2: { name: 'USAGE', meaning: 'A usage or setting error (USAGE, INVALID_SETTING): nothing was started.' },
  },
} as const;

const shardExit = {
  title: 'Shard worker exits',
  surface: "A shard worker thread's exit status that its host treats apart (the host's log).",
  carriedBy: ['the worker exit status'],
  definedIn: ['engine/shard-protocol.ts shardExitCode'],
  kind: 'exit',
  codes: {
    75: { name: 'journalOutOfSpace', meaning: 'A journal write found no space left (SQLITE_FULL): the host waits for space instead of counting a crash.' },
  },
} as const;

/** Every stable error code, by where it surfaces. */
export const errorCatalogue = {
  reject,
  upgradeRefusal,
  serverClose,
  clientClose,
  admin,
  store,
  warning,
  settings,
  journal,
  ship,
  ring,
  client,
  skipReason,
  paperBroker,
  cli,
  cliExit,
  shardExit,
} as const satisfies Record<string, ErrorCodeGroup>;

export type ErrorCatalogueGroup = keyof typeof errorCatalogue;
