/**
 * Frames from a receiver, on the I/O thread: subscribe (once, first),
 * delivery acks (the receiver's cursor, cumulative: forwarded coalesced by
 * io/receiver-ack-forwarding.ts), sync requests after a gap,
 * execution reports (checked here field by field, then journaled and acked
 * by the shard), and heartbeats. Everything that touches the subscription goes to its shard.
 * With a settings source, subscribe first sends the license's copy
 * settings (ReceiverSettings) and only then goes to the shard, so they
 * precede the welcome and every delivery on the connection.
 */
import { RejectCode, encodeHeartbeat, safeInteger, checkExecutionReport } from '@sigplane/protocol';
import type { Socket } from './connections';
import { admitFrame, type FrameContext } from './frame-context';

/** Close code when the license's settings cannot be read (1013: try again later). */
export const receiverSettingsUnavailableCloseCode = 1013;

/** Hand the subscribe to the shard (welcome, catch-up, then live deliveries). */
function forwardSubscribe(ws: Socket, ctx: FrameContext, last: number | null): void {
  const data = ws.getUserData().connection;
  const sub = data.subscriptionId;
  const ok = ctx.toShard(sub, {
    t: 'event',
    sub,
    settings: data.settings,
    ev: { kind: 'receiverSubscribe', connId: data.connId, receiverId: data.tokenId, lastSequence: last },
  });
  if (!ok) {
    data.subscribed = false;
    ctx.reject(ws, RejectCode.BUSY, 'engine busy, subscribe again', 0);
  }
}

export function onReceiverMessage(ws: Socket, message: ArrayBuffer, isBinary: boolean, ctx: FrameContext): void {
  const data = ws.getUserData().connection;
  const nowMs = Date.now();
  const frame = admitFrame(ws, message, isBinary, ctx, nowMs);
  if (frame === null) return;
  const sub = data.subscriptionId;

  switch (frame.kind) {
    case 'subscribe': {
      if (data.subscribed) return ctx.reject(ws, RejectCode.UNSUPPORTED, 'already subscribed', 0);
      const last = frame.subscribe.hasLastSequence ? safeInteger(frame.subscribe.lastSequence) : null;
      if (frame.subscribe.hasLastSequence && last === null) {
        return ctx.reject(ws, RejectCode.SEQUENCE_OUT_OF_RANGE, 'last_sequence beyond 2^53-1', 0);
      }
      data.subscribed = true;
      if (ctx.loadReceiverSettings === undefined) return forwardSubscribe(ws, ctx, last);
      // The license's copy settings go out first: a receiver never executes a delivery without them.
      ctx.loadReceiverSettings(data.tokenId).then(
        (frame) => {
          if (data.closed) return;
          ws.cork(() => ctx.sendTo(ws, frame));
          forwardSubscribe(ws, ctx, last);
        },
        () => {
          if (data.closed) return;
          ws.cork(() => ctx.reject(ws, RejectCode.BUSY, 'settings unavailable, reconnect', 0));
          // The receiver reconnects with backoff and subscribes again.
          data.closed = true;
          ws.end(receiverSettingsUnavailableCloseCode, 'SETTINGS_UNAVAILABLE');
        },
      );
      return;
    }
    case 'deliveryAck': {
      if (!data.subscribed) return ctx.reject(ws, RejectCode.UNSUPPORTED, 'subscribe first', 0);
      const sequence = safeInteger(frame.deliveryAck.sequenceNumber);
      if (sequence === null || sequence < 1) return ctx.reject(ws, RejectCode.INVALID_FIELD, 'bad sequence', 0);
      // No answer: the highest ack goes to the shard, coalesced (a full ring holds it for the next flush).
      ctx.deliveryAck(ws, sequence, nowMs);
      return;
    }
    case 'syncRequest': {
      if (!data.subscribed) return ctx.reject(ws, RejectCode.UNSUPPORTED, 'subscribe first', 0);
      const from = safeInteger(frame.syncRequest.fromSequence);
      if (from === null) return ctx.reject(ws, RejectCode.SEQUENCE_OUT_OF_RANGE, 'from_sequence beyond 2^53-1', 0);
      const ok = ctx.toShard(sub, {
        t: 'event',
        sub,
        ev: { kind: 'receiverSync', connId: data.connId, receiverId: data.tokenId, fromSequence: Math.max(1, from), full: frame.syncRequest.full },
      });
      if (!ok) ctx.reject(ws, RejectCode.BUSY, 'engine busy, ask again', 0);
      return;
    }
    case 'executionReport': {
      if (!data.subscribed) return ctx.reject(ws, RejectCode.UNSUPPORTED, 'subscribe first', 0);
      const checked = checkExecutionReport(frame.executionReport, nowMs);
      if (!checked.ok) return ctx.reject(ws, checked.code, checked.message, checked.sequence);
      const report = { ...checked.report, subscriptionId: sub, receiverId: data.tokenId, receivedAtMs: nowMs };
      // The shard checks the sequence against what this receiver was delivered, journals, then acks.
      const ok = ctx.toShard(sub, { t: 'report', sub, conn: data.connId, report, remoteAddress: data.remoteAddress });
      if (!ok) ctx.reject(ws, RejectCode.BUSY, 'execution report: engine busy, resend', report.sequence);
      return;
    }
    case 'heartbeat':
      ctx.sendTo(ws, encodeHeartbeat(nowMs));
      return;
    default:
      return ctx.reject(ws, RejectCode.UNSUPPORTED, `a receiver does not send ${frame.kind}`, 0);
  }
}
