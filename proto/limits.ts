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
  /**
   * Per-receiver send buffer in the server (uWS's backpressure, counted only
   * once the kernel's socket buffer is full): a send past it is refused by
   * uWS and the receiver is dropped at once (no close frame: it would have
   * to wait behind the whole buffer). The kernel's buffer comes on top: up
   * to net.ipv4.tcp_wmem's maximum (4 MiB on Linux by default).
   */
  receiverBackpressureBytesMax: 1024 * 1024,
  /**
   * How far behind a receiver may read, whatever the kernel buffers: a
   * WebSocket ping sent after its deliveries must come back (the pong)
   * within this, or it is closed, 4001 BACKPRESSURE when nothing waits in
   * the server's buffer (the close frame goes out at once), else dropped.
   */
  receiverReadLagMsMax: 10_000,
  /**
   * ...and how much it may leave unread, kernel included: past this many
   * bytes sent beyond what it confirmed reading (with a pong) it is closed
   * the same way. This bounds what it reads before it sees its close.
   */
  receiverUnreadBytesMax: 1024 * 1024,
  /** A receiver that was sent something is probed (a ping behind its deliveries) at most this often; one probe at a time. */
  receiverLagProbeIntervalMs: 1_000,
  /** Master send buffer before uWS stops accepting more frames from us. */
  masterBackpressureBytesMax: 4 * 1024 * 1024,
  /** Largest Authorization header accepted on an upgrade. */
  authorizationHeaderBytesMax: 512,
  /**
   * Frames of one connection answered RATE_LIMITED within one second before
   * it is closed (4029): a client told to slow down that keeps sending is
   * flooding, and answering each frame would spend the I/O thread on it.
   */
  rateLimitedFramesPerSecondMax: 1_000,
  /** A connection being rate limited yields one security event per this interval, with the count. */
  rateLimitedEventIntervalMs: 1_000,
  /**
   * Frames of one connection answered BUSY (a full ring, a journal disk
   * short of space) yield one security event per this interval, with the count
   * and the first sequence refused, not one each: recording each would
   * cost the I/O thread and the journal most exactly when they have least
   * to spare. Each frame is still answered BUSY.
   */
  busyEventIntervalMs: 1_000,
  /**
   * A receiver's DeliveryAcks go to its shard at most once per this
   * interval per connection, the highest one (an ack is cumulative;
   * io/receiver-ack-forwarding.ts): each forwarded ack is a ring record
   * and a cursor row in the shard's commit. 100 ms is 10 cursor records a
   * second per receiver at any ack rate, and a cursor (advisory: a
   * receiver subscribes with its own) at most a tenth of a second behind.
   */
  receiverAckForwardIntervalMs: 100,
  /** After that close, the token may not open a session for this long (429 RATE_LIMITED with Retry-After)... */
  floodCooldownMs: 10_000,
  /** ...remembered for at most this many tokens (oldest forgotten first). */
  floodCooldownTokensMax: 100_000,
  /** All header names and values of an upgrade request together (an EA sends about 300 bytes). */
  upgradeHeaderBytesMax: 8 * 1024,
  /**
   * An upgrade's query string is searched for credentials as it came and in
   * this many rounds of percent-decoding (a doubly encoded token is found
   * by whatever decodes it twice).
   */
  upgradeQueryDecodingRoundsMax: 3,
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
  /** Pip size per symbol where the defaults of proto/pip-size.ts do not fit (e.g. { "US30.cash": 1 }). */
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
  /**
   * Symbols whose reference price one subscription keeps for the price
   * guard; past it the least recently priced is forgotten (a master sending
   * ever new symbols cannot grow the actor).
   */
  referencePricesMax: 1_024,
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
  /**
   * Signals all the delivery windows of one shard worker hold together:
   * past it the windows of the subscriptions least recently active are
   * emptied (their catch-up reads the journal). 400 to 600 bytes of heap a
   * signal (two memory soaks): 131,072 is 32 full windows, 50 to 80 MiB
   * (engine/window-budget.ts).
   */
  deliveryWindowRecordsPerShardMax: 131_072,
  /** Records a shard worker takes from its ring in one batch (one journal commit). */
  shardBatchRecordsMax: 1024,
  /**
   * Connection detaches (masterDetach, receiverDetach) one shard's ring had
   * no room for, kept by the I/O thread and written before any new record
   * once it has: a lost detach would leave the closed connection in its
   * actor's state for as long as the worker runs. About 150 bytes each:
   * 2.5 MiB at most per shard. A worker that leaves this many waiting has
   * not taken its ring for that many closes: it is restarted from its
   * journal, which rebuilds its actors without any connection (its
   * connections resync, as after a crash; engine/shard-host.ts).
   */
  shardDetachBacklogMax: 16_384,
  /**
   * How long a worker's consumer spins checking its ring before it sleeps:
   * waking a sleeping thread on the other core costs ~50 us, so records a
   * little apart are taken without one. A time, not a count of checks: the
   * 2,000 checks this used to be took ~110 us on the 2-core bench machine,
   * ~25 us once a check stopped building its assertion message.
   */
  ringSpinMs: 0.1,
  /**
   * Cores (os.availableParallelism(), which a taskset mask narrows) below
   * which a consumer never spins (engine/spin-policy.ts): with one or two
   * the spin takes the core the producer, the load or Postgres needs, and
   * delays the very records it waits for (an earlier prototype: a 121 us
   * hand-off back with the spin, 16 us without; issue 16). Measured here
   * 2026-12-08, 2-vCPU EPYC, pinned, 1,000/s x 10: 60 us of server CPU per
   * delivery without the spin, 54 us with it allowed, within the noise of
   * that shared machine (docs/benchmarks.md, "Changes for speed").
   */
  ringSpinCoresMin: 3,
  /** Above it, a consumer spins only while at least this share of its recent waits ended within ringSpinMs... */
  ringSpinHitShareMin: 0.5,
  /** ...an exponential average in which the latest wait weighs this much (about the last 16 count). */
  ringSpinHitShareWeight: 1 / 16,
  /**
   * Longest a shard worker sleeps with nothing due. Only a safety bound: it
   * wakes for records, and sleeps no longer than its next actor timer,
   * refusal summary, cursor commit or stats report (each while one is
   * pending). The 50 ms this was cost ~20 wake-ups a second per idle worker.
   */
  shardIdleWaitMs: 60_000,
  /**
   * A batch of receiver cursor updates alone (DeliveryAcks and nothing
   * else) is committed at most this often; cursors otherwise ride with the
   * next commit that happens anyway. A cursor is advisory (a receiver states
   * its last executed sequence on subscribe), so a crash loses at most this
   * much cursor advance: re-deliveries the receiver's own dedup absorbs
   * (docs/reliability.md, "Receiver cursors"). Per ack it cost a commit, and
   * an fsync under journal sync full.
   */
  cursorCommitIntervalMs: 1_000,
  /** A shard worker reports its stats (counters, memory) at most this often, and only after something changed. */
  shardStatsIntervalMs: 1_000,
  /** Shard workers restarted more often than this within the window escalate. */
  shardRestartsMax: 3,
  shardRestartWindowMs: 60_000,
} as const;

