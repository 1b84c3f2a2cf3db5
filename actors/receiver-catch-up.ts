/**
 * The receiver side of the subscription actor: subscribe, sync, acks.
 *
 * A receiver that executed up to L gets, in this order on its connection:
 *   - deliveries L+1..n from the delivery window and the journal, in
 *     sendDeliveries batches of at most catchUpBatchMax, all emitted at
 *     once (at most catchUpSnapshotBatches of them); or
 *   - a snapshot at n, when L is behind the last master snapshot, L is
 *     ahead of n (the receiver claims what was never accepted), more than
 *     catchUpBatchMax * catchUpSnapshotBatches are missing, or the journal
 *     no longer has part of the range (retention);
 * then receiverLive: live deliveries follow in order on the same I/O
 * thread. This holds in every state: while DEGRADED, SYNCING or ISOLATED a
 * receiver still catches up to n (what was accepted stays valid); it just
 * gets nothing new until the subscription moves again.
 */
import type { ActorContext, ConnId, Effect } from './actor-types';
import { readRange } from './delivery-window';
import { listPositions } from './positions-book';
import type { SubscriptionActor } from './subscription-state';

/** Past this many batches of missing deliveries, a snapshot is cheaper. */
export const catchUpSnapshotBatches = 8;

export function onReceiverSubscribe(
  actor: SubscriptionActor,
  connId: ConnId,
  receiverId: string,
  lastSequence: number | null,
  ctx: ActorContext,
  effects: Effect[],
): void {
  if (receiverId === '') throw new Error('receiverSubscribe: empty receiver id');
  const from = lastSequence ?? actor.cursors.get(receiverId) ?? 0;
  effects.push({ kind: 'welcome', connId, state: actor.state, lastSequence: actor.lastSequence });
  actor.liveReceivers.set(connId, receiverId);
  catchUp(actor, connId, from, ctx, effects);
  effects.push({ kind: 'receiverLive', connId });
}

/**
 * A receiver saw a gap (or wants a full sync). Answered like a subscribe
 * from fromSequence - 1, without a new welcome; receiverLive only when the
 * connection was not live yet (a live one keeps its live deliveries, which
 * the I/O thread sends after this resend, in order).
 */
export function onReceiverSync(
  actor: SubscriptionActor,
  connId: ConnId,
  receiverId: string,
  fromSequence: number,
  full: boolean,
  ctx: ActorContext,
  effects: Effect[],
): void {
  const liveAs = actor.liveReceivers.get(connId);
  if (liveAs !== undefined && liveAs !== receiverId) {
    throw new Error(`receiverSync: connection ${connId} is ${liveAs}, not ${receiverId}`);
  }
  if (receiverId === '') throw new Error('receiverSync: empty receiver id');
  actor.liveReceivers.set(connId, receiverId);
  if (full) sendSnapshot(actor, connId, effects);
  else catchUp(actor, connId, Math.max(0, fromSequence - 1), ctx, effects);
  if (liveAs === undefined) effects.push({ kind: 'receiverLive', connId });
}

export function onDeliveryAck(actor: SubscriptionActor, receiverId: string, sequence: number, effects: Effect[]): void {
  if (!Number.isSafeInteger(sequence) || sequence > actor.lastSequence) return;
  const cursor = actor.cursors.get(receiverId) ?? 0;
  if (sequence <= cursor) return;
  actor.cursors.set(receiverId, sequence);
  effects.push({ kind: 'persistCursor', subscriptionId: actor.subscriptionId, receiverId, sequence });
}

export function onReceiverDetach(actor: SubscriptionActor, connId: ConnId): void {
  actor.liveReceivers.delete(connId);
}

/** Bring one receiver from `executed` to n: deliveries when they are all at hand, else a snapshot. */
function catchUp(actor: SubscriptionActor, connId: ConnId, executed: number, ctx: ActorContext, effects: Effect[]): void {
  if (!(Number.isSafeInteger(executed) && executed >= 0)) throw new Error(`catchUp: last sequence ${executed}`);
  const n = actor.lastSequence;
  const batchMax = actor.limits.catchUpBatchMax;
  if (executed > n || executed < actor.snapshotBase || n - executed > batchMax * catchUpSnapshotBatches) {
    sendSnapshot(actor, connId, effects);
    return;
  }
  const records = readRange(actor.window, ctx.history, actor.subscriptionId, executed + 1, n);
  if (records === null) {
    sendSnapshot(actor, connId, effects);
    return;
  }
  for (let start = 0; start < records.length; start += batchMax) {
    effects.push({ kind: 'sendDeliveries', connId, records: records.slice(start, start + batchMax) });
  }
}

function sendSnapshot(actor: SubscriptionActor, connId: ConnId, effects: Effect[]): void {
  effects.push({ kind: 'sendSnapshot', connId, sequence: actor.lastSequence, positions: listPositions(actor.book) });
}
