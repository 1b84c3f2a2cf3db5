import { describe as group, expect, it } from 'vitest';
import { checkInvariants, describe, nextTimerAtMs } from '../../actors/subscription-actor';
import { Action, OrderType, SubscriptionState } from '@sigplane/protocol';
import { Harness, SUB, T0, briefs, signal, v2 } from './fixtures';

group('master signals, in order', () => {
  it('accepts n+1: persistSignal, ack ACCEPTED, deliver', () => {
    const h = new Harness();
    expect(briefs(h.signal(signal(1), 7))).toEqual(['persistSignal 1', 'ack 1 ACCEPTED @7', 'deliver 1']);
    expect(describe(h.actor).lastSequence).toBe(1);
    expect(describe(h.actor).positions).toHaveLength(1);
  });

  it('acks an exact duplicate from the window as DUPLICATE, without persisting or delivering', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    expect(briefs(h.signal(signal(2, { orderType: OrderType.SELL }), 4))).toEqual(['ack 2 DUPLICATE @4']);
    expect(describe(h.actor).lastSequence).toBe(3);
  });

  it('finds a duplicate in the journal once the window no longer has it', () => {
    const h = new Harness();
    h.acceptRange(1, 20);
    expect(describe(h.actor).windowFirstSequence).toBe(13);
    const reads = h.history.reads;
    expect(briefs(h.signal(signal(3)))).toEqual(['ack 3 DUPLICATE @1']);
    expect(h.history.reads).toBe(reads + 1);
  });

  it('rejects REPLAY for a sequence <= n with other content, or one no longer kept', () => {
    const h = new Harness();
    h.acceptRange(1, 20);
    expect(briefs(h.signal(signal(19, { price: 1.2 })))).toEqual(['reject 19 REPLAY @1']);
    expect(briefs(h.signal(signal(4, { volume: 0.2 })))).toEqual(['reject 4 REPLAY @1']);
    h.history.retainFrom(10);
    expect(briefs(h.signal(signal(3)))).toEqual(['reject 3 REPLAY @1']);
  });

  it('refuses what the book refuses (POSITION_UNKNOWN) without advancing the sequence', () => {
    const h = new Harness();
    expect(briefs(h.signal(v2(1, Action.CLOSE, '42')))).toEqual(['reject 1 POSITION_UNKNOWN @1']);
    expect(briefs(h.signal(v2(1, Action.OPEN, '42')))).toEqual(['persistSignal 1', 'ack 1 ACCEPTED @1', 'deliver 1']);
    expect(briefs(h.signal(v2(2, Action.OPEN, '42')))).toEqual(['reject 2 INVALID_FIELD @1']);
    expect(describe(h.actor).lastSequence).toBe(1);
  });

  it('refuses PRICE_DEVIATION against the last accepted price while it is fresh', () => {
    const h = new Harness();
    h.signal(signal(1, { price: 1.1 }));
    expect(briefs(h.signal(signal(2, { price: 1.1051 })))).toEqual(['reject 2 PRICE_DEVIATION @1']);
    expect(describe(h.actor).lastSequence).toBe(1);
    // The refused price did not become the reference.
    expect(briefs(h.signal(signal(2, { price: 1.105 })))).toContain('ack 2 ACCEPTED @1');
    expect(briefs(h.signal(signal(3, { price: 1.1, symbol: 'GBPUSD' })))).toContain('ack 3 ACCEPTED @1');
    h.nowMs += h.settings.referencePriceMaxAgeMs;
    expect(briefs(h.signal(signal(4, { price: 1.3 })))).toContain('ack 4 ACCEPTED @1');
  });

  it('does not guard signals without a price, and they set no reference', () => {
    const h = new Harness();
    h.signal(v2(1, Action.OPEN, '5', { price: 1.1 }));
    expect(briefs(h.signal(v2(2, Action.MODIFY, '5', { price: 0, stopLoss: 1.0 })))).toContain('ack 2 ACCEPTED @1');
    expect(briefs(h.signal(v2(3, Action.CLOSE, '5', { price: 1.2 })))).toEqual(['reject 3 PRICE_DEVIATION @1']);
  });

  it("uses the subscription's pip size overrides", () => {
    const h = new Harness();
    h.settings = { ...h.settings, pipSizes: { EURUSD: 0.01 } };
    h.signal(signal(1, { price: 1.1 }));
    expect(briefs(h.signal(signal(2, { price: 1.5 })))).toContain('ack 2 ACCEPTED @1');
  });

  it('throws for a signal routed to the wrong actor (invalid state must never arise)', () => {
    const h = new Harness();
    expect(() => h.signal({ ...signal(1), subscriptionId: 'other' })).toThrow(/routed/);
    expect(() => h.signal(signal(0))).toThrow(/out of range/);
  });
});

