/**
 * GDPR for the admin API and `sigplane user`: find a user by email, export
 * everything held about them as JSON, erase them (personal data replaced,
 * references kept, so subscriptions, the audit log and the ledger stay
 * consistent).
 */
import type { Pool } from 'pg';
import { admin } from '@sigplane/protocol';
import { appendChangeAudit, auditedChange, type AuditContext } from './audit-append';
import { ConfigError } from './config-errors';
import { withTransaction } from './pool';
import { assertReason, assertUuid, normaliseEmail, ts } from './store-checks';
import { withTenant, type TenantRole } from './tenant';

export interface ErasedUser {
  userId: string;
  erasedAt: Date;
  auditRowsAnonymised: number;
  adminCredentialsRevoked: number;
  auditLogId: string;
}

export async function findUserByEmail(pool: Pool, email: string): Promise<{ userId: string; role: string; createdAt: Date } | null> {
  const normalised = normaliseEmail(email);
  const { rows } = await pool.query<{ user_id: string; role: string; created_at: Date }>(
    'SELECT user_id, role, created_at FROM users WHERE email = $1',
    [normalised],
  );
  return rows[0] === undefined ? null : { userId: rows[0].user_id, role: rows[0].role, createdAt: rows[0].created_at };
}

/**
 * Everything held about a user, as JSON: the user row, the subscriptions
 * they own (with their tokens' metadata and allowlists, never secrets or
 * hashes), their admin credentials, and the audit rows by or about them.
 * Each list holds at most exportRowsMax rows; `truncated` names any that
 * were cut. Their billing ledger entries are read as the user themself
 * (withTenant: row-level security scopes the ledger to their rows).
 */
export async function exportUser(pool: Pool, nowMs: number, userId: string): Promise<Record<string, unknown>> {
  assertUuid(userId, 'userId');
  const max = admin.exportRowsMax;
  const user = await pool.query<{ role: TenantRole }>(
    'SELECT user_id, email, display_name, role, created_at, erased_at FROM users WHERE user_id = $1',
    [userId],
  );
  if (user.rows.length === 0) throw new ConfigError('UNKNOWN_USER', `no user ${userId}`);
  return withTenant(pool, { userId, role: user.rows[0].role }, async (client) => {
    const subscriptions = await client.query(
      `SELECT subscription_id, name, state, settings, created_at FROM subscriptions
        WHERE owner_user_id = $1 ORDER BY created_at, subscription_id LIMIT $2`,
      [userId, max + 1],
    );
    const ids = subscriptions.rows.slice(0, max).map((r: { subscription_id: string }) => r.subscription_id);
    const tokens = await client.query(
      `SELECT token_id, subscription_id, role, token_prefix, label, created_at, expires_at, revoked_at, last_used_at
         FROM license_tokens WHERE subscription_id = ANY($1::uuid[]) ORDER BY created_at, token_id LIMIT $2`,
      [ids, max + 1],
    );
    const ips = await client.query(
      `SELECT ip_id, subscription_id, ip_address::text AS ip_address, created_at, expires_at
         FROM allowed_ips WHERE subscription_id = ANY($1::uuid[]) ORDER BY created_at, ip_id LIMIT $2`,
      [ids, max + 1],
    );
    const credentials = await client.query(
      `SELECT credential_id, admin_role, token_prefix, created_at, expires_at, revoked_at, last_used_at
         FROM admin_credentials WHERE user_id = $1 ORDER BY created_at, credential_id LIMIT $2`,
      [userId, max + 1],
    );
    const audit = await client.query(
      `SELECT log_id, event_time, user_id, event_type, resource_type, resource_id, action, host(ip_address) AS ip_address,
              user_agent, request_payload, response_status, error_message, metadata
         FROM audit_log WHERE user_id = $1 OR resource_id = $1
        ORDER BY event_time DESC, log_id DESC LIMIT $2`,
      [userId, max + 1],
    );
    const billing = await client.query(
      `SELECT entry_id, subscription_id, entry_type, amount_minor, currency, description, created_at
         FROM billing_ledger WHERE user_id = $1 ORDER BY created_at DESC, entry_id DESC LIMIT $2`,
      [userId, max + 1],
    );
    // Performance fees (031): the licenses this user pays for, and each month computed for them (read as the user: RLS).
    const paidLicenses = await client.query(
      `SELECT token_id, assigned_at FROM receiver_subscribers WHERE user_id = $1 ORDER BY token_id LIMIT $2`,
      [userId, max + 1],
    );
    const feePeriods = await client.query(
      `SELECT token_id, period, subscription_id, currency, rate_bp, result_count, cumulative_minor, previous_mark_minor, mark_minor, fee_minor, ledger_entry_id, computed_at
         FROM performance_fee_periods WHERE user_id = $1 ORDER BY period DESC, token_id LIMIT $2`,
      [userId, max + 1],
    );
    const parts = {
      subscriptions,
      licenseTokens: tokens,
      allowedIps: ips,
      adminCredentials: credentials,
      auditLog: audit,
      billingLedger: billing,
      paidLicenses,
      performanceFeePeriods: feePeriods,
    };
    const truncated = Object.entries(parts)
      .filter(([, result]) => result.rows.length > max)
      .map(([name]) => name);
    const out: Record<string, unknown> = { exportedAt: new Date(nowMs), user: user.rows[0] };
    for (const [name, result] of Object.entries(parts)) out[name] = result.rows.slice(0, max);
    out.truncated = truncated;
    return out;
  });
}