/** Signals kept per subscription in the journal for receiver catch-up. */
const retainedSignalsPerSubscription = 100_000;

/** A shard's SQLite journal (persistence/journal.ts, journal-codec.ts, journal-schema.ts). */
export const journalLimits = {
  retainedSignalsPerSubscription,
  /** Signals read per query while recover streams a subscription. */
  recoverSignalsPageMax: 512,
  /** Signals one prune call deletes at most (a prune holds the write lock). */
  pruneRowsMax: 5_000,
  /** Largest `limit` readSignals accepts. */
  readSignalsLimitMax: retainedSignalsPerSubscription,
  /** WAL pages before an automatic checkpoint (SQLite's default, ~4 MiB). */
  walAutocheckpointPages: 1000,
  /** The WAL file is truncated back to this after a checkpoint. */
  walSizeLimitBytes: 64 * 1024 * 1024,
  /** How long a connection waits for the file's write lock (SQLite busy_timeout). */
  busyTimeoutMs: 5_000,
  /** Page cache (negative: KiB). */
  cacheSizeKiB: 16 * 1024,
  /** Subscription and receiver ids: the seed's are UUIDs (36 characters). */
  idCharsMax: 256,
  /** A state change's reason. */
  stateReasonCharsMax: 4096,
  /** Strings of a security event (attacker-influenced: anything a frame can carry). */
  securityTextCharsMax: wire.masterFrameBytesMax,
  /** A signal's content is at most one master frame. */
  signalContentBytesMax: wire.masterFrameBytesMax,
} as const;

