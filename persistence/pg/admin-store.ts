/**
 * What the admin API and its CLI add to the configuration store: admin
 * credentials, subscription reads (keyset pages), settings changes and
 * allowlist expiry here; audit queries, billing reads and GDPR in their own
 * files (audit-query.ts, billing-read.ts, gdpr-store.ts), reached through
 * this class. The operations that act on running servers (isolate, lift,
 * revoke, rotate) are ConfigStore's (config-store.ts and the files it names).
 *
 * Same rules as the configuration stores (config-store.ts): constant SQL
 * text, values as parameters, the clock injected, secrets returned once and
 * stored as hashes.
 */
import type { Pool, PoolClient } from 'pg';
import { admin } from '@sigplane/protocol';
import { adminTokenHash, generateAdminToken, sameHash } from './admin-tokens';
import { auditedChange, auditedChangeEntry, type AuditContext } from './audit-append';
import { queryAudit, type AuditFilter, type AuditRow } from './audit-query';
import { readBilling, userRole, type BillingFilter, type BillingRow } from './billing-read';
import { eraseUser, exportUser, findUserByEmail, type ErasedUser } from './gdpr-store';
import { ConfigError } from './config-errors';
import type { ConfigStore } from './config-store';
import { notifyControl } from './control-channel';
import { parseIpOrCidr } from './ip-address';
import { withTransaction } from './pool';
import { assertUuid, decodeCursor, encodeCursor, invalid, isBadTimestamp, normaliseEmail, pageSize, ts, type Page } from './store-checks';
import { mergeSettings, validateSettingsOverrides } from './subscription-settings';
import type { TenantRole } from './tenant';

const dayMs = 24 * 3600 * 1000;

export type { AuditFilter, AuditRow, BillingFilter, BillingRow, ErasedUser, Page };

export const AdminRole = { ADMIN: 'admin', OPERATOR: 'operator', AUDITOR: 'auditor' } as const;
export type AdminRole = (typeof AdminRole)[keyof typeof AdminRole];

/** Each role may do what the roles below it may do. */
export const adminRoleRank: Readonly<Record<AdminRole, number>> = { auditor: 1, operator: 2, admin: 3 };

export function isAdminRole(value: unknown): value is AdminRole {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(adminRoleRank, value);
}

/** Who an admin request comes from. */
export interface AdminPrincipal {
  userId: string;
  email: string;
  role: AdminRole;
  credentialId: string;
}

export interface CreatedAdminUser {
  userId: string;
  email: string;
  role: AdminRole;
  credentialId: string;
  /** Shown once. */
  token: string;
  expiresAt: Date;
}

export interface AdminCredentialRow {
  credentialId: string;
  userId: string;
  email: string;
  role: AdminRole;
  tokenPrefix: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface SubscriptionSummary {
  subscriptionId: string;
  name: string;
  state: string;
  ownerUserId: string | null;
  createdAt: Date;
}

export interface TokenRow {
  tokenId: string;
  role: string;
  tokenPrefix: string;
  label: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}


export interface AdminStoreOptions {
  nowMs?: () => number;
}

export class AdminStore {
  readonly #pool: Pool;
  readonly #config: ConfigStore;
  readonly #nowMs: () => number;

  constructor(pool: Pool, config: ConfigStore, opts: AdminStoreOptions = {}) {
    this.#pool = pool;
    this.#config = config;
    this.#nowMs = opts.nowMs ?? Date.now;
  }

  /** The sigplane_app pool this store reads and writes with (the admin routes of other stores use it too). */
  get pool(): Pool {
    return this.#pool;
  }

  // ---- admin users and their credentials ----