group('gaps, resends and full sync', () => {
  it('holds a signal beyond the gap unanswered, goes DEGRADED and asks for the missing range', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    expect(briefs(h.signal(signal(6)))).toEqual([
      'persistState DEGRADED', 'stateChange DEGRADED', 'syncRequest @null 3-5',
    ]);
    expect(briefs(h.signal(signal(5)))).toEqual([]);
    const d = describe(h.actor);
    expect(d).toMatchObject({ state: SubscriptionState.DEGRADED, lastSequence: 2, heldCount: 2, heldSequences: [5, 6] });
  });

  it('accepts the resend, then every contiguous held signal in order, then ACTIVE', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.signal(signal(5), 2);
    h.signal(signal(4), 3);
    expect(briefs(h.signal(signal(3), 4))).toEqual([
      'persistSignal 3', 'ack 3 ACCEPTED @4', 'deliver 3',
      'persistSignal 4', 'ack 4 ACCEPTED @3', 'deliver 4',
      'persistSignal 5', 'ack 5 ACCEPTED @2', 'deliver 5',
      'persistState ACTIVE', 'stateChange ACTIVE',
    ]);
    expect(describe(h.actor)).toMatchObject({ state: SubscriptionState.ACTIVE, lastSequence: 5, heldCount: 0 });
  });

  it('stays DEGRADED while a gap remains, asking for the next range once the first is filled', () => {
    const h = new Harness();
    h.signal(signal(3));
    h.signal(signal(6));
    expect(briefs(h.signal(signal(1)))).toEqual(['persistSignal 1', 'ack 1 ACCEPTED @1', 'deliver 1']);
    expect(briefs(h.signal(signal(2)))).toEqual([
      'persistSignal 2', 'ack 2 ACCEPTED @1', 'deliver 2',
      'persistSignal 3', 'ack 3 ACCEPTED @1', 'deliver 3',
      'syncRequest @null 4-5',
    ]);
    expect(describe(h.actor).state).toBe(SubscriptionState.DEGRADED);
    // Nothing beyond the gap was delivered.
    expect(describe(h.actor).heldSequences).toEqual([6]);
  });

  it('redirects the answer of a held signal sent again with the same content; other content is REPLAY', () => {
    const h = new Harness();
    h.signal(signal(2), 1);
    expect(briefs(h.signal(signal(2), 9))).toEqual([]);
    expect(briefs(h.signal(signal(2, { price: 1.101 }), 9))).toEqual(['reject 2 REPLAY @9']);
    expect(briefs(h.signal(signal(1), 1))).toEqual([
      'persistSignal 1', 'ack 1 ACCEPTED @1', 'deliver 1',
      'persistSignal 2', 'ack 2 ACCEPTED @9', 'deliver 2',
      'persistState ACTIVE', 'stateChange ACTIVE',
    ]);
  });

  it('answers a held signal the book refuses once it is reached, keeps the gap open and asks for it again', () => {
    const h = new Harness();
    h.signal(v2(2, Action.CLOSE, '77'), 5);
    h.signal(v2(3, Action.OPEN, '78'), 6);
    expect(briefs(h.signal(v2(1, Action.OPEN, '1')))).toEqual([
      'persistSignal 1', 'ack 1 ACCEPTED @1', 'deliver 1',
      'reject 2 POSITION_UNKNOWN @5',
      'syncRequest @null 2-2',
    ]);
    expect(describe(h.actor)).toMatchObject({ state: SubscriptionState.DEGRADED, lastSequence: 1, heldSequences: [3] });
  });

  it('rejects DEGRADED_BUFFER_FULL when the held buffer is full and escalates to SYNCING', () => {
    const h = new Harness();
    for (let s = 3; s <= 6; s++) h.signal(signal(s));
    expect(briefs(h.signal(signal(7), 2))).toEqual([
      'reject 7 DEGRADED_BUFFER_FULL @2', 'persistState SYNCING', 'stateChange SYNCING', 'syncRequest @null 1-6 full',
    ]);
    expect(briefs(h.signal(signal(8), 2))).toEqual(['reject 8 DEGRADED_BUFFER_FULL @2']);
    expect(describe(h.actor)).toMatchObject({ state: SubscriptionState.SYNCING, heldCount: 4 });
  });

  it('a resend that makes a SYNCING subscription whole makes it ACTIVE', () => {
    const h = new Harness();
    for (let s = 3; s <= 7; s++) h.signal(signal(s));
    h.signal(signal(1));
    expect(briefs(h.signal(signal(2))).slice(-2)).toEqual(['persistState ACTIVE', 'stateChange ACTIVE']);
    expect(describe(h.actor).lastSequence).toBe(6);
  });

  it('on tick: repeats the request every syncRetryMs, escalates after degradedEscalateMs, repeats the full request', () => {
    const h = new Harness();
    expect(nextTimerAtMs(h.actor)).toBeNull();
    h.signal(signal(3));
    expect(nextTimerAtMs(h.actor)).toBe(T0 + 2_000);
    h.nowMs = T0 + 1_999;
    expect(briefs(h.send({ kind: 'tick' }))).toEqual([]);
    h.nowMs = T0 + 2_000;
    expect(briefs(h.send({ kind: 'tick' }))).toEqual(['syncRequest @null 1-2']);
    expect(nextTimerAtMs(h.actor)).toBe(T0 + 4_000);
    h.nowMs = T0 + 9_000;
    h.send({ kind: 'tick' });
    expect(nextTimerAtMs(h.actor)).toBe(T0 + 10_000);
    h.nowMs = T0 + 10_000;
    expect(briefs(h.send({ kind: 'tick' }))).toEqual([
      'persistState SYNCING', 'stateChange SYNCING', 'syncRequest @null 1-3 full',
    ]);
    expect(nextTimerAtMs(h.actor)).toBe(T0 + 12_000);
    h.nowMs = T0 + 12_000;
    expect(briefs(h.send({ kind: 'tick' }))).toEqual(['syncRequest @null 1-3 full']);
    h.signal(signal(1));
    h.signal(signal(2));
    expect(nextTimerAtMs(h.actor)).toBeNull();
    expect(briefs(h.send({ kind: 'tick' }))).toEqual([]);
  });
});

