/**
 * The subscription actor: one per subscription, a transition function.
 * `handle(actor, event, ctx)` mutates the actor (plain data) and returns the
 * effects the shard worker must execute, in order. No I/O, no clock: time
 * is ctx.nowMs, the journal is ctx.history.
 *
 * Master side (sequence n = last accepted):
 *   n+1        checked (price guard, positions book), then accepted:
 *              persistSignal, ack ACCEPTED, deliver; then every held n+2..
 *   <= n       same content as the stored signal: ack DUPLICATE; else REPLAY
 *   > n+1      held (not answered until accepted); ACTIVE -> DEGRADED and a
 *              syncRequest for [n+1, lowest held - 1]. A held sequence sent
 *              again: same content gets no answer (the held copy's answer is
 *              redirected to the newer connection: an ack means durable, and
 *              the held copy is not); other content is REPLAY. Held buffer
 *              full: DEGRADED_BUFFER_FULL and SYNCING (full sync request).
 *   stale      (older than the TTL, found by the I/O thread) a copy of an
 *              accepted or held signal is answered as one (DUPLICATE, or the
 *              held copy's answer); anything else STALE; never held
 *   ISOLATED   every signal and snapshot is ISOLATED; held signals are kept
 *              for after the lift.
 * Files: master-signals.ts (signals, snapshots), receiver-catch-up.ts
 * (subscribe, sync, acks), receiver-reports.ts (execution reports and
 * their bound), subscription-state.ts (data, states, timers).
 */
import { actor as actorLimits, SubscriptionState, type Position, type SignalRecord, type SnapshotRecord } from '@sigplane/protocol';
import type { ActorContext, ActorEvent, Effect } from './actor-types';
import { createDeliveryWindow } from './delivery-window';
import { onMasterAttach, onMasterDetach, onMasterSnapshot, onSignal, onStaleSignal } from './master-signals';
import { checkSignal, checkSnapshotPositions, createPositionsBook, listPositions } from './positions-book';
import { createPriceGuard } from './price-guard';
import { onDeliveryAck, onReceiverDetach, onReceiverSubscribe, onReceiverSync } from './receiver-catch-up';
import { onExecutionReport } from './receiver-reports';
import {
  applyAccepted,
  applySnapshot,
  checkInvariants,
  onIsolate,
  onLift,
  onTick,
  type ActorLimits,
  type SubscriptionActor,
} from './subscription-state';

export { checkInvariants, nextTimerAtMs } from './subscription-state';
export { reportNotDelivered } from './receiver-reports';
export type { ActorLimits, HeldSignal, SubscriptionActor } from './subscription-state';

/** `limits` defaults to proto/limits.ts `actor`; tests pass smaller bounds. */
export function createActor(subscriptionId: string, nowMs: number, limits: ActorLimits = actorLimits): SubscriptionActor {
  if (subscriptionId === '') throw new Error('createActor: empty subscription id');
  if (!(limits.heldSignalsMax >= 1 && limits.catchUpBatchMax >= 1 && limits.deliveryWindowMax >= 1)) {
    throw new Error('createActor: limits must be >= 1');
  }
  return {
    subscriptionId,
    limits: { ...limits },
    createdAtMs: nowMs,
    state: SubscriptionState.ACTIVE,
    stateReason: 'created',
    lastSequence: 0,
    snapshotBase: 0,
    book: createPositionsBook(),
    window: createDeliveryWindow(limits.deliveryWindowMax),
    prices: createPriceGuard(),
    held: new Map(),
    degradedSinceMs: nowMs,
    syncRequestedAtMs: null,
    cursors: new Map(),
    liveReceivers: new Map(),
    masters: new Set(),
  };
}