  /**
   * An admin user (a `users` row with role admin, created or reused) and a
   * new credential with `role`. The token is in the result only.
   * EMAIL_TAKEN when the email belongs to a provider or subscriber, or was erased.
   */
  async createAdminUser(input: { email: string; role: AdminRole; ttlDays?: number; audit?: AuditContext }): Promise<CreatedAdminUser> {
    const email = normaliseEmail(input.email);
    if (!isAdminRole(input.role)) invalid(`role must be one of ${Object.keys(adminRoleRank).join(', ')}`);
    const ttlDays = input.ttlDays ?? admin.credentialTtlDaysDefault;
    if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > admin.credentialTtlDaysMax) {
      invalid(`ttlDays must be an integer in 1..${admin.credentialTtlDaysMax}`);
    }
    const nowMs = this.#nowMs();
    const generated = generateAdminToken();
    return withTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ user_id: string; role: string; erased_at: Date | null }>(
        `INSERT INTO users (email, role, created_at) VALUES ($1, 'admin', ${ts(2)})
         ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
         RETURNING user_id, role, erased_at`,
        [email, nowMs],
      );
      const user = rows[0];
      if (user.role !== 'admin' || user.erased_at !== null) throw new ConfigError('EMAIL_TAKEN', `${email} is not an admin user`);
      const inserted = await client.query<{ credential_id: string; expires_at: Date }>(
        `INSERT INTO admin_credentials (user_id, admin_role, token_hash, token_prefix, created_at, expires_at)
         VALUES ($1, $2, $3, $4, ${ts(5)}, ${ts(6)})
         RETURNING credential_id, expires_at`,
        [user.user_id, input.role, generated.tokenHash, generated.tokenPrefix, nowMs, nowMs + ttlDays * dayMs],
      );
      const credential = inserted.rows[0];
      await this.#config.audit(
        {
          userId: input.audit?.userId ?? null,
          ipAddress: input.audit?.ipAddress ?? null,
          userAgent: input.audit?.userAgent ?? null,
          eventType: 'ADMIN',
          action: 'CREATE_CREDENTIAL',
          resourceType: 'admin_credential',
          resourceId: credential.credential_id,
          metadata: { ...input.audit?.metadata, adminUserId: user.user_id, role: input.role, tokenPrefix: generated.tokenPrefix },
          eventTimeMs: nowMs,
        },
        client,
      );
      return {
        userId: user.user_id,
        email,
        role: input.role,
        credentialId: credential.credential_id,
        token: generated.token,
        expiresAt: credential.expires_at,
      };
    });
  }

  async listAdminCredentials(): Promise<AdminCredentialRow[]> {
    const { rows } = await this.#pool.query<{
      credential_id: string;
      user_id: string;
      email: string;
      admin_role: AdminRole;
      token_prefix: string;
      created_at: Date;
      expires_at: Date;
      revoked_at: Date | null;
      last_used_at: Date | null;
    }>(
      `SELECT c.credential_id, c.user_id, u.email, c.admin_role, c.token_prefix, c.created_at, c.expires_at, c.revoked_at, c.last_used_at
         FROM admin_credentials c JOIN users u ON u.user_id = c.user_id
        ORDER BY c.created_at, c.credential_id
        LIMIT $1`,
      [admin.exportRowsMax],
    );
    return rows.map((r) => ({
      credentialId: r.credential_id,
      userId: r.user_id,
      email: r.email,
      role: r.admin_role,
      tokenPrefix: r.token_prefix,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** Revoke an admin credential at once (its next request is refused). False: it already was. */
  async revokeAdminCredential(credentialId: string, opts: { audit?: AuditContext } = {}): Promise<boolean> {
    assertUuid(credentialId, 'credentialId');
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM admin_credentials WHERE credential_id = $1 FOR UPDATE',
        [credentialId],
      );
      if (rows.length === 0) throw new ConfigError('UNKNOWN_CREDENTIAL', `no admin credential ${credentialId}`);
      if (rows[0].revoked_at !== null) return false;
      await client.query(`UPDATE admin_credentials SET revoked_at = ${ts(2)} WHERE credential_id = $1`, [credentialId, nowMs]);
      await this.#config.audit(
        {
          userId: opts.audit?.userId ?? null,
          ipAddress: opts.audit?.ipAddress ?? null,
          userAgent: opts.audit?.userAgent ?? null,
          eventType: 'ADMIN',
          action: 'REVOKE_CREDENTIAL',
          resourceType: 'admin_credential',
          resourceId: credentialId,
          metadata: opts.audit?.metadata ?? null,
          eventTimeMs: nowMs,
        },
        client,
      );
      return true;
    });
  }

  /**
   * The principal of a bearer token, or null (malformed, unknown, expired,
   * revoked, or its user erased): the caller answers 401 without saying which.
   */
  async authenticate(token: string): Promise<AdminPrincipal | null> {
    const hash = adminTokenHash(token);
    if (hash === null) return null;
    const nowMs = this.#nowMs();
    const { rows } = await this.#pool.query<{
      credential_id: string;
      user_id: string;
      email: string;
      admin_role: AdminRole;
      token_hash: string;
      last_used_at: Date | null;
    }>(
      `SELECT c.credential_id, c.user_id, u.email, c.admin_role, c.token_hash, c.last_used_at
         FROM admin_credentials c JOIN users u ON u.user_id = c.user_id
        WHERE c.token_hash = $1
          AND c.expires_at > ${ts(2)}
          AND (c.revoked_at IS NULL OR c.revoked_at > ${ts(2)})
          AND u.role = 'admin' AND u.erased_at IS NULL`,
      [hash, nowMs],
    );
    const row = rows[0];
    if (row === undefined || !sameHash(row.token_hash, hash)) return null;
    if (row.last_used_at === null || row.last_used_at.getTime() < nowMs - admin.credentialLastUsedResolutionSeconds * 1000) {
      await this.#pool.query(`UPDATE admin_credentials SET last_used_at = ${ts(2)} WHERE credential_id = $1`, [row.credential_id, nowMs]);
    }
    return { userId: row.user_id, email: row.email, role: row.admin_role, credentialId: row.credential_id };
  }

  // ---- subscriptions ----

  /** Oldest first, one page. */
  async listSubscriptions(opts: { limit?: number; cursor?: string } = {}): Promise<Page<SubscriptionSummary>> {
    const limit = pageSize(opts.limit);
    const after = opts.cursor === undefined ? null : decodeCursor(opts.cursor);
    try {
      const { rows } = await this.#pool.query<{
        subscription_id: string;
        name: string;
        state: string;
        owner_user_id: string | null;
        created_at: Date;
        created_text: string;
      }>(
        `SELECT subscription_id, name, state, owner_user_id, created_at, created_at::text AS created_text
           FROM subscriptions
          WHERE $1::timestamptz IS NULL OR (created_at, subscription_id) > ($1::timestamptz, $2::uuid)
          ORDER BY created_at, subscription_id
          LIMIT $3`,
        [after?.time ?? null, after?.id ?? null, limit + 1],
      );
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({
          subscriptionId: r.subscription_id,
          name: r.name,
          state: r.state,
          ownerUserId: r.owner_user_id,
          createdAt: r.created_at,
        })),
        nextCursor: more && last !== undefined ? encodeCursor(last.created_text, last.subscription_id) : null,
      };
    } catch (error) {
      if (isBadTimestamp(error)) invalid('bad cursor');
      throw error;
    }
  }

  /** Everything about a subscription but its secrets. */
  async getSubscription(subscriptionId: string): Promise<Record<string, unknown>> {
    assertUuid(subscriptionId, 'subscriptionId');
    const { rows } = await this.#pool.query<{
      subscription_id: string;
      name: string;
      state: string;
      owner_user_id: string | null;
      owner_email: string | null;
      settings: unknown;
      created_at: Date;
    }>(
      `SELECT s.subscription_id, s.name, s.state, s.owner_user_id, u.email AS owner_email, s.settings, s.created_at
         FROM subscriptions s LEFT JOIN users u ON u.user_id = s.owner_user_id
        WHERE s.subscription_id = $1`,
      [subscriptionId],
    );
    const s = rows[0];
    if (s === undefined) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
    const keys = await this.#pool.query<{ key_id: string; created_at: Date; not_after: Date | null }>(
      'SELECT key_id, created_at, not_after FROM mac_keys WHERE subscription_id = $1 ORDER BY created_at, key_id',
      [subscriptionId],
    );
    return {
      subscriptionId: s.subscription_id,
      name: s.name,
      state: s.state,
      ownerUserId: s.owner_user_id,
      ownerEmail: s.owner_email,
      createdAt: s.created_at,
      settings: mergeSettings(s.settings),
      settingsOverrides: s.settings,
      tokens: await this.listTokens(subscriptionId),
      allowedIps: await this.#config.listAllowedIps(subscriptionId),
      macKeys: keys.rows.map((k) => ({ keyId: k.key_id, createdAt: k.created_at, notAfter: k.not_after })),
    };
  }

  async listTokens(subscriptionId: string): Promise<TokenRow[]> {
    assertUuid(subscriptionId, 'subscriptionId');
    const { rows } = await this.#pool.query<{
      token_id: string;
      role: string;
      token_prefix: string;
      label: string | null;
      created_at: Date;
      expires_at: Date | null;
      revoked_at: Date | null;
      last_used_at: Date | null;
    }>(
      `SELECT token_id, role, token_prefix, label, created_at, expires_at, revoked_at, last_used_at
         FROM license_tokens WHERE subscription_id = $1
        ORDER BY created_at, token_id
        LIMIT $2`,
      [subscriptionId, admin.exportRowsMax],
    );
    return rows.map((r) => ({
      tokenId: r.token_id,
      role: r.role,
      tokenPrefix: r.token_prefix,
      label: r.label,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /**
   * Change some settings: each key of `patch` replaces that override, null
   * removes it (back to the default). Validated as a whole; the merged
   * settings are returned. Connections opened from now on use them.
   */
  async updateSettings(
    subscriptionId: string,
    patch: Record<string, unknown>,
    opts: { audit?: AuditContext } = {},
  ): Promise<{ settings: Record<string, unknown>; overrides: Record<string, unknown> }> {
    assertUuid(subscriptionId, 'subscriptionId');
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) invalid('settings must be an object');
    return withTransaction(this.#pool, async (client: PoolClient) => {
      const { rows } = await client.query<{ settings: Record<string, unknown> }>(
        'SELECT settings FROM subscriptions WHERE subscription_id = $1 FOR UPDATE',
        [subscriptionId],
      );
      if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
      const next: Record<string, unknown> = { ...rows[0].settings };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete next[key];
        else next[key] = value;
      }
      const overrides = validateSettingsOverrides(next);
      await client.query('UPDATE subscriptions SET settings = $2::jsonb WHERE subscription_id = $1', [
        subscriptionId,
        JSON.stringify(overrides),
      ]);
      if (opts.audit !== undefined) {
        await this.#config.audit(auditedChangeEntry(opts.audit, auditedChange('CONFIG', 'UPDATE_SETTINGS', 'subscription', subscriptionId, { patch, overrides })), client);
      }
      return { settings: { ...mergeSettings(overrides) }, overrides };
    });
  }

  /** Set when an allowlist entry stops counting (now: at once). UNKNOWN_ALLOWED_IP when there is no such entry. */
  async expireAllowedIp(
    subscriptionId: string,
    ipOrCidr: string,
    expiresAtMs?: number,
    opts: { audit?: AuditContext } = {},
  ): Promise<{ ipId: string; expiresAt: Date }> {
    assertUuid(subscriptionId, 'subscriptionId');
    const ip = parseIpOrCidr(ipOrCidr);
    const at = expiresAtMs ?? this.#nowMs();
    if (!Number.isFinite(at)) invalid('expiresAt is not a valid time');
    try {
      return await withTransaction(this.#pool, async (client: PoolClient) => {
        const { rows } = await client.query<{ ip_id: string; expires_at: Date }>(
          `UPDATE allowed_ips SET expires_at = ${ts(3)}
            WHERE subscription_id = $1 AND ip_address = $2::cidr::inet
            RETURNING ip_id, expires_at`,
          [subscriptionId, ip, at],
        );
        if (rows.length === 0) throw new ConfigError('UNKNOWN_ALLOWED_IP', `${ip} is not on the allowlist of ${subscriptionId}`);
        if (opts.audit !== undefined) {
          const details = { ip, expiresAt: rows[0].expires_at.toISOString() };
          await this.#config.audit(auditedChangeEntry(opts.audit, auditedChange('CONFIG', 'EXPIRE_IP', 'subscription', subscriptionId, details)), client);
        }
        // Running servers re-check their sessions once this commits.
        await notifyControl(client, { kind: 'ALLOWLIST', subscriptionId });
        return { ipId: rows[0].ip_id, expiresAt: rows[0].expires_at };
      });
    } catch (error) {
      if ((error as { code?: string }).code === '22P02') invalid(`not a CIDR block (host bits set?): ${ipOrCidr}`);
      throw error;
    }
  }

  // ---- reads and GDPR, each in its own file ----

  /** persistence/pg/audit-query.ts */
  queryAudit(filter: AuditFilter): Promise<Page<AuditRow>> {
    return queryAudit(this.#pool, filter);
  }

  /** persistence/pg/billing-read.ts */
  readBilling(tenant: { userId: string; role: TenantRole }, filter: BillingFilter): Promise<Page<BillingRow>> {
    return readBilling(this.#pool, tenant, filter);
  }

  userRole(userId: string): Promise<TenantRole> {
    return userRole(this.#pool, userId);
  }

  /** persistence/pg/gdpr-store.ts */
  findUserByEmail(email: string): Promise<{ userId: string; role: string; createdAt: Date } | null> {
    return findUserByEmail(this.#pool, email);
  }

  exportUser(userId: string): Promise<Record<string, unknown>> {
    return exportUser(this.#pool, this.#nowMs(), userId);
  }

  eraseUser(userId: string, opts: { reason: string; audit?: AuditContext }): Promise<ErasedUser> {
    return eraseUser(this.#pool, this.#nowMs(), userId, opts);
  }
}
