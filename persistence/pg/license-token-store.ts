/**
 * License tokens in Postgres: issued (shown once, kept as the SHA-256 of
 * their random bytes, tokens.ts) and revoked. A revocation is audited and
 * announced on the control channel in its own transaction, so running
 * servers close the token's live sessions once it commits. Authentication
 * is token-authentication.ts's.
 */
import type { Pool, PoolClient } from 'pg';
import { credentials } from '@sigplane/protocol';
import { appendChangeAudit, auditChange, auditedChange, type AuditContext } from './audit-append';
import { ConfigError } from './config-errors';
import { notifyControl } from './control-channel';
import { withTransaction } from './pool';
import { assertNulFreeReason, assertText, assertUuid, invalid, ts } from './store-checks';
import type { StoreContext } from './store-context';
import { generateToken, type TokenRole } from './tokens';

const dayMs = 24 * 3600 * 1000;

export interface IssuedToken {
  /** Shown once. */
  token: string;
  tokenId: string;
  expiresAt: Date;
}

export interface RevocationResult {
  /** False: the token was already revoked (nothing changed, nothing audited). */
  revoked: boolean;
  tokenId: string;
  subscriptionId: string;
  role: TokenRole;
}

/**
 * A new token of `role` for a subscription, audited (CREDENTIAL / ISSUE)
 * when `audit` names who acts; UNKNOWN_SUBSCRIPTION when there is none.
 */
export async function issueToken(
  ctx: StoreContext,
  subscriptionId: string,
  role: TokenRole,
  opts: { label: string | null; ttlDays: number; audit: AuditContext | undefined },
): Promise<IssuedToken> {
  assertUuid(subscriptionId, 'subscriptionId');
  assertText(opts.label, 'label', credentials.tokenLabelCharsMax);
  const nowMs = ctx.nowMs();
  return withTransaction(ctx.pool, async (client) => {
    const issued = await insertToken(client, subscriptionId, role, opts.label, opts.ttlDays, nowMs);
    if (issued === null) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
    const details = { subscriptionId, role, label: opts.label, expiresAt: issued.expiresAt.toISOString() };
    await auditChange(client, opts.audit, auditedChange('CREDENTIAL', 'ISSUE', 'license_token', issued.tokenId, details), nowMs);
    return issued;
  });
}

/** The token row, in the caller's transaction; null when the subscription does not exist. */
export async function insertToken(
  q: Pool | PoolClient,
  subscriptionId: string,
  role: TokenRole,
  label: string | null,
  ttlDays: number,
  nowMs: number,
): Promise<IssuedToken | null> {
  if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > credentials.tokenTtlDaysMax) {
    invalid(`ttlDays must be an integer in 1..${credentials.tokenTtlDaysMax}`);
  }
  const generated = generateToken(role);
  // INSERT … SELECT: no row when the subscription does not exist.
  const { rows } = await q.query<{ token_id: string; expires_at: Date }>(
    `INSERT INTO license_tokens (subscription_id, role, token_hash, token_prefix, label, created_at, expires_at)
     SELECT s.subscription_id, $2, $3, $4, $5, ${ts(6)}, ${ts(7)}
       FROM subscriptions s WHERE s.subscription_id = $1
     RETURNING token_id, expires_at`,
    [subscriptionId, role, generated.tokenHash, generated.tokenPrefix, label, nowMs, nowMs + ttlDays * dayMs],
  );
  if (rows.length === 0) return null;
  return { token: generated.token, tokenId: rows[0].token_id, expiresAt: rows[0].expires_at };
}

/**
 * Revoke a token at once: `revoked` true if it was active and is now
 * revoked, false if it already was; UNKNOWN_TOKEN when there is no such
 * token. In the same transaction the revocation is audited (CREDENTIAL /
 * REVOKE) and announced on the control channel, so running servers close
 * the token's live sessions.
 */
export async function revokeToken(ctx: StoreContext, tokenId: string, opts: { reason?: string; audit?: AuditContext }): Promise<RevocationResult> {
  assertUuid(tokenId, 'tokenId');
  const reason = opts.reason === undefined ? null : assertNulFreeReason(opts.reason);
  const nowMs = ctx.nowMs();
  return withTransaction(ctx.pool, async (client) => {
    const { rows } = await client.query<{ token_id: string; subscription_id: string; role: TokenRole; revoked_at: Date | null }>(
      'SELECT token_id, subscription_id, role, revoked_at FROM license_tokens WHERE token_id = $1 FOR UPDATE',
      [tokenId],
    );
    if (rows.length === 0) throw new ConfigError('UNKNOWN_TOKEN', `no token ${tokenId}`);
    const token = rows[0];
    const result = { tokenId: token.token_id, subscriptionId: token.subscription_id, role: token.role };
    if (token.revoked_at !== null && token.revoked_at.getTime() <= nowMs) return { revoked: false, ...result };
    await client.query(`UPDATE license_tokens SET revoked_at = ${ts(2)} WHERE token_id = $1`, [token.token_id, nowMs]);
    const details = { subscriptionId: token.subscription_id, role: token.role, reason };
    await appendChangeAudit(client, opts.audit, auditedChange('CREDENTIAL', 'REVOKE', 'license_token', token.token_id, details), nowMs);
    await notifyControl(client, { kind: 'REVOKE', tokenId: token.token_id, subscriptionId: token.subscription_id });
    return { revoked: true, ...result };
  });
}
