/**
 * The subscription actor's data and the transitions every handler shares:
 * accepting a signal, applying a snapshot, changing state, asking masters
 * to sync, the time-driven transitions (tick, isolate, lift) and the
 * invariants checked after every event.
 *
 * States:
 *   ACTIVE    whole: n+1 is accepted and delivered.
 *   DEGRADED  a gap is open: signals beyond it are held; the resend request
 *             is repeated every syncRetryMs; after degradedEscalateMs of not
 *             being whole -> SYNCING.
 *   SYNCING   a full snapshot was asked (held buffer full or gap too old);
 *             repeated every syncRetryMs. A resend that makes it whole still
 *             returns it to ACTIVE.
 *   ISOLATED  an operator cut it off: every signal and snapshot is refused
 *             ISOLATED, held signals are kept; lift -> ACTIVE when nothing is
 *             held, else DEGRADED (a fresh gap, asked again at once).
 */
import { SubscriptionState, type SignalRecord, type SnapshotRecord } from '@sigplane/protocol';
import type { ActorContext, ConnId, Effect } from './actor-types';
import { clearWindow, pushRecord, windowLastSequence, type DeliveryWindow } from './delivery-window';
import { applySignal, positionsMax, replacePositions, type PositionsBook } from './positions-book';
import { recordPrice, type PriceGuard } from './price-guard';

/** The actor's bounds: proto/limits.ts `actor` unless a test passes smaller ones. */
export interface ActorLimits {
  deliveryWindowMax: number;
  heldSignalsMax: number;
  catchUpBatchMax: number;
  syncRetryMs: number;
  degradedEscalateMs: number;
}

/** A signal beyond the gap, waiting for its predecessors. */
export interface HeldSignal {
  /** Where the answer goes once it is accepted or refused. */
  connId: ConnId;
  record: SignalRecord;
}

export interface SubscriptionActor {
  readonly subscriptionId: string;
  readonly limits: Readonly<ActorLimits>;
  /** Clock when the actor was created: the start of a state restored from the journal. */
  readonly createdAtMs: number;
  state: SubscriptionState;
  stateReason: string;
  /** Last accepted sequence: only ever grows (by one, or to a snapshot's sequence). */
  lastSequence: number;
  /** Sequence of the last master snapshot (0: none); receivers behind it get a snapshot. */
  snapshotBase: number;
  book: PositionsBook;
  window: DeliveryWindow;
  prices: PriceGuard;
  /** sequence -> held signal; every key > lastSequence + 1; at most limits.heldSignalsMax. */
  held: Map<number, HeldSignal>;
  /** When the subscription stopped being whole (DEGRADED, SYNCING): for escalation. */
  degradedSinceMs: number;
  /** When the last sync request went to every master; null: not yet (the next tick sends one). */
  syncRequestedAtMs: number | null;
  /** receiverId -> last sequence it acknowledged. */
  cursors: Map<string, number>;
  /** connId -> receiverId of receivers that get live deliveries. */
  liveReceivers: Map<ConnId, string>;
  masters: Set<ConnId>;
}

/** Book, reference price, window and sequence take an accepted signal. */
export function applyAccepted(actor: SubscriptionActor, record: SignalRecord, referenceAtMs: number): void {
  if (record.sequence !== actor.lastSequence + 1) {
    throw new Error(`invariant: accepting ${record.sequence} after ${actor.lastSequence}`);
  }
  applySignal(actor.book, record);
  recordPrice(actor.prices, record.symbol, record.price, referenceAtMs);
  pushRecord(actor.window, record);
  actor.lastSequence = record.sequence;
}

/** Book, sequence, snapshot base and window take a snapshot; returns the held signals it superseded. */
export function applySnapshot(actor: SubscriptionActor, snapshot: SnapshotRecord): HeldSignal[] {
  if (snapshot.sequence < actor.lastSequence) {
    throw new Error(`invariant: snapshot at ${snapshot.sequence} behind ${actor.lastSequence}`);
  }
  replacePositions(actor.book, snapshot.positions, snapshot.sequence);
  actor.lastSequence = snapshot.sequence;
  actor.snapshotBase = snapshot.sequence;
  clearWindow(actor.window);
  const superseded: HeldSignal[] = [];
  for (const [sequence, held] of actor.held) {
    if (sequence <= snapshot.sequence) superseded.push(held);
  }
  for (const held of superseded) actor.held.delete(held.record.sequence);
  superseded.sort((a, b) => a.record.sequence - b.record.sequence);
  return superseded;
}

/** Journal and announce a state change (nothing when the state is unchanged). */
export function changeState(actor: SubscriptionActor, state: SubscriptionState, reason: string, effects: Effect[]): void {
  if (actor.state === state) return;
  actor.state = state;
  actor.stateReason = reason;
  const sequence = actor.lastSequence;
  effects.push({ kind: 'persistState', subscriptionId: actor.subscriptionId, state, sequence, reason });
  effects.push({ kind: 'stateChange', state, sequence, reason });
}

/**
 * What the master(s) are asked while the subscription is not whole.
 * DEGRADED: resend [n+1, lowest held - 1] ([n+1, n+1] when nothing is held,
 * e.g. after a restart lost the held signals). SYNCING: a full snapshot;
 * the range [n+1, max(n+1, highest held)] is only informative.
 */