export const credentials = {
  /** The seed: license tokens expire after 30 days by default. */
  licenseTokenTtlDays: 30,
  /** Bytes of randomness in a token (the seed: 32). */
  tokenBytes: 32,
  /** Bytes of a v2 MAC key. */
  macKeyBytes: 32,
  /**
   * A master token lives 365 days by default: a Master EA runs unattended for
   * months, so the seed's 30 days (receivers) would stop a provider's signals
   * without warning; rotation with grace replaces it sooner when wanted.
   */
  masterTokenTtlDays: 365,
  /** Longest license token lifetime accepted (10 years). */
  tokenTtlDaysMax: 3650,
  /** A license token's label (operators' note). */
  tokenLabelCharsMax: 200,
  /** A token's last_used_at is rewritten at most this often (saves a write per connection burst). */
  tokenLastUsedResolutionSeconds: 60,
  /** Master tokens revoked by one credential rotation (a subscription has one or two). */
  rotationRevokedTokensMax: 1000,
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
  /**
   * Longest wait between connection attempts while Postgres is unreachable
   * (the same doubling from shipRetryInitialMs). An attempt costs one
   * refused connect, and the backlog should start draining about a second
   * after Postgres is back, not up to shipRetryMaxMs later.
   */
  shipReconnectMaxMs: 1_000,
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
  /** Shard journals one shipper thread ships at most. */
  shardsMax: 1024,
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
  /**
   * Live sessions are checked this often (and at once on an ALLOWLIST
   * message) for a token that expired or an address its allowlist no longer
   * admits; those are closed (4005 EXPIRED, 4006 IP_NOT_ALLOWED).
   */
  sessionSweepIntervalMs: 30_000,
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
  /** Longest overlap of a replaced MAC key accepted by any rotation or import (30 days): the CLI and the admin API take minutes. */
  macKeyOverlapMinutesMax: 30 * 24 * 60,
} as const;

/**
 * Rate limits beyond the per-connection bucket (io/rate-limit/): per source
 * IP on upgrades and per subscription on signals, global across nodes
 * through Redis when REDIS_URL is set. Operators may override the rates and
 * bursts in the configuration (cli/config.ts).
 */
export const rateLimits = {
  /**
   * WebSocket upgrades one source address may attempt (authenticated or not).
   * The burst lets a few hundred terminals behind one address (a VPS, a NAT)
   * reconnect at once after a restart; a credential-guessing flood is held to the rate.
   */
  upgradesPerIpPerSecond: 50,
  upgradesPerIpBurst: 500,
  /** Signals of one subscription, all its masters on all nodes together. */
  subscriptionSignalsPerSecond: 4_000,
  subscriptionSignalsBurst: 8_000,
  /**
   * While Redis is unreachable each node limits on its own, this many times
   * stricter: N nodes each at the full limit would admit N times the global one.
   */
  fallbackStrictnessFactor: 4,
  /** Signals a node takes from the global per-subscription budget in one Redis call (a node may overshoot by one lease). */
  subscriptionLeaseSignals: 100,
  /** Keys (addresses, subscriptions) an in-memory limiter tracks; past it the least recently used is forgotten. */
  inMemoryKeysMax: 100_000,
  /** A Redis call taking longer than this counts as Redis unreachable. */
  redisCommandTimeoutMs: 250,
  /** Reconnect backoff of the Redis client. */
  redisReconnectInitialMs: 100,
  redisReconnectMaxMs: 5_000,
} as const;

