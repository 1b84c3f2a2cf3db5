/**
 * The status board's count of accepted signals per subscription is
 * bounded (operations.statusTrackedSubscriptionsMax, proto/limits.ts): past
 * it the subscription counted first is forgotten, however busy it was.
 */
import { describe, expect, it } from 'vitest';
import { operations } from '@sigplane/protocol';
import { Metrics } from '../io/metrics';
import { StatusBoard } from '../io/status/status-board';

/** A board that counted 3 signals of `sub-first`, 2 of `sub-second`, then one each of others up to `subscriptions` in all. */
function boardAfter(subscriptions: number): StatusBoard {
  const board = new StatusBoard({ metrics: new Metrics(), connections: () => [], states: () => [], rateLimitSource: () => 'local', tls: false, nowMs: () => 0 });
  for (let i = 0; i < 3; i++) board.onAccepted('sub-first');
  for (let i = 0; i < 2; i++) board.onAccepted('sub-second');
  for (let i = 2; i < subscriptions; i++) board.onAccepted(`sub-${i}`);
  return board;
}

describe('status board', () => {
  it('counts at most statusTrackedSubscriptionsMax subscriptions; one more forgets the first, the busiest', () => {
    const tracked = operations.statusTrackedSubscriptionsMax;
    expect(Number.isSafeInteger(tracked) && tracked > operations.statusSubscriptionsMax).toBe(true);

    const full = boardAfter(tracked).snapshot();
    expect(full.totals.subscriptions).toBe(tracked);
    expect(full.subscriptions.slice(0, 2).map((s) => [s.subscriptionId, s.signalsAccepted])).toEqual([['sub-first', 3], ['sub-second', 2]]);

    const past = boardAfter(tracked + 1).snapshot();
    expect(past.totals.subscriptions).toBe(tracked);
    expect(past.subscriptions[0]).toMatchObject({ subscriptionId: 'sub-second', signalsAccepted: 2 });
    expect(past.subscriptions.map((s) => s.subscriptionId)).not.toContain('sub-first');
  });
});
