/**
 * Incident response: cutting a subscription off and letting it back in.
 * Each change is audited (INCIDENT / ISOLATE or LIFT, the reason in
 * metadata) and announced on the control channel in its transaction, so
 * running servers act once it commits.
 */
import { SubscriptionState } from '@sigplane/protocol';
import { appendChangeAudit, auditedChange, type AuditContext } from './audit-append';
import { notifyControl } from './control-channel';
import { withTransaction } from './pool';
import { assertNulFreeReason, assertUuid } from './store-checks';
import type { StoreContext } from './store-context';
import { lockSubscription } from './subscription-store';

export interface IsolationChange {
  subscriptionId: string;
  previousState: SubscriptionState;
  state: SubscriptionState;
  /** The audit_log row written. */
  auditLogId: string;
}

export type IsolationAction = 'ISOLATE' | 'LIFT';

/**
 * ISOLATE: subscriptions.state becomes ISOLATED (upgrades are refused
 * SUBSCRIPTION_ISOLATED from now on), and running servers isolate its actor
 * and close every connection at once. Isolating again is audited and
 * re-announced (servers close any straggler).
 * LIFT: ACTIVE again (only if ISOLATED), audited, announced.
 */
export async function changeIsolation(
  ctx: StoreContext,
  subscriptionId: string,
  action: IsolationAction,
  opts: { reason: string; audit?: AuditContext },
): Promise<IsolationChange> {
  assertUuid(subscriptionId, 'subscriptionId');
  const reason = assertNulFreeReason(opts.reason);
  const nowMs = ctx.nowMs();
  return withTransaction(ctx.pool, async (client) => {
    const previousState = await lockSubscription(client, subscriptionId);
    let state = previousState;
    if (action === 'ISOLATE') state = SubscriptionState.ISOLATED;
    else if (previousState === SubscriptionState.ISOLATED) state = SubscriptionState.ACTIVE;
    if (state !== previousState) {
      await client.query('UPDATE subscriptions SET state = $2 WHERE subscription_id = $1', [subscriptionId, state]);
    }
    const change = auditedChange('INCIDENT', action, 'subscription', subscriptionId, { reason, previousState, state });
    const auditLogId = await appendChangeAudit(client, opts.audit, change, nowMs);
    await notifyControl(client, { kind: action, subscriptionId });
    return { subscriptionId, previousState, state, auditLogId };
  });
}