export function handle(actor: SubscriptionActor, event: ActorEvent, ctx: ActorContext): Effect[] {
  const effects: Effect[] = [];
  const sequenceBefore = actor.lastSequence;
  switch (event.kind) {
    case 'signal': onSignal(actor, event.connId, event.record, ctx, effects); break;
    case 'staleSignal': onStaleSignal(actor, event.connId, event.record, event.message, ctx, effects); break;
    case 'masterSnapshot': onMasterSnapshot(actor, event.connId, event.snapshot, ctx, effects); break;
    case 'masterAttach': onMasterAttach(actor, event.connId, effects); break;
    case 'masterDetach': onMasterDetach(actor, event.connId); break;
    case 'receiverSubscribe': onReceiverSubscribe(actor, event.connId, event.receiverId, event.lastSequence, ctx, effects); break;
    case 'receiverSync': onReceiverSync(actor, event.connId, event.receiverId, event.fromSequence, event.full, ctx, effects); break;
    case 'deliveryAck': onDeliveryAck(actor, event.receiverId, event.sequence, effects); break;
    case 'receiverDetach': onReceiverDetach(actor, event.connId); break;
    case 'executionReport': onExecutionReport(actor, event.connId, event.report, effects); break;
    case 'tick': onTick(actor, ctx, effects); break;
    case 'isolate': onIsolate(actor, event.reason, effects); break;
    case 'lift': onLift(actor, event.reason, ctx, effects); break;
    default: {
      const unknown: never = event;
      throw new Error(`handle: unknown event ${JSON.stringify(unknown)}`);
    }
  }
  if (actor.lastSequence < sequenceBefore) {
    throw new Error(`invariant: lastSequence went back from ${sequenceBefore} to ${actor.lastSequence}`);
  }
  checkInvariants(actor);
  return effects;
}

// ---- recovery from the journal: no effects ----

export function restoreSignal(actor: SubscriptionActor, record: SignalRecord): void {
  checkRestorable(actor, record.subscriptionId);
  const refusal = checkSignal(actor.book, record);
  if (refusal !== null) {
    throw new Error(`restoreSignal: journaled ${record.sequence} refused by the book: ${refusal.message}`);
  }
  applyAccepted(actor, record, record.receivedAtMs);
  checkInvariants(actor);
}

export function restoreSnapshot(actor: SubscriptionActor, snapshot: SnapshotRecord): void {
  checkRestorable(actor, snapshot.subscriptionId);
  const reason = checkSnapshotPositions(snapshot.positions, snapshot.sequence);
  if (reason !== null) throw new Error(`restoreSnapshot: journaled snapshot ${snapshot.sequence}: ${reason}`);
  applySnapshot(actor, snapshot);
  checkInvariants(actor);
}

export function restoreCursor(actor: SubscriptionActor, receiverId: string, sequence: number): void {
  if (receiverId === '' || !(Number.isInteger(sequence) && sequence >= 0)) {
    throw new Error(`restoreCursor: bad cursor ${receiverId}@${sequence}`);
  }
  actor.cursors.set(receiverId, Math.max(actor.cursors.get(receiverId) ?? 0, sequence));
}

/** DEGRADED and SYNCING come back as they were, minus the held signals (none was acked). */
export function restoreState(actor: SubscriptionActor, state: SubscriptionState, reason: string): void {
  if (!Object.values(SubscriptionState).includes(state)) throw new Error(`restoreState: unknown state ${state}`);
  actor.state = state;
  actor.stateReason = reason;
  actor.held.clear();
  actor.degradedSinceMs = actor.createdAtMs;
  actor.syncRequestedAtMs = null;
  checkInvariants(actor);
}

function checkRestorable(actor: SubscriptionActor, subscriptionId: string): void {
  if (subscriptionId !== actor.subscriptionId) {
    throw new Error(`restore: record of ${subscriptionId} replayed into ${actor.subscriptionId}`);
  }
  if (actor.held.size !== 0) throw new Error('restore: the actor already holds live signals');
}

// ---- observation ----

export interface ActorDescription {
  subscriptionId: string;
  state: SubscriptionState;
  stateReason: string;
  lastSequence: number;
  snapshotBase: number;
  positions: Position[];
  heldCount: number;
  heldSequences: number[];
  liveReceivers: number;
  masters: number;
  cursors: Record<string, number>;
  windowFirstSequence: number | null;
  windowCount: number;
  referencePrices: number;
}

export function describe(actor: SubscriptionActor): ActorDescription {
  return {
    subscriptionId: actor.subscriptionId,
    state: actor.state,
    stateReason: actor.stateReason,
    lastSequence: actor.lastSequence,
    snapshotBase: actor.snapshotBase,
    positions: listPositions(actor.book),
    heldCount: actor.held.size,
    heldSequences: [...actor.held.keys()].sort((a, b) => a - b),
    liveReceivers: actor.liveReceivers.size,
    masters: actor.masters.size,
    cursors: Object.fromEntries(actor.cursors),
    windowFirstSequence: actor.window.count === 0 ? null : actor.window.firstSequence,
    windowCount: actor.window.count,
    referencePrices: actor.prices.size,
  };
}