group('stale signals (older than the TTL: the I/O thread marks them, the actor answers)', () => {
  const stale = (h: Harness, record: ReturnType<typeof signal>, connId = 1) =>
    h.send({ kind: 'staleSignal', connId, record, message: 'signal is older than 60000 ms' });

  it('acks a byte-identical copy of an accepted signal DUPLICATE at any age, from the window or the journal', () => {
    const h = new Harness();
    h.acceptRange(1, 20);
    expect(briefs(stale(h, signal(20, { orderType: OrderType.SELL }), 3))).toEqual(['ack 20 DUPLICATE @3']);
    expect(briefs(stale(h, signal(3)))).toEqual(['ack 3 DUPLICATE @1']);
    expect(describe(h.actor).lastSequence).toBe(20);
  });

  it('refuses STALE a stale signal with other content at or below n, and one never accepted above n, without holding it', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    expect(briefs(stale(h, signal(2, { volume: 0.2 })))).toEqual(['reject 2 STALE @1']);
    expect(briefs(stale(h, signal(4)))).toEqual(['reject 4 STALE @1']);
    expect(briefs(stale(h, signal(9)))).toEqual(['reject 9 STALE @1']);
    const d = describe(h.actor);
    expect([d.lastSequence, d.state, d.heldCount]).toEqual([3, SubscriptionState.ACTIVE, 0]);
    // The fresh signal 4 is still taken: a stale one moved nothing.
    expect(briefs(h.signal(signal(4, { orderType: OrderType.SELL })))).toContain('ack 4 ACCEPTED @1');
  });

  it('leaves the answer of a held signal to its held copy (redirected), and refuses other content STALE', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.signal(signal(5), 1);
    expect(briefs(stale(h, signal(5), 2))).toEqual([]);
    expect(briefs(stale(h, signal(5, { volume: 0.3 }), 2))).toEqual(['reject 5 STALE @2']);
    h.signal(signal(3, { orderType: OrderType.BUY }), 1);
    expect(briefs(h.signal(signal(4, { orderType: OrderType.SELL }), 1))).toContain('ack 5 ACCEPTED @2');
  });

  it('refuses ISOLATED while isolated, even a copy of an accepted signal', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.send({ kind: 'isolate', reason: 'incident' });
    expect(briefs(stale(h, signal(2, { orderType: OrderType.SELL })))).toEqual(['reject 2 ISOLATED @1']);
  });
});