export function currentSyncRequest(actor: SubscriptionActor, connId: ConnId | null): Effect {
  const fromSequence = actor.lastSequence + 1;
  let lowest = Infinity;
  let highest = fromSequence;
  for (const sequence of actor.held.keys()) {
    if (sequence < lowest) lowest = sequence;
    if (sequence > highest) highest = sequence;
  }
  const full = actor.state === SubscriptionState.SYNCING;
  const toSequence = full ? highest : lowest === Infinity ? fromSequence : lowest - 1;
  return { kind: 'syncRequest', connId, fromSequence, toSequence, full };
}

/** Ask every master again and remember when. */
export function requestSync(actor: SubscriptionActor, nowMs: number, effects: Effect[]): void {
  effects.push(currentSyncRequest(actor, null));
  actor.syncRequestedAtMs = nowMs;
}

/** A gap opened (or reopened): DEGRADED from now, ask for the missing range. */
export function enterDegraded(actor: SubscriptionActor, reason: string, nowMs: number, effects: Effect[]): void {
  changeState(actor, SubscriptionState.DEGRADED, reason, effects);
  actor.degradedSinceMs = nowMs;
  requestSync(actor, nowMs, effects);
}

/** Give up on resends: ask for a full snapshot. */
export function enterSyncing(actor: SubscriptionActor, reason: string, nowMs: number, effects: Effect[]): void {
  changeState(actor, SubscriptionState.SYNCING, reason, effects);
  requestSync(actor, nowMs, effects);
}

function syncRetryDue(actor: SubscriptionActor, nowMs: number): boolean {
  return actor.syncRequestedAtMs === null || nowMs - actor.syncRequestedAtMs >= actor.limits.syncRetryMs;
}

export function onTick(actor: SubscriptionActor, ctx: ActorContext, effects: Effect[]): void {
  const nowMs = ctx.nowMs;
  if (actor.state === SubscriptionState.DEGRADED) {
    const degradedMs = nowMs - actor.degradedSinceMs;
    if (degradedMs >= actor.limits.degradedEscalateMs) {
      enterSyncing(actor, `gap open for ${degradedMs} ms: full sync`, nowMs, effects);
    } else if (syncRetryDue(actor, nowMs)) {
      requestSync(actor, nowMs, effects);
    }
  } else if (actor.state === SubscriptionState.SYNCING) {
    if (syncRetryDue(actor, nowMs)) requestSync(actor, nowMs, effects);
  }
}

export function onIsolate(actor: SubscriptionActor, reason: string, effects: Effect[]): void {
  changeState(actor, SubscriptionState.ISOLATED, reason, effects);
}

export function onLift(actor: SubscriptionActor, reason: string, ctx: ActorContext, effects: Effect[]): void {
  if (actor.state !== SubscriptionState.ISOLATED) return;
  if (actor.held.size === 0) changeState(actor, SubscriptionState.ACTIVE, reason, effects);
  else enterDegraded(actor, `${reason}; gap still open`, ctx.nowMs, effects);
}

/** When the worker must send a 'tick' (sync retry or escalation), or null. */
export function nextTimerAtMs(actor: SubscriptionActor): number | null {
  const retryAtMs =
    actor.syncRequestedAtMs === null ? actor.degradedSinceMs : actor.syncRequestedAtMs + actor.limits.syncRetryMs;
  if (actor.state === SubscriptionState.DEGRADED) {
    return Math.min(retryAtMs, actor.degradedSinceMs + actor.limits.degradedEscalateMs);
  }
  if (actor.state === SubscriptionState.SYNCING) return retryAtMs;
  return null;
}

/** Throws when the actor is in a state that must never arise. */
export function checkInvariants(actor: SubscriptionActor): void {
  const n = actor.lastSequence;
  const fail = (what: string): never => {
    throw new Error(`invariant (${actor.subscriptionId}): ${what}`);
  };
  if (!(Number.isSafeInteger(n) && n >= 0)) fail(`lastSequence ${n}`);
  if (!(actor.snapshotBase >= 0 && actor.snapshotBase <= n)) fail(`snapshotBase ${actor.snapshotBase} > ${n}`);
  const windowLast = windowLastSequence(actor.window);
  if (windowLast !== null && windowLast !== n) fail(`window ends at ${windowLast}, not ${n}`);
  if (windowLast !== null && actor.window.firstSequence <= actor.snapshotBase) fail('window reaches behind the snapshot');
  if (actor.held.size > actor.limits.heldSignalsMax) fail(`${actor.held.size} held signals`);
  if (actor.state === SubscriptionState.ACTIVE && actor.held.size !== 0) fail('ACTIVE with held signals');
  // Every held key is > n + 1 (it was when held, hold() keys it by its own sequence). n moves one
  // step at a time (applyAccepted), or jumps in applySnapshot, which drops every held key <= the jump;
  // so a held signal left behind is at n + 1 (not drained), or at n (a step accepted its sequence
  // directly): checked here after every step, in O(1) whatever the buffer's size, where a scan
  // of a full buffer cost more than the rest of the step.
  if (actor.held.has(n + 1) || actor.held.has(n)) fail(`held ${actor.held.has(n + 1) ? n + 1 : n} with n = ${n}`);
  if (actor.book.size > positionsMax) fail(`${actor.book.size} positions`);
}
