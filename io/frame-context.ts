/**
 * What a connection's frame handlers may do, implemented by the server:
 * answer, reject (which also records a security event), rate-limit, and
 * hand records to the subscription's shard.
 */
import type { RejectCode } from '../engine/records';
import type { ShardInbound } from '../engine/shard-protocol';
import type { Socket } from './connections';

export interface FrameContext {
  /** Send a frame to one socket; a receiver past its backpressure limit is dropped to resync. */
  sendTo(ws: Socket, frame: Uint8Array): void;
  /** Answer a stable code, count it, record it as a security event. */
  reject(ws: Socket, code: RejectCode, message: string, sequence: number): void;
  /** The connection's token bucket; false (and a RATE_LIMITED answer) when empty. */
  takeToken(ws: Socket, nowMs: number): boolean;
  /** Hand a record to the subscription's shard; false when its ring is full. */
  toShard(subscriptionId: string, message: ShardInbound): boolean;
}