/**
 * GDPR erasure. The users row stays (audit rows, subscriptions and the
 * ledger keep pointing at it, so they stay consistent) but its personal
 * data goes: the email becomes erased-<id>@erased.invalid, the display
 * name is removed, and the IP address, user agent and request body of
 * every audit row the user made are cleared. Their admin credentials are
 * revoked. Audited (GDPR / ERASE, the reason in metadata, no personal data).
 * ALREADY_ERASED on a second call.
 */
export async function eraseUser(
  pool: Pool,
  nowMs: number,
  userId: string,
  opts: { reason: string; audit?: AuditContext },
): Promise<ErasedUser> {
  assertUuid(userId, 'userId');
  const reason = assertReason(opts.reason);
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ erased_at: Date | null }>('SELECT erased_at FROM users WHERE user_id = $1 FOR UPDATE', [
      userId,
    ]);
    if (rows.length === 0) throw new ConfigError('UNKNOWN_USER', `no user ${userId}`);
    if (rows[0].erased_at !== null) throw new ConfigError('ALREADY_ERASED', `user ${userId} was erased already`);
    await client.query(
      `UPDATE users SET email = 'erased-' || user_id::text || '@erased.invalid', display_name = NULL, erased_at = ${ts(2)}
        WHERE user_id = $1`,
      [userId, nowMs],
    );
    const audit = await client.query(
      `UPDATE audit_log SET ip_address = NULL, user_agent = NULL, request_payload = NULL
        WHERE user_id = $1 AND (ip_address IS NOT NULL OR user_agent IS NOT NULL OR request_payload IS NOT NULL)`,
      [userId],
    );
    const credentials = await client.query(
      `UPDATE admin_credentials SET revoked_at = ${ts(2)} WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId, nowMs],
    );
    const auditRowsAnonymised = audit.rowCount ?? 0;
    const adminCredentialsRevoked = credentials.rowCount ?? 0;
    const details = { reason, auditRowsAnonymised, adminCredentialsRevoked };
    const auditLogId = await appendChangeAudit(client, opts.audit, auditedChange('GDPR', 'ERASE', 'user', userId, details), nowMs);
    return { userId, erasedAt: new Date(nowMs), auditRowsAnonymised, adminCredentialsRevoked, auditLogId };
  });
}
