/**
 * Every limit and default of the client library, in one place.
 * (proto/limits.ts is the server's; these belong to the EAs' side.)
 * Units and qualifiers come last in names.
 */
import { wire } from '@sigplane/protocol';

export const connection = {
  /** First reconnect delay; doubles per failed attempt (with jitter) up to the max. */
  reconnectMinMs: 250,
  reconnectMaxMs: 10_000,
  /** An upgrade that has not produced a `welcome` within this is abandoned. */
  welcomeTimeoutMs: 10_000,
  /** A heartbeat is sent this often (the server closes idle connections after 60 s). */
  heartbeatIntervalMs: 15_000,
  /** Nothing received for this long: the connection is presumed dead and dropped. */
  silenceTimeoutMs: 45_000,
} as const;

export const master = {
  /** Signals published but not yet acked. A full outbox refuses (OUTBOX_FULL). */
  outboxSignalsMax: 1_024,
  /** Recently sent frames kept to answer the server's sync requests. */
  sentLogSignalsMax: 4_096,
  /** After BUSY the outbox is resent from the refused sequence after this delay, doubling while BUSY repeats, up to the max. */
  busyResendDelayMinMs: 2,
  busyResendDelayMaxMs: 250,
} as const;

export const receiver = {
  /** Received frames waiting for the application: past this the socket is paused. */
  queueFramesHigh: 1_024,
  /** ... and resumed below this. */
  queueFramesLow: 256,
  /** Hard bound: past this the connection is dropped and resumed from lastExecuted. */
  queueFramesMax: 8_192,
  /** While a gap stays open, the sync request is repeated this often. */
  gapRetryMs: 2_000,
  /** Concurrent waitFor() callers. */
  waitersMax: 1_024,
  /** Execution reports sent but not acked, kept to resend after a reconnect; past this the oldest is dropped (counted). */
  executionReportsUnackedMax: 4_096,
  /** After the server answered a report BUSY (its ring was full), the reports of that sequence go again this much later. */
  reportBusyRetryMs: 200,
  /**
   * Acks (client/receiver-acks.ts). An ack is cumulative, so in a burst one
   * ack per ackIntervalMs stands for all: each ack costs the server a frame
   * and a cursor record, and acking each delivery of 1,000/s x 10 cost it
   * a fifth of a core (docs/benchmarks.md). 100 ms keeps the server's
   * cursor, which only matters to a receiver that resumes without its own,
   * a tenth of a second behind.
   */
  ackIntervalMs: 100,
  /** Acks sent at once before the interval applies: a receiver getting a signal now and then acks each one. */
  ackBurst: 16,
  /** In a burst, an ack after this many executed signals at the latest (ReceiverConnectOptions.ackEvery). */
  ackEveryDefault: 256,
} as const;

export const copier = {
  /** Entries in the position map: what one snapshot can carry. */
  positionsMax: wire.snapshotPositionsMax,
  /** Attempts of one broker operation on transient refusals (requotes) before the delivery fails and is retried after a reconnect. */
  brokerAttemptsMax: 4,
  /** Account currency of reported profits when CopierOptions.currency is not given. */
  currencyDefault: 'USD',
  /** Unacked execution reports kept in the position map file across restarts; past this the oldest is dropped. */
  reportsKeptMax: 4_096,
} as const;
