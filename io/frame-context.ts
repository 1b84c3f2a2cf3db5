/**
 * What a connection's frame handlers may do, implemented by the server:
 * answer, reject (which also records a security event; BUSY ones summed per
 * connection, io/busy-refusal-events.ts), rate-limit, and hand records to
 * the subscription's shard.
 */
import { RejectCode, decodeFrame, type DecodedFrame } from '@sigplane/protocol';
import type { ShardInbound } from '../engine/shard-protocol';
import type { Socket } from './connections';

export interface FrameContext {
  /** Send a frame to one socket; a receiver past its backpressure limit is dropped to resync. */
  sendTo(ws: Socket, frame: Uint8Array): void;
  /** Answer a stable code, count it, record it as a security event. */
  reject(ws: Socket, code: RejectCode, message: string, sequence: number): void;
  /** The connection's token bucket; false (and a RATE_LIMITED answer naming `sequence`) when empty. */
  takeToken(ws: Socket, nowMs: number, sequence: number): boolean;
  /** Hand a record to the subscription's shard; false when its ring is full. */
  toShard(subscriptionId: string, message: ShardInbound): boolean;
  /** A receiver's DeliveryAck (cumulative): to its shard, the highest per connection at most once per interval (io/receiver-ack-forwarding.ts). */
  deliveryAck(ws: Socket, sequence: number, nowMs: number): void;
  /** A connection closes, before its detach: a receiver's held ack goes to the shard; BUSY refusals not yet recorded are. */
  closing(ws: Socket): void;
  /** A frame arrived on a connection with BUSY refusals not yet recorded: record them once their interval has passed. */
  busyEventsDue(ws: Socket, nowMs: number): void;
  /** A receiver license's copy settings as a ReceiverSettings frame; absent: the server sends none. */
  loadReceiverSettings?(tokenId: string): Promise<Uint8Array>;
}

/**
 * What every frame from a client goes through first, in this order: binary,
 * decodable, within the connection's rate. Null (already answered) otherwise.
 */
export function admitFrame(
  ws: Socket,
  message: ArrayBuffer,
  isBinary: boolean,
  ctx: FrameContext,
  nowMs: number,
  claimedSequence: (frame: DecodedFrame) => number = () => 0,
): DecodedFrame | null {
  if (!isBinary) {
    ctx.reject(ws, RejectCode.MALFORMED, 'frames are binary protobuf', 0);
    return null;
  }
  if (ws.getUserData().connection.busyUnreported !== 0) ctx.busyEventsDue(ws, nowMs);
  const frame = decodeFrame(new Uint8Array(message));
  if (frame === null) {
    ctx.reject(ws, RejectCode.MALFORMED, 'not a sigplane Frame', 0);
    return null;
  }
  return ctx.takeToken(ws, nowMs, claimedSequence(frame)) ? frame : null;
}
