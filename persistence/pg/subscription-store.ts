/**
 * Subscriptions in Postgres: created with their master token and first MAC
 * key (generated, or the provider's own when a Master EA moves to sigplane)
 * in one transaction, their state and settings changed, and locked for the
 * changes that must run one at a time (rotations, isolation). Secrets are
 * in a creation's result only.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { admin, credentials, subscriptionConfig, SubscriptionState, type SubscriptionSettings } from '@sigplane/protocol';
import { auditChange, auditedChange, type AuditContext } from './audit-append';
import { ConfigError } from './config-errors';
import type { ImportedMacSecret } from './imported-mac-secret';
import { insertToken } from './license-token-store';
import { importedKeyAudit, importedKeyReport, insertMacKey, parseMacSecret, type ImportedKeyReport } from './mac-key-store';
import { withTransaction } from './pool';
import { assertName, assertUuid, invalid, ts } from './store-checks';
import type { StoreContext } from './store-context';
import { validateSettingsOverrides } from './subscription-settings';

export interface CreatedSubscription {
  subscriptionId: string;
  /** Shown once. */
  masterToken: string;
  masterTokenId: string;
  masterTokenExpiresAt: Date;
  macKeyId: string;
  /** Shown once: the v2 HMAC key, hex. */
  macSecretHex: string;
}

/** createSubscriptionWithMacKey's result: the provider's own key is never echoed. */
export type SubscriptionWithImportedKey = Omit<CreatedSubscription, 'macSecretHex'> & ImportedKeyReport;

export interface NewSubscription {
  name: string;
  ownerEmail?: string;
  /** An existing Master EA's id: SUBSCRIPTION_EXISTS when taken. */
  subscriptionId?: string;
  audit?: AuditContext;
}

/**
 * A new subscription with its master token (credentials.masterTokenTtlDays)
 * and its first v2 MAC key. The owner user is created (role provider) or
 * reused when `ownerEmail` is given. With `subscriptionId` the subscription
 * takes that id (an existing Master EA's): SUBSCRIPTION_EXISTS when taken.
 * Secrets are in the result only.
 */
export async function createSubscription(ctx: StoreContext, input: NewSubscription): Promise<CreatedSubscription> {
  const created = await insertSubscription(ctx, input, null);
  return { ...created, macSecretHex: created.macSecretHex! };
}

/**
 * A subscription whose first MAC key is the provider's own (a Master EA
 * moving to sigplane keeps its key, and with `subscriptionId` its id):
 * checked as parseMacSecret says (`legacyV1`: the EA's v1 secret, v1
 * only), sealed and audited like a generated key, and not in the result.
 */
export async function createSubscriptionWithMacKey(
  ctx: StoreContext,
  input: NewSubscription & { macSecret: string; legacyV1?: boolean },
): Promise<SubscriptionWithImportedKey> {
  const imported = parseMacSecret(input.macSecret, input.legacyV1);
  try {
    const { macSecretHex: _none, ...created } = await insertSubscription(ctx, input, imported);
    return { ...created, ...importedKeyReport(imported) };
  } finally {
    imported.plaintext.fill(0);
  }
}

async function insertSubscription(
  ctx: StoreContext,
  input: NewSubscription,
  imported: ImportedMacSecret | null,
): Promise<Omit<CreatedSubscription, 'macSecretHex'> & { macSecretHex: string | null }> {
  const name = assertName(input.name, 'subscription name', subscriptionConfig.nameCharsMax);
  let email: string | null = null;
  if (input.ownerEmail !== undefined) {
    email = String(input.ownerEmail).trim().toLowerCase();
    if (email.length < 3 || email.length > admin.emailLengthMax || !/^[^\s@\u0000]+@[^\s@\u0000]+$/.test(email)) invalid('bad owner email');
  }
  if (input.subscriptionId !== undefined) assertUuid(input.subscriptionId, 'subscriptionId');
  const nowMs = ctx.nowMs();
  const subscriptionId = input.subscriptionId?.toLowerCase() ?? randomUUID();
  return withTransaction(ctx.pool, async (client) => {
    let ownerId: string | null = null;
    if (email !== null) {
      const { rows } = await client.query<{ user_id: string }>(
        `INSERT INTO users (email, role, created_at) VALUES ($1, 'provider', ${ts(2)})
         ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
         RETURNING user_id`,
        [email, nowMs],
      );
      ownerId = rows[0].user_id;
    }
    const inserted = await client.query(
      `INSERT INTO subscriptions (subscription_id, owner_user_id, name, created_at) VALUES ($1, $2, $3, ${ts(4)})
       ON CONFLICT (subscription_id) DO NOTHING`,
      [subscriptionId, ownerId, name, nowMs],
    );
    if (inserted.rowCount === 0) throw new ConfigError('SUBSCRIPTION_EXISTS', `subscription ${subscriptionId} exists already`);
    const master = await insertToken(client, subscriptionId, 'master', null, credentials.masterTokenTtlDays, nowMs);
    if (master === null) throw new Error('createSubscription: subscription row vanished');
    const mac = await insertMacKey(ctx.box, client, subscriptionId, 1, nowMs, imported?.plaintext ?? null);
    // The owner by id, not by email: personal data stays in users, where GDPR erasure finds it.
    const details = {
      name,
      ownerUserId: ownerId,
      masterTokenId: master.tokenId,
      macKeyId: mac.keyId,
      macKeyImported: imported !== null,
      ...(imported === null ? {} : importedKeyAudit(imported)),
    };
    await auditChange(client, input.audit, auditedChange('CONFIG', 'CREATE_SUBSCRIPTION', 'subscription', subscriptionId, details), nowMs);
    return {
      subscriptionId,
      masterToken: master.token,
      masterTokenId: master.tokenId,
      masterTokenExpiresAt: master.expiresAt,
      macKeyId: mac.keyId,
      macSecretHex: mac.secretHex,
    };
  });
}

/** Changes of one subscription that must run one at a time take its row: SELECT … FOR UPDATE, or UNKNOWN_SUBSCRIPTION. */
export async function lockSubscription(client: PoolClient, subscriptionId: string): Promise<SubscriptionState> {
  const { rows } = await client.query<{ state: SubscriptionState }>(
    'SELECT state FROM subscriptions WHERE subscription_id = $1 FOR UPDATE',
    [subscriptionId],
  );
  if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
  return rows[0].state;
}

export async function setSubscriptionState(ctx: StoreContext, subscriptionId: string, state: SubscriptionState): Promise<void> {
  assertUuid(subscriptionId, 'subscriptionId');
  if (!(Object.values(SubscriptionState) as string[]).includes(state)) invalid(`unknown subscription state ${String(state)}`);
  const { rowCount } = await ctx.pool.query('UPDATE subscriptions SET state = $2 WHERE subscription_id = $1', [
    subscriptionId,
    state,
  ]);
  if ((rowCount ?? 0) === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
}

/** Replace a subscription's overrides of SubscriptionSettings (validated). */
export async function setSubscriptionSettings(ctx: StoreContext, subscriptionId: string, overrides: Partial<SubscriptionSettings>): Promise<void> {
  assertUuid(subscriptionId, 'subscriptionId');
  const valid = validateSettingsOverrides(overrides);
  const { rowCount } = await ctx.pool.query(
    'UPDATE subscriptions SET settings = $2::jsonb WHERE subscription_id = $1',
    [subscriptionId, JSON.stringify(valid)],
  );
  if ((rowCount ?? 0) === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
}
