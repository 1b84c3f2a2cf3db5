import { describe as group, expect, it } from 'vitest';
import { describe } from '../../actors/subscription-actor';
import { OrderType, SubscriptionState } from '@sigplane/protocol';
import { Harness, SUB, T0, briefs, signal } from './fixtures';

function subscribe(h: Harness, connId: number, receiverId: string, lastSequence: number | null) {
  return briefs(h.send({ kind: 'receiverSubscribe', connId, receiverId, lastSequence }));
}

group('receiver subscribe', () => {
  it('welcomes, sends the missing deliveries from the window in batches of catchUpBatchMax, then live', () => {
    const h = new Harness();
    h.acceptRange(1, 8);
    const reads = h.history.reads;
    expect(subscribe(h, 20, 'r1', 1)).toEqual([
      'welcome @20 ACTIVE 8',
      'sendDeliveries @20 2,3,4',
      'sendDeliveries @20 5,6,7',
      'sendDeliveries @20 8',
      'receiverLive @20',
    ]);
    expect(h.history.reads).toBe(reads);
    expect(describe(h.actor).liveReceivers).toBe(1);
  });

  it('reads what the window no longer holds from the journal', () => {
    const h = new Harness();
    h.acceptRange(1, 12);
    expect(subscribe(h, 20, 'r1', 2)).toEqual([
      'welcome @20 ACTIVE 12',
      'sendDeliveries @20 3,4,5',
      'sendDeliveries @20 6,7,8',
      'sendDeliveries @20 9,10,11',
      'sendDeliveries @20 12',
      'receiverLive @20',
    ]);
  });

  it('resumes from the stored cursor when lastSequence is null, from 0 without one', () => {
    const h = new Harness();
    h.acceptRange(1, 4);
    h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 3 });
    expect(subscribe(h, 20, 'r1', null)).toEqual(['welcome @20 ACTIVE 4', 'sendDeliveries @20 4', 'receiverLive @20']);
    expect(subscribe(h, 21, 'r2', null)).toEqual([
      'welcome @21 ACTIVE 4', 'sendDeliveries @21 1,2,3', 'sendDeliveries @21 4', 'receiverLive @21',
    ]);
  });

  it('sends nothing but welcome and live to a receiver that is up to date', () => {
    const h = new Harness();
    h.acceptRange(1, 4);
    expect(subscribe(h, 20, 'r1', 4)).toEqual(['welcome @20 ACTIVE 4', 'receiverLive @20']);
  });

  it('sends a snapshot when the journal no longer has part of the range (retention)', () => {
    const h = new Harness();
    h.acceptRange(1, 12);
    h.history.retainFrom(4);
    expect(subscribe(h, 20, 'r1', 2)).toEqual(['welcome @20 ACTIVE 12', 'sendSnapshot @20 12', 'receiverLive @20']);
  });

  it('sends a snapshot to a receiver ahead of n', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    expect(subscribe(h, 20, 'r1', 9)).toEqual(['welcome @20 ACTIVE 3', 'sendSnapshot @20 3', 'receiverLive @20']);
  });

  it('prefers a snapshot when more than catchUpBatchMax * 8 deliveries are missing', () => {
    const h = new Harness();
    h.acceptRange(1, 26);
    expect(subscribe(h, 20, 'r1', 1)).toEqual(['welcome @20 ACTIVE 26', 'sendSnapshot @20 26', 'receiverLive @20']);
    const deliveries = subscribe(h, 21, 'r2', 2).filter((e) => e.startsWith('sendDeliveries'));
    expect(deliveries).toHaveLength(8);
  });

  it('sends a snapshot to a receiver behind the last master snapshot, with the book at n', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    h.send({ kind: 'masterSnapshot', connId: 1, snapshot: { subscriptionId: SUB, sequence: 10, generatedAtMs: T0, positions: [] } });
    h.signal(signal(11));
    const effects = h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 3 });
    expect(briefs(effects)).toEqual(['welcome @20 ACTIVE 11', 'sendSnapshot @20 11', 'receiverLive @20']);
    const snap = effects[1]!;
    expect(snap.kind === 'sendSnapshot' && snap.positions.map((p) => p.positionId)).toEqual(['v1:EURUSD']);
    expect(subscribe(h, 21, 'r2', 10)).toEqual(['welcome @21 ACTIVE 11', 'sendDeliveries @21 11', 'receiverLive @21']);
  });

  it('catches up to n while DEGRADED (held signals are not delivered) and while ISOLATED', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.signal(signal(5));
    expect(subscribe(h, 20, 'r1', 0)).toEqual(['welcome @20 DEGRADED 2', 'sendDeliveries @20 1,2', 'receiverLive @20']);
    h.send({ kind: 'isolate', reason: 'x' });
    expect(subscribe(h, 21, 'r2', 1)).toEqual(['welcome @21 ISOLATED 2', 'sendDeliveries @21 2', 'receiverLive @21']);
    expect(describe(h.actor).liveReceivers).toBe(2);
  });
});

group('receiver sync, acks and detach', () => {
  it('resends from fromSequence to a live receiver without a second receiverLive', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    subscribe(h, 20, 'r1', 5);
    expect(briefs(h.send({ kind: 'receiverSync', connId: 20, receiverId: 'r1', fromSequence: 4, full: false }))).toEqual([
      'sendDeliveries @20 4,5',
    ]);
    expect(briefs(h.send({ kind: 'receiverSync', connId: 20, receiverId: 'r1', fromSequence: 1, full: true }))).toEqual([
      'sendSnapshot @20 5',
    ]);
  });

  it('makes a connection that was not live yet live after the resend', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    expect(briefs(h.send({ kind: 'receiverSync', connId: 30, receiverId: 'r3', fromSequence: 0, full: false }))).toEqual([
      'sendDeliveries @30 1,2', 'receiverLive @30',
    ]);
    expect(() => h.send({ kind: 'receiverSync', connId: 30, receiverId: 'other', fromSequence: 1, full: false })).toThrow();
  });

  it('advances the cursor on acks up to n and persists it; ignores acks behind it or beyond n', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    expect(briefs(h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 3 }))).toEqual(['persistCursor r1 3']);
    expect(briefs(h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 2 }))).toEqual([]);
    expect(briefs(h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 6 }))).toEqual([]);
    expect(briefs(h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 5 }))).toEqual(['persistCursor r1 5']);
    expect(describe(h.actor).cursors).toEqual({ r1: 5 });
  });

  it('forgets a detached receiver connection but keeps its cursor', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    subscribe(h, 20, 'r1', 3);
    h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 3 });
    h.send({ kind: 'receiverDetach', connId: 20 });
    expect(describe(h.actor)).toMatchObject({ liveReceivers: 0, cursors: { r1: 3 } });
    h.signal(signal(4, { orderType: OrderType.SELL }));
    expect(subscribe(h, 21, 'r1', null)).toEqual(['welcome @21 ACTIVE 4', 'sendDeliveries @21 4', 'receiverLive @21']);
  });

  it('delivers live signals with one deliver effect for every live receiver', () => {
    const h = new Harness();
    subscribe(h, 20, 'r1', 0);
    subscribe(h, 21, 'r2', 0);
    expect(briefs(h.signal(signal(1))).filter((e) => e.startsWith('deliver'))).toEqual(['deliver 1']);
    expect(describe(h.actor).state).toBe(SubscriptionState.ACTIVE);
  });
});
