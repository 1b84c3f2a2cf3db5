/**
 * Rotating a subscription's credentials: a new current MAC key (generated,
 * or the provider's own), the previous one(s) valid `overlapMs` more
 * (not_after = now + overlapMs) so masters switch without a gap; and the
 * incident response's "rotate every credential", which also replaces the
 * master token and revokes every other one at once. Rotations of one
 * subscription run one at a time (lockSubscription).
 */
import type { PoolClient } from 'pg';
import { control, credentials } from '@sigplane/protocol';
import { appendChangeAudit, auditedChange, type AuditContext } from './audit-append';
import { ConfigError } from './config-errors';
import { notifyControl } from './control-channel';
import { insertToken } from './license-token-store';
import { importedKeyAudit, importedKeyReport, insertMacKey, parseMacSecret, type ImportedKeyReport } from './mac-key-store';
import { withTransaction } from './pool';
import { assertNulFreeReason, assertUuid, invalid, ts } from './store-checks';
import type { StoreContext } from './store-context';
import { lockSubscription, type CreatedSubscription } from './subscription-store';

export interface ImportedMacKey extends ImportedKeyReport {
  subscriptionId: string;
  macKeyId: string;
  /** The previous MAC key(s) stay valid until then. */
  previousMacKeysValidUntil: Date;
  auditLogId: string;
}

/** The new master token and MAC key (secrets shown once), as a creation's, and what the rotation ended. */
export interface RotatedCredentials extends CreatedSubscription {
  /** The previous MAC key(s) stay valid until then. */
  previousMacKeysValidUntil: Date;
  /** Master tokens revoked at once (their live sessions are closed). */
  revokedMasterTokenIds: string[];
  auditLogId: string;
}

const macKeyOverlapMsMax = control.macKeyOverlapMinutesMax * 60_000;

function assertOverlapMs(overlapMs: number): void {
  if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > macKeyOverlapMsMax) {
    invalid(`overlapMs must be an integer in 0..${macKeyOverlapMsMax}`);
  }
}

/** A new current generated MAC key; the current one(s) stay valid for `overlapMs` more. Not audited: operators rotate with rotateCredentials. */
export async function rotateMacKey(ctx: StoreContext, subscriptionId: string, opts: { overlapMs: number }): Promise<{ keyId: string; secretHex: string }> {
  assertUuid(subscriptionId, 'subscriptionId');
  assertOverlapMs(opts.overlapMs);
  const nowMs = ctx.nowMs();
  return withTransaction(ctx.pool, async (client) => {
    await lockSubscription(client, subscriptionId);
    const mac = await rotateMacKeyIn(ctx, client, subscriptionId, opts.overlapMs, nowMs);
    return { keyId: mac.keyId, secretHex: mac.secretHex! };
  });
}

/**
 * The provider's own MAC key becomes the current one, as a rotation: the
 * previous key(s) stay valid for `overlapMs`. Checked as parseMacSecret
 * says (`legacyV1`: the EA's v1 secret, v1 only), sealed like a generated
 * key and audited (CREDENTIAL / IMPORT_MAC_KEY: the key id, its kind and
 * any weakness, never the key) in the same transaction. Sessions keep the
 * keys they connected with (the previous one verifies until the overlap
 * ends): a master signs with the new key once it reconnects.
 */
export async function importMacKey(
  ctx: StoreContext,
  subscriptionId: string,
  opts: { macSecret: string; legacyV1?: boolean; overlapMs: number; reason?: string; audit?: AuditContext; refuseWhileOverlapOpen?: boolean },
): Promise<ImportedMacKey> {
  assertUuid(subscriptionId, 'subscriptionId');
  assertOverlapMs(opts.overlapMs);
  const reason = opts.reason === undefined ? null : assertNulFreeReason(opts.reason);
  const imported = parseMacSecret(opts.macSecret, opts.legacyV1);
  const nowMs = ctx.nowMs();
  try {
    return await withTransaction(ctx.pool, async (client) => {
      await lockSubscription(client, subscriptionId);
      if (opts.refuseWhileOverlapOpen === true) await refuseWhileOverlapOpen(client, subscriptionId, nowMs);
      const mac = await rotateMacKeyIn(ctx, client, subscriptionId, opts.overlapMs, nowMs, imported.plaintext);
      const details = { reason, macKeyId: mac.keyId, overlapMs: opts.overlapMs, ...importedKeyAudit(imported) };
      const auditLogId = await appendChangeAudit(client, opts.audit, auditedChange('CREDENTIAL', 'IMPORT_MAC_KEY', 'subscription', subscriptionId, details), nowMs);
      const previousMacKeysValidUntil = new Date(nowMs + opts.overlapMs);
      return { subscriptionId, macKeyId: mac.keyId, previousMacKeysValidUntil, auditLogId, ...importedKeyReport(imported) };
    });
  } finally {
    imported.plaintext.fill(0);
  }
}

