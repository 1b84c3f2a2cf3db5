import { describe as group, expect, it } from 'vitest';
import type { Effect } from '../../actors/actor-types';
import {
  checkInvariants,
  createActor,
  describe,
  nextTimerAtMs,
  restoreCursor,
  restoreSignal,
  restoreSnapshot,
  restoreState,
  type SubscriptionActor,
} from '../../actors/subscription-actor';
import { Action, SubscriptionState } from '@sigplane/protocol';
import { Harness, SUB, T0, briefs, signal, smallLimits, v2 } from './fixtures';

/** Replay persist* effects, in journal order, into a fresh actor. */
function replay(journal: Effect[], nowMs: number): SubscriptionActor {
  const actor = createActor(SUB, nowMs, smallLimits);
  for (const e of journal) {
    if (e.kind === 'persistSignal') restoreSignal(actor, e.record);
    else if (e.kind === 'persistSnapshot') restoreSnapshot(actor, e.snapshot);
    else if (e.kind === 'persistCursor') restoreCursor(actor, e.receiverId, e.sequence);
    else if (e.kind === 'persistState') restoreState(actor, e.state, e.reason);
  }
  return actor;
}

function sameDurableState(a: SubscriptionActor, b: SubscriptionActor): void {
  const { heldCount: _h, heldSequences: _s, liveReceivers: _l, masters: _m, stateReason: _r, ...rest } = describe(a);
  expect(describe(b)).toMatchObject(rest);
}

group('restore from the journal', () => {
  it('rebuilds book, sequence, snapshot base, window, cursors and state', () => {
    const h = new Harness();
    const journal: Effect[] = [];
    const run = (effects: Effect[]) => journal.push(...effects.filter((e) => e.kind.startsWith('persist')));
    for (let s = 1; s <= 5; s++) run(h.signal(v2(s, Action.OPEN, String(s))));
    run(h.signal(v2(6, Action.PARTIAL_CLOSE, '2', { volume: 0.05 })));
    run(h.send({ kind: 'deliveryAck', connId: 1, receiverId: 'r1', sequence: 4 }));
    run(h.signal(signal(9)));
    run(h.send({ kind: 'masterSnapshot', connId: 1, snapshot: {
      subscriptionId: SUB, sequence: 7, generatedAtMs: T0, positions: describe(h.actor).positions,
    } }));
    run(h.signal(v2(10, Action.CLOSE, '3')));
    expect(describe(h.actor)).toMatchObject({ state: SubscriptionState.DEGRADED, heldSequences: [9, 10] });
    run(h.signal(v2(8, Action.MODIFY, '1', { takeProfit: 1.3 })));
    expect(describe(h.actor).state).toBe(SubscriptionState.ACTIVE);
    const restored = replay(journal, T0 + 5);
    sameDurableState(h.actor, restored);
    expect(describe(restored).lastSequence).toBe(10);
  });

  it('uses the record receivedAtMs as the time of the reference price', () => {
    const actor = createActor(SUB, T0 + 30_000, smallLimits);
    restoreSignal(actor, signal(1, { price: 1.1, receivedAtMs: T0 }));
    expect(actor.prices.get('EURUSD')).toEqual({ price: 1.1, atMs: T0 });
  });

  it('throws on a journal that is out of order, inconsistent or of another subscription', () => {
    const actor = createActor(SUB, T0, smallLimits);
    restoreSignal(actor, signal(1));
    expect(() => restoreSignal(actor, signal(3))).toThrow(/accepting 3 after 1/);
    expect(() => restoreSignal(actor, signal(1))).toThrow();
    expect(() => restoreSignal(actor, v2(2, Action.CLOSE, '5'))).toThrow(/refused/);
    expect(() => restoreSignal(actor, { ...signal(2), subscriptionId: 'x' })).toThrow(/replayed/);
    expect(() => restoreSnapshot(actor, { subscriptionId: SUB, sequence: 0, generatedAtMs: T0, positions: [] })).toThrow(/behind/);
    expect(describe(actor).lastSequence).toBe(1);
  });

  it('keeps the highest cursor', () => {
    const actor = createActor(SUB, T0, smallLimits);
    restoreCursor(actor, 'r1', 5);
    restoreCursor(actor, 'r1', 3);
    expect(describe(actor).cursors).toEqual({ r1: 5 });
    expect(() => restoreCursor(actor, '', 1)).toThrow();
  });

  it('restores DEGRADED without held signals: asks at once for n+1, and n+1 makes it ACTIVE', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    restoreState(h.actor, SubscriptionState.DEGRADED, 'gap before the crash');
    expect(nextTimerAtMs(h.actor)).toBe(T0);
    expect(briefs(h.send({ kind: 'tick' }))).toEqual(['syncRequest @null 3-3']);
    expect(briefs(h.send({ kind: 'masterAttach', connId: 2 }))).toEqual(['welcome @2 DEGRADED 2', 'syncRequest @2 3-3']);
    expect(briefs(h.signal(signal(3)))).toEqual([
      'persistSignal 3', 'ack 3 ACCEPTED @1', 'deliver 3', 'persistState ACTIVE', 'stateChange ACTIVE',
    ]);
  });

  it('restores SYNCING (asks for a full snapshot) and ISOLATED (refuses signals)', () => {
    const h = new Harness();
    restoreState(h.actor, SubscriptionState.SYNCING, 'x');
    expect(briefs(h.send({ kind: 'tick' }))).toEqual(['syncRequest @null 1-1 full']);
    const i = new Harness();
    restoreState(i.actor, SubscriptionState.ISOLATED, 'operator');
    expect(briefs(i.signal(signal(1)))).toEqual(['reject 1 ISOLATED @1']);
    expect(() => restoreState(i.actor, 'BROKEN' as SubscriptionState, 'x')).toThrow(/unknown state/);
  });
});

group('invariants', () => {
  it('throws on states that must never arise', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.actor.held.set(5, { connId: 1, record: signal(5) });
    expect(() => checkInvariants(h.actor)).toThrow(/ACTIVE with held/);
    h.actor.state = SubscriptionState.DEGRADED;
    checkInvariants(h.actor);
    h.actor.held.set(3, { connId: 1, record: signal(3) });
    expect(() => checkInvariants(h.actor)).toThrow(/held 3/);
    h.actor.held.clear();
    h.actor.lastSequence = 7;
    expect(() => checkInvariants(h.actor)).toThrow(/window ends/);
    h.actor.lastSequence = 2;
    h.actor.snapshotBase = 3;
    expect(() => checkInvariants(h.actor)).toThrow(/snapshotBase/);
  });

  it('checks the invariants after every event', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.actor.held.set(9, { connId: 1, record: signal(9) });
    expect(() => h.send({ kind: 'tick' })).toThrow(/invariant/);
  });
});
