/**
 * The tenant of a transaction, for row-level security (migration 006).
 *
 * `withTenant(pool, tenant, fn)` runs `fn` inside BEGIN … COMMIT on one
 * pooled connection after setting, for THIS TRANSACTION only,
 *   app.current_user_id = tenant.userId
 *   app.user_role       = tenant.role
 * with set_config(name, value, true) (SET LOCAL). At COMMIT or ROLLBACK
 * both go back to empty, which the policies read as "no tenant": a pooled
 * connection never carries one caller's tenant into the next caller's
 * queries, even if `fn` forgets something or throws.
 *
 * Values travel as parameters (set_config takes them as text): no tenant
 * id is ever spliced into SQL text.
 *
 * RLS binds only roles without BYPASSRLS that are not superusers: the
 * application connects as a member of sigplane_app (migration 007).
 */
import type { Pool, PoolClient } from 'pg';
import { SigplaneError } from '@sigplane/protocol';
import { withTransaction } from './pool';

export type TenantRole = 'admin' | 'provider' | 'subscriber';

export interface Tenant {
  /** users.user_id of the caller. */
  userId: string;
  role: TenantRole;
}

export type TenantErrorCode = 'INVALID_TENANT';

export class TenantError extends SigplaneError<TenantErrorCode> {
  constructor(message: string) {
    super('INVALID_TENANT', message);
    this.name = 'TenantError';
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const tenantRoles: readonly string[] = ['admin', 'provider', 'subscriber'];

/** The setting names the policies read (migration 006). */
const tenantSettings = { userId: 'app.current_user_id', role: 'app.user_role' } as const;

function checkTenant(tenant: Tenant): void {
  if (typeof tenant !== 'object' || tenant === null) throw new TenantError('tenant must be an object');
  if (typeof tenant.userId !== 'string' || !uuidPattern.test(tenant.userId)) throw new TenantError('tenant.userId must be a UUID');
  if (!tenantRoles.includes(tenant.role)) throw new TenantError(`tenant.role must be one of ${tenantRoles.join(', ')}`);
}

/**
 * Run `fn` in a transaction whose tenant is `tenant`; the result of `fn`
 * is returned after COMMIT. Bad tenant: TenantError (INVALID_TENANT) before
 * any connection is taken.
 */
export async function withTenant<T>(pool: Pool, tenant: Tenant, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  checkTenant(tenant);
  return withTransaction(pool, async (client) => {
    await client.query('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
      tenantSettings.userId,
      tenant.userId.toLowerCase(),
      tenantSettings.role,
      tenant.role,
    ]);
    return fn(client);
  });
}