/** Security events: journaled by the shards, shipped to Postgres's security_events. */
export const securityEvents = {
  /** A detail is our own text (a code, a short message), never client bytes; bounded anyway. */
  detailCharsMax: 512,
  /**
   * Refusals a shard itself decides (the actors' REPLAY, PRICE_DEVIATION,
   * ...) are recorded one by one up to this rate per subscription; past it
   * they are counted, and each count is recorded as one summary event.
   */
  shardRefusalsPerSecond: 50,
  shardRefusalsBurst: 200,
  /** How often the counts are recorded (one event per subscription, source address and code). */
  summaryIntervalMs: 1_000,
  /** Distinct (subscription, source address, code) counts kept between summaries; past it, counted per subscription and code. */
  summaryKeysMax: 10_000,
} as const;

/** Operations: logging and the status page. */
export const operations = {
  /** Security events also written to the log, at most this many per second (the journal keeps them all). */
  securityEventLogsPerSecond: 50,
  securityEventLogsBurst: 200,
  /** The status page's JSON is recomputed at most this often, however many operators poll it. */
  statusSnapshotMinIntervalMs: 250,
  /** Subscriptions listed on the status page (the busiest first); the totals cover all. */
  statusSubscriptionsMax: 200,
  /** Subscriptions whose accepted signals the status page counts (io/status/status-board.ts); past it the oldest is forgotten. */
  statusTrackedSubscriptionsMax: 100_000,
} as const;

/** The admin HTTP API (io/admin/) and its credentials (persistence/pg/admin-store.ts). */
export const admin = {
  /**
   * The admin listener binds here unless told otherwise: never the public
   * interface by default. It has no default port: it is off until
   * `--admin-port` (or SIGPLANE_ADMIN_PORT) is given.
   */
  hostDefault: '127.0.0.1',
  /** Largest request body read; a longer one is refused 413 PAYLOAD_TOO_LARGE before it is read. */
  requestBodyBytesMax: 64 * 1024,
  /** Largest Authorization header looked at. */
  authorizationHeaderBytesMax: 512,
  /** Rows of one page of a list or an audit query. */
  pageSizeDefault: 50,
  pageSizeMax: 500,
  /** Admin credentials expire after this by default, and at most after the max. */
  credentialTtlDaysDefault: 90,
  credentialTtlDaysMax: 365,
  /** last_used_at of an admin credential is rewritten at most this often. */
  credentialLastUsedResolutionSeconds: 60,
  /** A request body kept in the audit log is cut to this many characters of JSON. */
  auditPayloadCharsMax: 4_096,
  /** A request path kept in the audit log or a log line is cut to this many characters. */
  pathCharsMax: 200,
  /** A keyset page cursor as a client hands it back. */
  cursorCharsMax: 200,
  /** GDPR export: rows of each kind included at most (the answer says when one was cut). */
  exportRowsMax: 10_000,
  /** An email address (users; the admin API, the CLI, performance fees' subscribers). */
  emailLengthMax: 254,
  /**
   * Refusals before authentication (401, 413) per source address: each costs
   * an audit row (and a 401 a credential lookup), and anyone who reaches the
   * port can send them. Past the burst the address is answered 429 without
   * either until its bucket refills (io/admin/unauthenticated-throttle.ts).
   */
  unauthenticatedRefusalsPerMinute: 30,
  unauthenticatedRefusalsBurst: 30,
  /** Source addresses whose refusals are counted at once (past it the oldest is forgotten). */
  unauthenticatedAddressesMax: 10_000,
} as const;

/**
 * Journal retention and disk budget (persistence/shipper/journal-pruner.ts,
 * run by the shipper thread): which shipped rows go, how much work one pass
 * does, and when the journal's size is reported as a problem.
 */
export const journalRetention = {
  /** The shipper thread prunes shipped journal rows this often. */
  pruneIntervalMs: 5_000,
  /**
   * Prune transactions (each at most journal.prune's 5000 rows, holding the
   * journal's write lock that shard commits wait for) per shard per pass.
   */
  pruneTransactionsPerPassMax: 20,
  /**
   * Subscriptions one pass looks at per shard at most (each costs an index
   * walk of retainedSignalsPerSubscription rows); the next pass resumes
   * after the last one.
   */
  pruneSubscriptionsPerPassMax: 100,
  /** Signals replayed to build one checkpoint at most; a longer backlog is checkpointed over several passes. */
  checkpointReplaySignalsMax: 50_000,
  /** The pruner's connection waits this long for the shard's write lock, then leaves the work to the next pass. */
  pruneBusyTimeoutMs: 1_000,
  /** Default disk budget of all shard journals of a node together (serve --journal-budget, SIGPLANE_JOURNAL_BUDGET). */
  diskBudgetBytesDefault: 8 * 1024 * 1024 * 1024,
  /** From this share of the budget on, the journal's disk is reported 'warning' (log, /readyz, /metrics). */
  diskBudgetWarnRatio: 0.8,
} as const;

