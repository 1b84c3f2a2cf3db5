/**
 * What travels through the rings between the I/O thread and a shard worker.
 * Records are msgpackr-encoded plain objects (one record per message).
 *
 * I/O -> shard (`ShardInbound`): actor events for a subscription, and
 * security events to journal.
 * shard -> I/O (`ShardOutbound`): frames already encoded as protobuf bytes,
 * each with its audience. The I/O thread only routes bytes; the shard did
 * the encoding, off the I/O thread.
 */
import { Packr } from 'msgpackr';
import type { ActorEvent, ConnId } from '../actors/actor-types';
import type { SubscriptionSettings } from './limits';
import type { ExecutionReportRecord, SecurityEvent, SubscriptionState } from './records';

export type ShardInbound =
  /** t0: the I/O thread's performance.now() when the frame arrived (latency metrics only). */
  | { t: 'event'; sub: string; ev: ActorEvent; settings?: SubscriptionSettings; t0?: number }
  | { t: 'security'; ev: SecurityEvent }
  /** A receiver's execution report, checked by the I/O thread: journaled, then acked to `conn`. */
  | { t: 'report'; sub: string; conn: ConnId; report: ExecutionReportRecord }
  /** Finish the batch, close the journal, end the loop. */
  | { t: 'stop' };

export const Audience = {
  /** One connection. */
  CONN: 0,
  /** Every live receiver of the subscription. */
  RECEIVERS: 1,
  /** Every master of the subscription. */
  MASTERS: 2,
  /** Every master and receiver of the subscription. */
  ALL: 3,
} as const;
export type Audience = (typeof Audience)[keyof typeof Audience];

export type ShardOutbound =
  /** Send `frame` to the audience. t0 echoes the inbound t0 of the signal it answers (0: not timed). */
  | { t: 'send'; to: Audience; sub: string; conn: ConnId; frame: Uint8Array; kind: FrameKind; seq: number; t0: number; /** An ack's status or a reject's code (metrics). */ outcome?: string; /** A report ack: what was reported (metrics). */ report?: ReportMetric }
  /** The receiver is caught up: from now on it gets live deliveries. */
  | { t: 'live'; sub: string; conn: ConnId }
  /** A subscription changed state, or was recovered in one other than ACTIVE (metrics, status, incident control). */
  | { t: 'state'; sub: string; state: SubscriptionState; seq: number }
  /** The worker finished recovery and is taking records. */
  | { t: 'ready'; subscriptions: number; signals: number }
  /** Counters the I/O thread aggregates into /metrics. */
  | { t: 'stats'; journalCommits: number; journalRows: number; journalCommitMsTotal: number };

/** What /metrics keeps of an acked execution report. */
export interface ReportMetric {
  kind: string;
  outcome: string;
  delayMs: number | null;
  slippagePips: number | null;
}

export type FrameKind = 'ack' | 'reject' | 'delivery' | 'snapshot' | 'state' | 'sync' | 'welcome' | 'reportAck';

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * msgpackr's native string decoder refuses views of a SharedArrayBuffer, and
 * decoded byte fields would alias the ring: decode from a private copy.
 */
function privateCopy(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes;
}

export function encodeInbound(message: ShardInbound): Uint8Array {
  return packr.pack(message);
}
export function decodeInbound(bytes: Uint8Array): ShardInbound {
  return packr.unpack(privateCopy(bytes)) as ShardInbound;
}
export function encodeOutbound(message: ShardOutbound): Uint8Array {
  return packr.pack(message);
}
export function decodeOutbound(bytes: Uint8Array): ShardOutbound {
  return packr.unpack(privateCopy(bytes)) as ShardOutbound;
}

/** The shard that owns a subscription: FNV-1a of its id. */
export function shardOf(subscriptionId: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < subscriptionId.length; i++) {
    hash ^= subscriptionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shardCount;
}
