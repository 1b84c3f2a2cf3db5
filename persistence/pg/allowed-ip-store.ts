/**
 * A subscription's allowlist (allowed_ips): the addresses and CIDR blocks
 * its masters and receivers may connect from, each with an optional expiry.
 * A change that can shut an address out is announced on the control channel
 * (ALLOWLIST) once it commits, so running servers re-check their sessions.
 * Expiring an entry early is admin-store.ts's.
 */
import { auditChange, auditedChange, type AuditContext } from './audit-append';
import { ConfigError } from './config-errors';
import { notifyControl } from './control-channel';
import { parseIpOrCidr } from './ip-address';
import { withTransaction } from './pool';
import { assertUuid, invalid, ts } from './store-checks';
import type { StoreContext } from './store-context';

export interface AllowedIp {
  ipId: string;
  ipAddress: string;
  expiresAt: Date | null;
}

/** Allow an IP address or CIDR block; adding an existing entry updates its expiry. Returns the entry's id. */
export async function addAllowedIp(
  ctx: StoreContext,
  subscriptionId: string,
  ipOrCidr: string,
  opts: { expiresAt?: Date | null; audit?: AuditContext },
): Promise<string> {
  assertUuid(subscriptionId, 'subscriptionId');
  const ip = parseIpOrCidr(ipOrCidr);
  const expiresAtMs = opts.expiresAt == null ? null : opts.expiresAt.getTime();
  if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) invalid('expiresAt is not a valid date');
  const nowMs = ctx.nowMs();
  try {
    return await withTransaction(ctx.pool, async (client) => {
      const { rows } = await client.query<{ ip_id: string }>(
        `INSERT INTO allowed_ips (subscription_id, ip_address, created_at, expires_at)
         SELECT s.subscription_id, $2::cidr::inet, ${ts(3)}, ${ts(4)}
           FROM subscriptions s WHERE s.subscription_id = $1
         ON CONFLICT (subscription_id, ip_address) DO UPDATE SET expires_at = EXCLUDED.expires_at
         RETURNING ip_id`,
        [subscriptionId, ip, nowMs, expiresAtMs],
      );
      if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
      const details = { ip, expiresAt: expiresAtMs === null ? null : new Date(expiresAtMs).toISOString() };
      await auditChange(client, opts.audit, auditedChange('CONFIG', 'ALLOW_IP', 'subscription', subscriptionId, details), nowMs);
      // An existing entry's expiry may have moved earlier: running servers re-check their sessions (on commit).
      if (expiresAtMs !== null) await notifyControl(client, { kind: 'ALLOWLIST', subscriptionId });
      return rows[0].ip_id;
    });
  } catch (err) {
    // 22P02: invalid text representation, e.g. "10.0.0.5/24" (host bits set) as cidr.
    if ((err as { code?: string }).code === '22P02') invalid(`not a CIDR block (host bits set?): ${ipOrCidr}`);
    throw err;
  }
}

/** True if an entry was removed. */
export async function removeAllowedIp(ctx: StoreContext, subscriptionId: string, ipOrCidr: string, opts: { audit?: AuditContext }): Promise<boolean> {
  assertUuid(subscriptionId, 'subscriptionId');
  const ip = parseIpOrCidr(ipOrCidr);
  try {
    return await withTransaction(ctx.pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM allowed_ips WHERE subscription_id = $1 AND ip_address = $2::cidr::inet', [
        subscriptionId,
        ip,
      ]);
      const removed = (rowCount ?? 0) > 0;
      if (!removed) return false;
      await auditChange(client, opts.audit, auditedChange('CONFIG', 'REMOVE_IP', 'subscription', subscriptionId, { ip }), ctx.nowMs());
      // Running servers close the sessions this entry admitted (and no other entry admits), once this commits.
      await notifyControl(client, { kind: 'ALLOWLIST', subscriptionId });
      return true;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '22P02') return false;
    throw err;
  }
}

export async function listAllowedIps(ctx: StoreContext, subscriptionId: string): Promise<AllowedIp[]> {
  assertUuid(subscriptionId, 'subscriptionId');
  const { rows } = await ctx.pool.query<{ ip_id: string; ip_address: string; expires_at: Date | null }>(
    'SELECT ip_id, ip_address::text AS ip_address, expires_at FROM allowed_ips WHERE subscription_id = $1 ORDER BY ip_address',
    [subscriptionId],
  );
  return rows.map((r) => ({ ipId: r.ip_id, ipAddress: r.ip_address, expiresAt: r.expires_at }));
}
