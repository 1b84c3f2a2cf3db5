/**
 * Execution reports in the subscription actor (actors/receiver-reports.ts):
 * a receiver connection may report what was delivered to it, no more.
 */
import { describe as group, expect, it } from 'vitest';
import { describe, reportNotDelivered } from '../../actors/subscription-actor';
import { RejectCode, SubscriptionState } from '@sigplane/protocol';
import { Harness, SUB, T0, briefs, report, signal } from './fixtures';

function reportOn(h: Harness, connId: number, sequence: number, receiverId = 'r1', fields: Parameters<typeof report>[2] = {}): string[] {
  return briefs(h.send({ kind: 'executionReport', connId, report: report(sequence, receiverId, fields) }));
}

const refused = (sequence: number, connId: number): string[] => [`reject ${sequence} REPORT_NOT_DELIVERED @${connId}`];

group('execution reports', () => {
  it('takes a report of a sequence delivered to a subscribed connection: journal first, then the ack', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 2 });
    expect(reportOn(h, 20, 3)).toEqual(['persistReport 3 11', 'reportAck 3 11 @20']);
    expect(reportOn(h, 20, 5)).toEqual(['persistReport 5 11', 'reportAck 5 11 @20']);
    // Already executed when it subscribed (the receiver's own claim, at most n): reportable too.
    expect(reportOn(h, 20, 1)).toEqual(['persistReport 1 11', 'reportAck 1 11 @20']);
  });

  it('refuses a sequence never delivered REPORT_NOT_DELIVERED, with its sequence, and changes nothing', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 5 });
    const before = describe(h.actor);
    const effects = h.send({ kind: 'executionReport', connId: 20, report: report(6, 'r1') });
    expect(effects).toEqual([
      { kind: 'reject', connId: 20, sequence: 6, code: RejectCode.REPORT_NOT_DELIVERED, message: 'execution report: sequence 6 was not delivered to this receiver' },
    ]);
    expect(describe(h.actor)).toEqual(before);
  });

  it('lets a subscribed connection report each signal accepted after it subscribed, as it is delivered live', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 2 });
    expect(reportOn(h, 20, 3)).toEqual(refused(3, 20));
    h.signal(signal(3));
    expect(reportOn(h, 20, 3)).toEqual(['persistReport 3 11', 'reportAck 3 11 @20']);
  });

  it('bounds a receiver that claims more than n when it subscribes by n (it was sent a snapshot at n)', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    expect(briefs(h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 9 }))).toContain('sendSnapshot @20 3');
    expect(reportOn(h, 20, 3)).toEqual(['persistReport 3 11', 'reportAck 3 11 @20']);
    expect(reportOn(h, 20, 4)).toEqual(refused(4, 20));
  });

  it('takes reports up to a master snapshot\'s sequence from a subscribed connection', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 2 });
    h.send({ kind: 'masterSnapshot', connId: 1, snapshot: { subscriptionId: SUB, sequence: 10, generatedAtMs: T0, positions: [] } });
    expect(reportOn(h, 20, 10)).toEqual(['persistReport 10 11', 'reportAck 10 11 @20']);
    expect(reportOn(h, 20, 11)).toEqual(refused(11, 20));
  });

  it('never takes a held signal\'s sequence (not delivered while the gap is open), in any state', () => {
    const h = new Harness();
    h.acceptRange(1, 2);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    h.signal(signal(5));
    expect(describe(h.actor).state).toBe(SubscriptionState.DEGRADED);
    expect(reportOn(h, 20, 5)).toEqual(refused(5, 20));
    expect(reportOn(h, 20, 2)).toEqual(['persistReport 2 11', 'reportAck 2 11 @20']);
    h.send({ kind: 'isolate', reason: 'x' });
    expect(reportOn(h, 20, 2)).toEqual(['persistReport 2 11', 'reportAck 2 11 @20']);
  });

  it('bounds a connection that is not subscribed by its receiver\'s cursor', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 3 });
    expect(reportOn(h, 30, 3, 'r1')).toEqual(['persistReport 3 11', 'reportAck 3 11 @30']);
    expect(reportOn(h, 30, 4, 'r1')).toEqual(refused(4, 30));
    expect(reportOn(h, 30, 1, 'r2')).toEqual(refused(1, 30));
  });

  it('forgets what a connection was sent when it detaches: its cursor is left', () => {
    const h = new Harness();
    h.acceptRange(1, 5);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    h.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 2 });
    expect(reportOn(h, 20, 5)).toEqual(['persistReport 5 11', 'reportAck 5 11 @20']);
    h.send({ kind: 'receiverDetach', connId: 20 });
    expect(reportOn(h, 20, 3)).toEqual(refused(3, 20));
    expect(reportOn(h, 20, 2)).toEqual(['persistReport 2 11', 'reportAck 2 11 @20']);
  });

  it('refuses a report that names another subscription, even of a sequence delivered', () => {
    const h = new Harness();
    h.acceptRange(1, 3);
    h.send({ kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    expect(reportOn(h, 20, 1, 'r1', { subscriptionId: 'a6f1b0d2-0000-4000-8000-000000000009' })).toEqual(refused(1, 20));
  });

  it('answers the same refusal where no actor exists (reportNotDelivered)', () => {
    expect(reportNotDelivered(7, 4)).toEqual({
      kind: 'reject', connId: 7, sequence: 4, code: RejectCode.REPORT_NOT_DELIVERED, message: 'execution report: sequence 4 was not delivered to this receiver',
    });
  });
});