/**
 * Free space on the data folder's filesystem, which the journals share with
 * everything else kept there (engine/journal-space.ts). Below the reserve,
 * records that would grow a journal are refused BUSY before a journal write
 * can fail for lack of space; a shard whose write failed anyway waits,
 * stopped, for the resume mark and starts again from its journal.
 */
export const journalDisk = {
  /** Free space is read this often (statfs, a cheap system call, on the I/O thread). */
  checkIntervalMs: 200,
  /**
   * Default reserve: the smaller of these (serve --journal-disk-reserve,
   * SIGPLANE_JOURNAL_DISK_RESERVE), so a small disk is not refused from the start.
   */
  reserveBytesDefault: 256 * 1024 * 1024,
  reserveRatioDefault: 0.05,
  /**
   * Hysteresis: once refusing, records are taken again only when free space
   * is back above the reserve plus this share of it...
   */
  resumeRatio: 0.25,
  /** ...and at least this much above it (with no reserve, what a shard stopped by a full disk waits for). */
  resumeBytesMin: 1024 * 1024,
  /**
   * A shard worker that dies of anything while free space is below the
   * reserve, or below this, is taken to have died of it (an I/O error after
   * ENOSPC, a failed fsync): it waits for space rather than counting as a crash.
   */
  nearlyFullBytes: 1024 * 1024,
  /**
   * Once full, the disk stays full (and a stopped shard stopped) at least
   * this long, even with room again; the hold doubles each time it is full
   * again within fullHoldMsMax of the last time it recovered (a write that
   * needs more than the room there is would otherwise restart the shard,
   * which replays its whole journal, over and over).
   */
  fullHoldMsMin: 1_000,
  fullHoldMsMax: 60_000,
} as const;

/** The audit log's time partitions (migration 003, persistence/pg/audit-retention.ts). */
export const auditLog = {
  /** Month partitions created ahead of the current month by each maintenance run... */
  partitionMonthsAhead: 3,
  /** ...and the most a run may be asked to create ahead. */
  partitionMonthsAheadMax: 24,
  /** Shortest and longest retention `sigplane audit-log maintain --retention-days` accepts. */
  retentionDaysMin: 30,
  retentionDaysMax: 36_500,
  /** An operator's reason for an audited action (isolate, lift, revoke, rotate, erase...): kept in the audit row only. */
  reasonCharsMax: 500,
  /** A user agent kept in an audit row is cut to this. */
  userAgentCharsMax: 512,
  /** An error message kept in an audit row is cut to this. */
  errorMessageCharsMax: 2000,
  /** event_type, action and resource_type: VARCHAR(50) columns of the seed's audit_log. */
  shortTextCharsMax: 50,
} as const;

/** Per-subscriber copy settings (proto/receiver-settings.ts, `sigplane receiver-settings`): bounds keep the row and the frame small. */
export const copySettings = {
  /** Receiver symbols: the seed's 20 widened for broker suffixes. */
  symbolLengthMax: 32,
  symbolAffixLengthMax: 12,
  symbolMapEntriesMax: 256,
  /** Entries of each symbol or magic-number list. */
  filterEntriesMax: 256,
  /** lotValue: lots (the seed's bound on a volume), factor, or percent of equity. */
  lotValueMax: 100,
  lotsMax: 100,
  masterEquityMax: 1e12,
  priceDeviationPipsMax: 100_000,
  /** One day. */
  signalAgeMsMax: 86_400_000,
  /** `receiver-settings set --settings` text. */
  cliJsonCharsMax: 64 * 1024,
} as const;

