/**
 * Authentication of an upgrade: a license token (by hash, from parseToken),
 * the caller's IP address and role, checked in one round trip, the token
 * marked used on success. With no allowed_ips entry, every IP is refused.
 */
import { credentials, type SubscriptionSettings, type SubscriptionState } from '@sigplane/protocol';
import { normaliseIp } from './ip-address';
import { invalid, ts } from './store-checks';
import type { StoreContext } from './store-context';
import { mergeSettings } from './subscription-settings';
import { tokenHashPattern, type TokenRole } from './tokens';

export type AuthFailureReason =
  | 'UNKNOWN_TOKEN'
  | 'EXPIRED'
  | 'REVOKED'
  | 'WRONG_ROLE'
  | 'IP_NOT_ALLOWED'
  | 'SUBSCRIPTION_ISOLATED';

export type AuthResult =
  | {
      ok: true;
      subscriptionId: string;
      tokenId: string;
      settings: SubscriptionSettings;
      subscriptionState: SubscriptionState;
    }
  | { ok: false; reason: AuthFailureReason };

/**
 * Reasons are checked in this order: REVOKED, EXPIRED, WRONG_ROLE,
 * IP_NOT_ALLOWED, SUBSCRIPTION_ISOLATED (the state of a subscription is not
 * told to an IP that is not allowed). `nowMs` defaults to the store's clock.
 */
export async function authenticate(ctx: StoreContext, tokenHash: string, remoteIp: string, role: TokenRole, nowMs?: number): Promise<AuthResult> {
  if (typeof tokenHash !== 'string' || !tokenHashPattern.test(tokenHash)) return { ok: false, reason: 'UNKNOWN_TOKEN' };
  if (role !== 'master' && role !== 'receiver') invalid('role must be master or receiver');
  const ip = normaliseIp(remoteIp);
  const now = nowMs ?? ctx.nowMs();
  const { rows } = await ctx.pool.query<{
    token_id: string;
    subscription_id: string;
    state: SubscriptionState;
    settings: unknown;
    outcome: AuthFailureReason | 'OK';
  }>(
    `WITH now_ AS (SELECT ${ts(4)} AS ts),
     t AS (
       SELECT lt.token_id, lt.subscription_id, lt.role, lt.expires_at, lt.revoked_at, s.state, s.settings
         FROM license_tokens lt JOIN subscriptions s ON s.subscription_id = lt.subscription_id
        WHERE lt.token_hash = $1
     ),
     v AS (
       SELECT t.token_id, t.subscription_id, t.state, t.settings,
              CASE
                WHEN t.revoked_at IS NOT NULL AND t.revoked_at <= n.ts THEN 'REVOKED'
                WHEN t.expires_at IS NOT NULL AND t.expires_at <= n.ts THEN 'EXPIRED'
                WHEN t.role <> $3 THEN 'WRONG_ROLE'
                WHEN $2::inet IS NULL OR NOT EXISTS (
                  SELECT 1 FROM allowed_ips a
                   WHERE a.subscription_id = t.subscription_id
                     AND a.ip_address >>= $2::inet
                     AND (a.expires_at IS NULL OR a.expires_at > n.ts)) THEN 'IP_NOT_ALLOWED'
                WHEN t.state = 'ISOLATED' THEN 'SUBSCRIPTION_ISOLATED'
                ELSE 'OK'
              END AS outcome
         FROM t, now_ n
     ),
     touched AS (
       UPDATE license_tokens lt SET last_used_at = n.ts
         FROM v, now_ n
        WHERE lt.token_id = v.token_id AND v.outcome = 'OK'
          AND (lt.last_used_at IS NULL OR lt.last_used_at < n.ts - make_interval(secs => $5))
       RETURNING lt.token_id
     )
     SELECT token_id, subscription_id, state, settings, outcome FROM v`,
    [tokenHash, ip, role, now, credentials.tokenLastUsedResolutionSeconds],
  );
  if (rows.length === 0) return { ok: false, reason: 'UNKNOWN_TOKEN' };
  const r = rows[0];
  if (r.outcome !== 'OK') return { ok: false, reason: r.outcome };
  return {
    ok: true,
    subscriptionId: r.subscription_id,
    tokenId: r.token_id,
    settings: mergeSettings(r.settings),
    subscriptionState: r.state,
  };
}
