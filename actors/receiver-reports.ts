/**
 * Execution reports: a receiver connection may report only what was
 * delivered to it. Its bound is the higher of
 *   - n (the last accepted sequence) while the connection is subscribed
 *     (liveReceivers): its subscribe or sync step emitted every delivery up
 *     to n, or a snapshot at n, ahead of anything it can send next, and it
 *     gets each later delivery live;
 *   - its receiver's cursor: what a connection of the same license
 *     acknowledged.
 * A report within the bound is journaled, then acked; one beyond it, or
 * naming another subscription, is REPORT_NOT_DELIVERED and changes nothing.
 *
 * Why no bound per connection is kept: whatever a connection is sent or
 * claims when it subscribes is at most n, and it is subscribed from that
 * same step until it detaches, so a separate record of it (once kept in the
 * shard worker) never raised the bound above n. If a connection ever
 * becomes subscribed later than its catch-up, its bound must be kept here.
 */
import { RejectCode, type ExecutionReportRecord } from '@sigplane/protocol';
import type { ConnId, Effect } from './actor-types';
import type { SubscriptionActor } from './subscription-state';

export function onExecutionReport(actor: SubscriptionActor, connId: ConnId, report: ExecutionReportRecord, effects: Effect[]): void {
  const cursor = actor.cursors.get(report.receiverId) ?? 0;
  const bound = actor.liveReceivers.has(connId) ? Math.max(actor.lastSequence, cursor) : cursor;
  if (report.subscriptionId !== actor.subscriptionId || report.sequence > bound) {
    effects.push(reportNotDelivered(connId, report.sequence));
    return;
  }
  effects.push({ kind: 'persistReport', report });
  effects.push({ kind: 'reportAck', connId, report });
}

/** The refusal of a report beyond the bound (also the shard's answer for a subscription it holds no actor for). */
export function reportNotDelivered(connId: ConnId, sequence: number): Effect {
  const message = `execution report: sequence ${sequence} was not delivered to this receiver`;
  return { kind: 'reject', connId, sequence, code: RejectCode.REPORT_NOT_DELIVERED, message };
}