group('master snapshots', () => {
  const snapshot = (sequence: number, positionIds: string[] = ['900']) => ({
    subscriptionId: SUB,
    sequence,
    generatedAtMs: T0,
    positions: positionIds.map((positionId) => ({
      positionId, symbol: 'EURUSD', orderType: OrderType.BUY, volume: 1, openPrice: 1.1,
      stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 1,
    })),
  });

  it('rejects a snapshot behind n as REPLAY (stale)', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(4) }))).toEqual(['reject 4 REPLAY @3']);
  });

  it('rejects a snapshot with inconsistent positions as INVALID_FIELD', () => {
    const h = new Harness();
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(4, ['1', '1']) }))).toEqual([
      'reject 4 INVALID_FIELD @3',
    ]);
  });

  it('replaces the book, drops superseded held signals, accepts what follows, then ACTIVE', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.signal(signal(5), 5);
    h.signal(signal(11), 6);
    h.signal(signal(12), 7);
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(10) }))).toEqual([
      'persistSnapshot 10',
      'sendSnapshot @null 10',
      'reject 5 REPLAY @5',
      'persistSignal 11', 'ack 11 ACCEPTED @6', 'deliver 11',
      'persistSignal 12', 'ack 12 ACCEPTED @7', 'deliver 12',
      'persistState ACTIVE', 'stateChange ACTIVE',
    ]);
    const d = describe(h.actor);
    expect(d).toMatchObject({ lastSequence: 12, snapshotBase: 10, windowFirstSequence: 11, windowCount: 2 });
    expect(d.positions.map((p) => p.positionId)).toEqual(['900', 'v1:EURUSD']);
  });

  it('leaves a subscription DEGRADED with a fresh request when a gap remains after the snapshot', () => {
    const h = new Harness();
    for (let s = 3; s <= 7; s++) h.signal(signal(s));
    expect(describe(h.actor).state).toBe(SubscriptionState.SYNCING);
    h.nowMs += 500;
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(4) }))).toEqual([
      'persistSnapshot 4', 'sendSnapshot @null 4',
      'reject 3 REPLAY @1', 'reject 4 REPLAY @1',
      'persistSignal 5', 'ack 5 ACCEPTED @1', 'deliver 5',
      'persistSignal 6', 'ack 6 ACCEPTED @1', 'deliver 6',
      'persistState ACTIVE', 'stateChange ACTIVE',
    ]);
    h.signal(signal(9));
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(7) }))).toEqual([
      'persistSnapshot 7', 'sendSnapshot @null 7', 'syncRequest @null 8-8',
    ]);
    expect(describe(h.actor)).toMatchObject({ state: SubscriptionState.DEGRADED, heldSequences: [9] });
  });

  it('takes an unrequested snapshot at n while ACTIVE without a state change', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 3, snapshot: snapshot(3, []) }))).toEqual([
      'persistSnapshot 3', 'sendSnapshot @null 3',
    ]);
    expect(describe(h.actor)).toMatchObject({ positions: [], windowCount: 0, snapshotBase: 3 });
  });

  it('updates no reference price', () => {
    const h = new Harness();
    h.signal(signal(1, { price: 1.1 }));
    h.send({ kind: 'masterSnapshot', connId: 3, snapshot: { ...snapshot(5), positions: [] } });
    expect(briefs(h.signal(signal(6, { price: 1.2 })))).toEqual(['reject 6 PRICE_DEVIATION @1']);
  });
});