/** Execution reports (ExecutionReport frames, io/receiver-connection.ts; docs/protocol.md). */
export const executionReports = {
  /** master_position_id and ticket: 1..64 of [A-Za-z0-9:._-]. */
  idLengthMax: 64,
  reasonLengthMax: 64,
  /** Volumes (lots), requested and filled. */
  volumeMax: 1_000_000,
  priceMax: 1e9,
  slippagePipsAbsMax: 1e6,
  /** delay_ms from the master's generated_at: at most 30 days. */
  delayMsMax: 30 * 86_400_000,
  /** |profit|; a closed result above it is refused as corrupt by the performance fees too. */
  profitAbsMax: 1e13,
  /** executed_at: not older than this (else REPORT_INVALID); later than now + the clock skew allowance, recorded as now. */
  executedAgeMsMax: 30 * 86_400_000,
  executedFutureMsMax: 60_000,
  /** Admin stats: longest time range one query covers. */
  statsRangeMsMax: 366 * 86_400_000,
  /** Admin stats: skip and reject reasons listed at most (the rest are summed in `other`). */
  statsSkipReasonsMax: 50,
} as const;

/** Subscriptions and their allowlists in Postgres (persistence/pg/); the admin API checks the same bounds. */
export const subscriptionConfig = {
  /** A subscription's name. */
  nameCharsMax: 200,
  /** An IP address or CIDR block as given (an allowlist entry, an audit filter). */
  ipOrCidrCharsMax: 64,
} as const;

/** A MAC secret a provider brings (persistence/pg/imported-mac-secret.ts). */
export const importedMacSecret = {
  /** Longest legacy v1 secret accepted, in UTF-8 bytes (an MQL5 input string; HMAC hashes anything longer than 64 bytes anyway). */
  legacyV1BytesMax: 256,
  /** A legacy v1 secret shorter than a generated key's 32 random bytes is reported weak (SHORT). */
  strongBytesMin: 32,
  /** Estimated bits under this: a legacy v1 secret is reported weak (LOW_ENTROPY); a generated-format key is refused. */
  strongBitsMin: 128,
  /** Longer than any MAC key or legacy v1 secret, so that a wrong one is refused INVALID_MAC_KEY by the store, not by its length at the admin API... */
  textCharsMax: 1024,
  /** ...and the CLI's key file (more than a key and its line ending: a larger file is not a key file). */
  keyFileBytesMax: 1024,
} as const;

/** Performance fees (persistence/pg/performance-fees.ts, migration 031). */
export const performanceFees = {
  /** Highest rate: 5000 basis points = 50% (also a CHECK of migration 031). */
  rateBpMax: 5000,
} as const;

/** Secrets sealed at rest under the KEK (persistence/pg/secret-box.ts, kek-rotation.ts). */
export const secretsAtRest = {
  /** Largest secret sealed (HMAC keys are 32 bytes; a bound, not an expectation). */
  sealedPlaintextBytesMax: 64 * 1024,
  /** Rows re-wrapped per transaction by a KEK rotation. */
  kekRewrapBatchRows: 500,
} as const;

/** Postgres: the pool, migrations, and the embedded server started when no database URL is given (persistence/pg/). */
export const postgresLimits = {
  /** Connections per pool. */
  poolConnectionsMax: 10,
  /** Waiting this long for a free connection is an error, not a hang. */
  poolConnectTimeoutMs: 10_000,
  /** An idle pooled connection is closed after this. */
  poolIdleTimeoutMs: 30_000,
  /** Largest migration file read (a bound, not a real expectation). */
  migrationFileBytesMax: 1024 * 1024,
  /** 5432 is usually taken by a system Postgres; this one is the embedded server's when it is free. */
  embeddedPortDefault: 54329,
  /** Bytes of randomness in the embedded server's generated superuser password. */
  embeddedPasswordBytes: 24,
  /** Lines of Postgres/initdb output kept to explain a failure. */
  embeddedLogLinesMax: 40,
  /** Longest wait for a started postmaster to be ready (crash recovery of a large cluster included). */
  embeddedReadyWaitMs: 120_000,
  /** How often postmaster.pid is read while waiting for it to say ready. */
  embeddedReadyPollMs: 50,
  /** Longest wait for a fast shutdown before an immediate one. */
  embeddedStopWaitMs: 30_000,
  /** Longest wait for one access check run as the postgres OS user. */
  osUserCheckTimeoutMs: 10_000,
} as const;
