/**
 * Every limit and default of sigplane, in one place (NATS' const.go habit).
 * Units and qualifiers come last in names: `ttlMs`, `ringBytes`.
 * Per-subscription settings start from `subscriptionDefaults` and may be
 * overridden per subscription in Postgres.
 */

export const wire = {
  /** Largest WebSocket message a master may send (a signed snapshot is the largest). */
  masterFrameBytesMax: 256 * 1024,
  /** Largest WebSocket message a receiver may send (subscribe, acks, sync requests). */
  receiverFrameBytesMax: 4 * 1024,
  /** A connection that sends nothing for this long is closed (uWS idleTimeout, seconds). */
  idleTimeoutSeconds: 60,
  /** Per-receiver send buffer: past it the receiver is dropped to resync. */
  receiverBackpressureBytesMax: 1024 * 1024,
  /** Master send buffer before uWS stops accepting more frames from us. */
  masterBackpressureBytesMax: 4 * 1024 * 1024,
  /** Largest Authorization header accepted on an upgrade. */
  authorizationHeaderBytesMax: 512,
  /** Positions in one snapshot, either direction. */
  snapshotPositionsMax: 2000,
} as const;

export const fields = {
  /** The seed: symbol alphanumeric, 1..20 characters. */
  symbolLengthMax: 20,
  /** The seed: 0 < volume <= 100 lots. */
  volumeMax: 100,
  /** Sequence numbers and ids are kept as JS numbers: beyond this they are refused. */
  integerMax: Number.MAX_SAFE_INTEGER,
  /** MT5 ENUM_ORDER_TYPE: BUY .. CLOSE_BY. */
  orderTypeMax: 8,
} as const;

/** Per-subscription settings and their defaults. */
export interface SubscriptionSettings {
  /** A signal older than this is STALE (the seed: 60 s). */
  ttlMs: number;
  /** A signal later than now plus this is FUTURE. */
  clockSkewMs: number;
  /** Price deviation guard, in pips (the seed: 50). */
  maxDeviationPips: number;
  /** The reference price of a symbol is used by the guard only while younger than this. */
  referencePriceMaxAgeMs: number;
  /** Per-connection token bucket: sustained rate and burst. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Pip size per symbol where the defaults of actors/pip-size.ts do not fit (e.g. { "US30.cash": 1 }). */
  pipSizes: Readonly<Record<string, number>>;
}

export const subscriptionDefaults: SubscriptionSettings = {
  ttlMs: 60_000,
  clockSkewMs: 1_000,
  maxDeviationPips: 50,
  referencePriceMaxAgeMs: 60_000,
  rateLimitPerSecond: 2_000,
  rateLimitBurst: 4_000,
  pipSizes: {},
};

export const actor = {
  /** Recent deliveries kept in memory per subscription for receiver catch-up. */
  deliveryWindowMax: 4096,
  /** Out-of-order signals held while DEGRADED before asking for a full snapshot. */
  heldSignalsMax: 1024,
  /** Deliveries sent to one catching-up receiver per step (the rest follow). */
  catchUpBatchMax: 512,
  /** While DEGRADED or SYNCING, the sync request is repeated this often. */
  syncRetryMs: 2_000,
  /** DEGRADED this long without becoming whole: ask for a full snapshot instead. */
  degradedEscalateMs: 10_000,
} as const;

export const engine = {
  /** Bytes of each SharedArrayBuffer ring (power of two). */
  ringBytes: 4 * 1024 * 1024,
  /** Largest record one ring slot carries. */
  ringRecordBytesMax: 512 * 1024,
  /** Records a shard worker takes from its ring in one batch (one journal commit). */
  shardBatchRecordsMax: 1024,
  /** Spin iterations before a consumer sleeps on the ring. */
  ringSpinIterations: 2_000,
  /** Longest a shard worker sleeps before checking timers. */
  shardIdleWaitMs: 50,
  /** Shard workers restarted more often than this within the window escalate. */
  shardRestartsMax: 3,
  shardRestartWindowMs: 60_000,
} as const;

export const journal = {
  /** Signals kept per subscription in the journal for receiver catch-up. */
  retainedSignalsPerSubscription: 100_000,
} as const;