/**
 * Incident response, "rotate every credential" of a provider in one
 * transaction: a new MAC key (the previous one valid `overlapMs` more), a
 * new master token, and every other master token revoked at once (their
 * sessions are closed by the servers, told on the control channel).
 * Receiver licenses are the subscribers' and are revoked one by one.
 */
export async function rotateCredentials(
  ctx: StoreContext,
  subscriptionId: string,
  opts: {
    overlapMs: number;
    reason?: string;
    audit?: AuditContext;
    /** Refuse (ROTATION_IN_PROGRESS) while a previous key's overlap is still open (the admin API's 409). */
    refuseWhileOverlapOpen?: boolean;
  },
): Promise<RotatedCredentials> {
  assertUuid(subscriptionId, 'subscriptionId');
  assertOverlapMs(opts.overlapMs);
  const reason = opts.reason === undefined ? null : assertNulFreeReason(opts.reason);
  const nowMs = ctx.nowMs();
  return withTransaction(ctx.pool, async (client) => {
    await lockSubscription(client, subscriptionId);
    if (opts.refuseWhileOverlapOpen === true) await refuseWhileOverlapOpen(client, subscriptionId, nowMs);
    const mac = await rotateMacKeyIn(ctx, client, subscriptionId, opts.overlapMs, nowMs);
    const master = await insertToken(client, subscriptionId, 'master', 'rotated', credentials.masterTokenTtlDays, nowMs);
    if (master === null) throw new Error('rotateCredentials: subscription row vanished');
    const revokedMasterTokenIds = await revokeOtherMasterTokens(client, subscriptionId, master.tokenId, nowMs);
    const details = { reason, macKeyId: mac.keyId, overlapMs: opts.overlapMs, masterTokenId: master.tokenId, revokedMasterTokenIds };
    const auditLogId = await appendChangeAudit(client, opts.audit, auditedChange('INCIDENT', 'ROTATE_CREDENTIALS', 'subscription', subscriptionId, details), nowMs);
    for (const tokenId of revokedMasterTokenIds) await notifyControl(client, { kind: 'REVOKE', tokenId, subscriptionId });
    return {
      subscriptionId,
      masterToken: master.token,
      masterTokenId: master.tokenId,
      masterTokenExpiresAt: master.expiresAt,
      macKeyId: mac.keyId,
      macSecretHex: mac.secretHex!,
      previousMacKeysValidUntil: new Date(nowMs + opts.overlapMs),
      revokedMasterTokenIds,
      auditLogId,
    };
  });
}

/** Every master token of the subscription but `keptTokenId` revoked now; their ids, sorted. */
async function revokeOtherMasterTokens(client: PoolClient, subscriptionId: string, keptTokenId: string, nowMs: number): Promise<string[]> {
  const { rows } = await client.query<{ token_id: string }>(
    `UPDATE license_tokens SET revoked_at = ${ts(3)}
      WHERE subscription_id = $1 AND role = 'master' AND token_id <> $2
        AND (revoked_at IS NULL OR revoked_at > ${ts(3)})
      RETURNING token_id`,
    [subscriptionId, keptTokenId, nowMs],
  );
  if (rows.length > credentials.rotationRevokedTokensMax) throw new Error(`rotateCredentials: ${rows.length} master tokens to revoke`);
  return rows.map((r) => r.token_id).sort();
}

/** ROTATION_IN_PROGRESS while a previous key's overlap is still open (the admin API's 409). */
async function refuseWhileOverlapOpen(client: PoolClient, subscriptionId: string, nowMs: number): Promise<void> {
  const open = await client.query(`SELECT 1 FROM mac_keys WHERE subscription_id = $1 AND not_after > ${ts(2)} LIMIT 1`, [subscriptionId, nowMs]);
  if (open.rows.length > 0) throw new ConfigError('ROTATION_IN_PROGRESS', 'a previous rotation\'s overlap window is still open');
}

/** The current key(s) valid until now + overlapMs, and a new current key (the next generation). */
async function rotateMacKeyIn(
  ctx: StoreContext,
  client: PoolClient,
  subscriptionId: string,
  overlapMs: number,
  nowMs: number,
  imported: Buffer | null = null,
): Promise<{ keyId: string; secretHex: string | null }> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM mac_keys WHERE subscription_id = $1', [
    subscriptionId,
  ]);
  await client.query(`UPDATE mac_keys SET not_after = ${ts(2)} WHERE subscription_id = $1 AND not_after IS NULL`, [
    subscriptionId,
    nowMs + overlapMs,
  ]);
  return insertMacKey(ctx.box, client, subscriptionId, rows[0].n + 1, nowMs, imported);
}