group('master connections and isolation', () => {
  it('welcomes an attaching master and, while DEGRADED, asks it for the range', () => {
    const h = new Harness();
    expect(briefs(h.send({ kind: 'masterAttach', connId: 4 }))).toEqual(['welcome @4 ACTIVE 0']);
    h.signal(signal(3));
    expect(briefs(h.send({ kind: 'masterAttach', connId: 5 }))).toEqual([
      'welcome @5 DEGRADED 0', 'syncRequest @5 1-2',
    ]);
    expect(describe(h.actor).masters).toBe(2);
    h.send({ kind: 'masterDetach', connId: 4 });
    expect(describe(h.actor).masters).toBe(1);
  });

  it('isolates: every later signal and snapshot is ISOLATED; lift returns to ACTIVE', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    expect(briefs(h.send({ kind: 'isolate', reason: 'abuse' }))).toEqual(['persistState ISOLATED', 'stateChange ISOLATED']);
    expect(briefs(h.signal(signal(3)))).toEqual(['reject 3 ISOLATED @1']);
    expect(briefs(h.signal(signal(2, { orderType: OrderType.SELL })))).toEqual(['reject 2 ISOLATED @1']);
    expect(briefs(h.send({ kind: 'masterSnapshot', connId: 1, snapshot: { subscriptionId: SUB, sequence: 9, generatedAtMs: T0, positions: [] } })))
      .toEqual(['reject 9 ISOLATED @1']);
    expect(nextTimerAtMs(h.actor)).toBeNull();
    expect(briefs(h.send({ kind: 'isolate', reason: 'again' }))).toEqual([]);
    expect(briefs(h.send({ kind: 'lift', reason: 'ok' }))).toEqual(['persistState ACTIVE', 'stateChange ACTIVE']);
    expect(briefs(h.send({ kind: 'lift', reason: 'ok' }))).toEqual([]);
    expect(briefs(h.signal(signal(3)))).toContain('ack 3 ACCEPTED @1');
  });

  it('keeps held signals through isolation and lifts into DEGRADED when a gap is open', () => {
    const h = new Harness();
    h.signal(signal(3));
    h.send({ kind: 'isolate', reason: 'abuse' });
    h.nowMs += 60_000;
    expect(briefs(h.send({ kind: 'tick' }))).toEqual([]);
    expect(briefs(h.send({ kind: 'lift', reason: 'ok' }))).toEqual([
      'persistState DEGRADED', 'stateChange DEGRADED', 'syncRequest @null 1-2',
    ]);
    expect(nextTimerAtMs(h.actor)).toBe(h.nowMs + 2_000);
  });

  it('catches a held signal left behind the sequence (not drained at n + 1, or passed at n)', () => {
    const h = new Harness();
    h.signal(signal(3));
    h.signal(signal(5));
    expect(() => checkInvariants(h.actor)).not.toThrow();
    // Corrupt the state as a drain bug would: held 3 not taken once 2 is accepted, then passed.
    const held3 = h.actor.held.get(3)!;
    h.actor.lastSequence = 2;
    expect(() => checkInvariants(h.actor)).toThrow(/held 3 with n = 2/);
    h.actor.lastSequence = 3;
    expect(() => checkInvariants(h.actor)).toThrow(/held 3 with n = 3/);
    h.actor.held.delete(3);
    h.actor.lastSequence = 0;
    expect(() => checkInvariants(h.actor)).not.toThrow();
    expect(held3.record.sequence).toBe(3);
  });
});
