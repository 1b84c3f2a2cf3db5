/**
 * The master side of the subscription actor: signals, snapshots, attach.
 *
 * Sequence rules (n = last accepted):
 *   n+1     price guard and positions book check it (a refusal changes
 *           nothing and does not advance n), then: persistSignal, ack
 *           ACCEPTED, deliver; then every held signal that now follows.
 *   <= n    the stored signal (delivery window, else the journal) with the
 *           same content bytes: ack DUPLICATE; different or not found: REPLAY.
 *   > n+1   held, unanswered until accepted; the subscription goes DEGRADED
 *           and asks for [n+1, lowest held - 1]. The same sequence again while
 *           held: same content gets no answer now (an ack means durable, the
 *           held copy is not yet) and the answer is redirected to the newer
 *           connection; other content is REPLAY. Held buffer full:
 *           DEGRADED_BUFFER_FULL, and the subscription escalates to SYNCING.
 * Stale signals (verified, older than the TTL; docs/protocol.md "what a
 * correct master does after an outage"): the duplicate lookup comes before
 * freshness, so a byte-identical resend of an accepted signal is DUPLICATE
 * at any age; a held copy with the same content gets no answer now (as
 * above); anything else is STALE, never held, never moving n.
 * Snapshots: refused ISOLATED while isolated, REPLAY when behind n,
 * INVALID_FIELD when the positions are inconsistent. Held signals the
 * snapshot covers are answered REPLAY ("superseded by snapshot").
 */
import { RejectCode, SubscriptionState, type SignalRecord, type SnapshotRecord } from '@sigplane/protocol';
import type { ActorContext, ConnId, Effect } from './actor-types';
import { lookupRecord } from './delivery-window';
import { checkSignal, checkSnapshotPositions, listPositions } from './positions-book';
import { checkPrice } from './price-guard';
import {
  applyAccepted,
  applySnapshot,
  changeState,
  currentSyncRequest,
  enterDegraded,
  enterSyncing,
  requestSync,
  type SubscriptionActor,
} from './subscription-state';

export function onSignal(
  actor: SubscriptionActor,
  connId: ConnId,
  record: SignalRecord,
  ctx: ActorContext,
  effects: Effect[],
): void {
  checkRecordShape(actor, record);
  if (refusedIsolated(actor, connId, record.sequence, effects)) return;
  const n = actor.lastSequence;
  if (record.sequence <= n) {
    answerAlreadyAccepted(actor, connId, record, ctx, effects);
  } else if (record.sequence === n + 1) {
    if (!accept(actor, connId, record, ctx, effects)) return;
    if (actor.state !== SubscriptionState.ACTIVE) {
      const drained = acceptHeld(actor, ctx, effects);
      settleAfterProgress(actor, 'gap filled by resend', drained > 0, false, ctx, effects);
    }
  } else {
    hold(actor, connId, record, ctx, effects);
  }
}

export function onStaleSignal(
  actor: SubscriptionActor,
  connId: ConnId,
  record: SignalRecord,
  message: string,
  ctx: ActorContext,
  effects: Effect[],
): void {
  checkRecordShape(actor, record);
  if (refusedIsolated(actor, connId, record.sequence, effects)) return;
  if (record.sequence <= actor.lastSequence) {
    const stored = lookupRecord(actor.window, ctx.history, actor.subscriptionId, record.sequence);
    if (stored !== undefined && bytesEqual(stored.content, record.content)) {
      effects.push({ kind: 'ack', connId, sequence: record.sequence, status: 'DUPLICATE' });
      return;
    }
  } else {
    const held = actor.held.get(record.sequence);
    if (held !== undefined && bytesEqual(held.record.content, record.content)) {
      held.connId = connId;
      return;
    }
  }
  reject(effects, connId, record.sequence, RejectCode.STALE, message);
}

function checkRecordShape(actor: SubscriptionActor, record: SignalRecord): void {
  if (record.subscriptionId !== actor.subscriptionId) {
    throw new Error(`signal of ${record.subscriptionId} routed to ${actor.subscriptionId}`);
  }
  if (!(Number.isSafeInteger(record.sequence) && record.sequence >= 1)) {
    throw new Error(`signal sequence ${record.sequence} out of range (the I/O thread checks it)`);
  }
}

function reject(effects: Effect[], connId: ConnId, sequence: number, code: RejectCode, message: string): void {
  effects.push({ kind: 'reject', connId, sequence, code, message });
}

/** While an operator isolates the subscription every signal and snapshot is refused ISOLATED (true: refused). */
function refusedIsolated(actor: SubscriptionActor, connId: ConnId, sequence: number, effects: Effect[]): boolean {
  if (actor.state !== SubscriptionState.ISOLATED) return false;
  reject(effects, connId, sequence, RejectCode.ISOLATED, `subscription isolated: ${actor.stateReason}`);
  return true;
}

function answerAlreadyAccepted(
  actor: SubscriptionActor,
  connId: ConnId,
  record: SignalRecord,
  ctx: ActorContext,
  effects: Effect[],
): void {
  const stored = lookupRecord(actor.window, ctx.history, actor.subscriptionId, record.sequence);
  if (stored !== undefined && bytesEqual(stored.content, record.content)) {
    effects.push({ kind: 'ack', connId, sequence: record.sequence, status: 'DUPLICATE' });
    return;
  }
  const why = stored === undefined ? 'no accepted signal with it is kept' : 'an accepted signal has other content';
  reject(effects, connId, record.sequence, RejectCode.REPLAY, `sequence ${record.sequence} <= ${actor.lastSequence}: ${why}`);
}