export const credentials = {
  /** The seed: license tokens expire after 30 days by default. */
  licenseTokenTtlDays: 30,
  /** Bytes of randomness in a token (the seed: 32). */
  tokenBytes: 32,
  /** Bytes of a v2 MAC key. */
  macKeyBytes: 32,
} as const;

/** The journal -> Postgres shipper (persistence/shipper). */
export const shipper = {
  /** Journal rows one shipping transaction carries at most (one table of one shard). */
  shipBatchRowsMax: 5_000,
  /**
   * Journal bytes (blobs and strings) one transaction carries at most: a
   * signal may hold up to a whole master frame (256 KiB), so rows alone do
   * not bound memory. A single row larger than this still ships, alone.
   */
  shipBatchBytesMax: 8 * 1024 * 1024,
  /**
   * Longest a committed journal row waits before a shipping pass looks at it
   * (the time bound of a batch). A pass that filled a batch starts the next
   * one at once.
   */
  shipIntervalMs: 200,
  /** First wait after a failure (Postgres unreachable, a batch refused); doubles up to the max. */
  shipRetryInitialMs: 250,
  shipRetryMaxMs: 10_000,
  /** Connecting to Postgres takes at most this. */
  shipConnectTimeoutMs: 5_000,
  /**
   * One shipping transaction (lock, COPY, INSERT, watermark, COMMIT) takes at
   * most this: past it the connection is destroyed (the server rolls back)
   * and the batch is retried. Also the session's statement_timeout.
   */
  shipBatchTimeoutMs: 30_000,
  /** The server ends a shipper session that sits idle inside a transaction this long (a frozen shipper). */
  shipIdleInTransactionTimeoutMs: 60_000,
  /** Bytes of COPY text handed to the socket per write. */
  copyChunkBytes: 64 * 1024,
  /** Status reports from the shipper thread at most this often (and at once when Postgres goes up or down). */
  shipStatusIntervalMs: 250,
  /** busy_timeout of the read-only journal connection. */
  journalReadBusyTimeoutMs: 5_000,
  /** A stop() waits this long for the batch in flight, then terminates the thread (the server rolls back). */
  shipStopTimeoutMs: 35_000,
} as const;

/**
 * The operators' control channel: Postgres LISTEN/NOTIFY from the CLI (and
 * later the admin API) to every running server (persistence/pg/control-channel.ts,
 * io/control-listener.ts, io/incident-control.ts).
 */
export const control = {
  /** First wait after the listener's connection failed; doubles (with jitter) up to the max. */
  reconnectInitialMs: 250,
  reconnectMaxMs: 5_000,
  /** Connecting, and each query of the listener (LISTEN, resync, ping), takes at most this. */
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 5_000,
  /**
   * The listener pings its connection this often: a half-open TCP connection
   * would otherwise hide missed notifications until the kernel gives up.
   */
  pingIntervalMs: 5_000,
  /** server.start() waits this long for the first LISTEN and resync, then goes on (the listener keeps trying). */
  startWaitMs: 5_000,
  /** A NOTIFY payload longer than this is ignored (ours are about 120 bytes; Postgres allows 8000). */
  payloadBytesMax: 1_024,
  /** Notifications buffered while a resync runs; past this the connection is dropped and resynced again. */
  bufferedMessagesMax: 10_000,
  /** ISOLATED subscriptions read by one resync; at the limit no lift is inferred from absence. */
  isolatedSubscriptionsMax: 100_000,
  /** Token ids of live sessions checked for revocation per resync query. */
  resyncTokenIdsPerQueryMax: 1_000,
  /**
   * An isolated subscription's connections are closed right after its actor's
   * StateChange went out, or after this at the latest (the actor was already
   * ISOLATED, or its ring was full).
   */
  isolateCloseWaitMs: 200,
  /** A lift that met a full shard ring is tried again after this. */
  liftRetryMs: 50,
  /**
   * Revoked token ids remembered by the I/O thread, for how long: an upgrade
   * authenticated just before the revocation and opened just after it is
   * closed at once.
   */
  revokedTokensRememberedMax: 10_000,
  revokedTokenRememberMs: 60_000,
  /** `rotate-credentials`: how long the previous MAC key stays valid by default. */
  macKeyOverlapMsDefault: 60 * 60 * 1000,
} as const;
