/**
 * Billing ledger reads under row-level security (migration 006): each read
 * runs in withTenant (persistence/pg/tenant.ts), so the ledger's policies
 * decide which rows exist for the caller; the filters only narrow that.
 */
import type { Pool } from 'pg';
import { ConfigError } from './config-errors';
import { assertUuid, decodeCursor, encodeCursor, invalid, isBadTimestamp, pageSize, type Page } from './store-checks';
import { withTenant, type TenantRole } from './tenant';

export interface BillingFilter {
  userId?: string;
  subscriptionId?: string;
  limit?: number;
  cursor?: string;
}

export interface BillingRow {
  entryId: string;
  userId: string;
  subscriptionId: string | null;
  entryType: string;
  /** Minor units (cents), as a decimal string: exact beyond 2^53. */
  amountMinor: string;
  currency: string;
  description: string | null;
  createdAt: Date;
  createdBy: string | null;
}

/**
 * Ledger entries, newest first, one page, read under row-level security
 * as `tenant`: an admin tenant sees every entry (the filters narrow it),
 * a provider or subscriber only their own.
 */
export async function readBilling(pool: Pool, tenant: { userId: string; role: TenantRole }, filter: BillingFilter): Promise<Page<BillingRow>> {
  const limit = pageSize(filter.limit);
  if (filter.userId !== undefined) assertUuid(filter.userId, 'userId');
  if (filter.subscriptionId !== undefined) assertUuid(filter.subscriptionId, 'subscriptionId');
  const before = filter.cursor === undefined ? null : decodeCursor(filter.cursor);
  try {
    return await withTenant(pool, tenant, async (client) => {
      const { rows } = await client.query<{
        entry_id: string;
        user_id: string;
        subscription_id: string | null;
        entry_type: string;
        amount_minor: string;
        currency: string;
        description: string | null;
        created_at: Date;
        created_text: string;
        created_by: string | null;
      }>(
        `SELECT entry_id, user_id, subscription_id, entry_type, amount_minor::text AS amount_minor, currency, description,
                created_at, created_at::text AS created_text, created_by
           FROM billing_ledger
          WHERE ($1::uuid IS NULL OR user_id = $1)
            AND ($2::uuid IS NULL OR subscription_id = $2)
            AND ($3::timestamptz IS NULL OR (created_at, entry_id) < ($3::timestamptz, $4::uuid))
          ORDER BY created_at DESC, entry_id DESC
          LIMIT $5`,
        [filter.userId ?? null, filter.subscriptionId ?? null, before?.time ?? null, before?.id ?? null, limit + 1],
      );
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({
          entryId: r.entry_id,
          userId: r.user_id,
          subscriptionId: r.subscription_id,
          entryType: r.entry_type,
          amountMinor: r.amount_minor,
          currency: r.currency,
          description: r.description,
          createdAt: r.created_at,
          createdBy: r.created_by,
        })),
        nextCursor: more && last !== undefined ? encodeCursor(last.created_text, last.entry_id) : null,
      };
    });
  } catch (error) {
    if (isBadTimestamp(error)) invalid('bad cursor');
    throw error;
  }
}

/** A user's role (the tenant role to read their ledger as), or UNKNOWN_USER. */
export async function userRole(pool: Pool, userId: string): Promise<TenantRole> {
  assertUuid(userId, 'userId');
  const { rows } = await pool.query<{ role: TenantRole }>('SELECT role FROM users WHERE user_id = $1', [userId]);
  if (rows.length === 0) throw new ConfigError('UNKNOWN_USER', `no user ${userId}`);
  return rows[0].role;
}