/** Check, then accept n+1: persist, ack, deliver. False (and a reject) when refused. */
function accept(
  actor: SubscriptionActor,
  connId: ConnId,
  record: SignalRecord,
  ctx: ActorContext,
  effects: Effect[],
): boolean {
  const deviation = checkPrice(actor.prices, record.symbol, record.price, ctx.nowMs, ctx.settings);
  if (deviation !== null) {
    reject(effects, connId, record.sequence, RejectCode.PRICE_DEVIATION, deviation);
    return false;
  }
  const refusal = checkSignal(actor.book, record);
  if (refusal !== null) {
    reject(effects, connId, record.sequence, refusal.code, refusal.message);
    return false;
  }
  applyAccepted(actor, record, ctx.nowMs);
  effects.push({ kind: 'persistSignal', record });
  effects.push({ kind: 'ack', connId, sequence: record.sequence, status: 'ACCEPTED' });
  effects.push({ kind: 'deliver', record });
  return true;
}

/**
 * Accept every held signal that now follows n, in order; stops at a refusal
 * (which is answered). Returns how many held signals it took off the buffer.
 */
function acceptHeld(actor: SubscriptionActor, ctx: ActorContext, effects: Effect[]): number {
  let drained = 0;
  for (;;) {
    const next = actor.held.get(actor.lastSequence + 1);
    if (next === undefined) return drained;
    actor.held.delete(next.record.sequence);
    drained++;
    if (!accept(actor, next.connId, next.record, ctx, effects)) return drained;
  }
}

/**
 * After n moved while not ACTIVE: whole -> ACTIVE. A gap left: after a
 * snapshot it is a fresh, ordinary gap (DEGRADED, asked at once). Else
 * SYNCING keeps waiting for its snapshot, and DEGRADED asks for the next
 * range only when held signals were drained (the previous range is filled);
 * a resend in progress is not answered with one request per signal.
 */
function settleAfterProgress(
  actor: SubscriptionActor,
  reason: string,
  drainedHeld: boolean,
  afterSnapshot: boolean,
  ctx: ActorContext,
  effects: Effect[],
): void {
  if (actor.held.size === 0) {
    changeState(actor, SubscriptionState.ACTIVE, reason, effects);
    return;
  }
  if (!afterSnapshot) {
    if (actor.state === SubscriptionState.DEGRADED && drainedHeld) requestSync(actor, ctx.nowMs, effects);
    return;
  }
  enterDegraded(actor, `${reason}; a gap remains after ${actor.lastSequence}`, ctx.nowMs, effects);
}

function hold(actor: SubscriptionActor, connId: ConnId, record: SignalRecord, ctx: ActorContext, effects: Effect[]): void {
  const existing = actor.held.get(record.sequence);
  if (existing !== undefined) {
    if (bytesEqual(existing.record.content, record.content)) {
      existing.connId = connId;
    } else {
      reject(effects, connId, record.sequence, RejectCode.REPLAY, `sequence ${record.sequence} is held with other content`);
    }
    return;
  }
  if (actor.held.size >= actor.limits.heldSignalsMax) {
    reject(
      effects,
      connId,
      record.sequence,
      RejectCode.DEGRADED_BUFFER_FULL,
      `gap after ${actor.lastSequence}: ${actor.held.size} signals held already`,
    );
    if (actor.state !== SubscriptionState.SYNCING) {
      enterSyncing(actor, `held buffer full (${actor.held.size}): full sync`, ctx.nowMs, effects);
    }
    return;
  }
  actor.held.set(record.sequence, { connId, record });
  if (actor.state === SubscriptionState.ACTIVE) {
    enterDegraded(actor, `gap: got ${record.sequence} after ${actor.lastSequence}`, ctx.nowMs, effects);
  }
}

export function onMasterSnapshot(
  actor: SubscriptionActor,
  connId: ConnId,
  snapshot: SnapshotRecord,
  ctx: ActorContext,
  effects: Effect[],
): void {
  const s = snapshot.sequence;
  if (snapshot.subscriptionId !== actor.subscriptionId) {
    throw new Error(`snapshot of ${snapshot.subscriptionId} routed to ${actor.subscriptionId}`);
  }
  if (!(Number.isSafeInteger(s) && s >= 0)) throw new Error(`snapshot sequence ${s} out of range`);
  if (refusedIsolated(actor, connId, s, effects)) return;
  if (s < actor.lastSequence) {
    reject(effects, connId, s, RejectCode.REPLAY, `stale snapshot: ${s} < last accepted ${actor.lastSequence}`);
    return;
  }
  const inconsistent = checkSnapshotPositions(snapshot.positions, s);
  if (inconsistent !== null) {
    reject(effects, connId, s, RejectCode.INVALID_FIELD, `snapshot ${s}: ${inconsistent}`);
    return;
  }
  const superseded = applySnapshot(actor, snapshot);
  effects.push({ kind: 'persistSnapshot', snapshot });
  effects.push({ kind: 'sendSnapshot', connId: null, sequence: s, positions: listPositions(actor.book) });
  for (const held of superseded) {
    reject(effects, held.connId, held.record.sequence, RejectCode.REPLAY, `superseded by snapshot at ${s}`);
  }
  const drained = acceptHeld(actor, ctx, effects);
  settleAfterProgress(actor, `snapshot at ${s}`, drained > 0, true, ctx, effects);
}

export function onMasterAttach(actor: SubscriptionActor, connId: ConnId, effects: Effect[]): void {
  actor.masters.add(connId);
  effects.push({ kind: 'welcome', connId, state: actor.state, lastSequence: actor.lastSequence });
  if (actor.state === SubscriptionState.DEGRADED || actor.state === SubscriptionState.SYNCING) {
    effects.push(currentSyncRequest(actor, connId));
  }
}

export function onMasterDetach(actor: SubscriptionActor, connId: ConnId): void {
  actor.masters.delete(connId);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}
