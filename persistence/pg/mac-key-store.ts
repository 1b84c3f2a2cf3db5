/**
 * MAC keys in Postgres (mac_keys): generated (credentials.macKeyBytes
 * random bytes, shown once as hex) or brought by the provider
 * (imported-mac-secret.ts: a key in the generated format, or with the
 * legacy v1 opt-in the EA's v1 secret, v1 only). Either way sealed by the
 * SecretBox (the KEK never reaches Postgres) and never returned, logged or
 * put in an audit row once stored. Rotation (a new current key, the old one
 * valid a while longer) is credential-rotation.ts's.
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { credentials } from '@sigplane/protocol';
import { ConfigError } from './config-errors';
import {
  MacSecretError,
  openedMacSecret,
  parseImportedMacSecret,
  weakMacKeyWarning,
  type ImportedMacSecret,
  type MacKeyWarning,
} from './imported-mac-secret';
import type { SecretAad, SecretBox } from './secret-box';
import { assertUuid, ts } from './store-checks';
import type { StoreContext } from './store-context';

export interface MacKey {
  keyId: string;
  /** legacyV1 false: the 32 bytes of a v2 key (v1 signs with their hex text); true: a legacy v1 secret's UTF-8 bytes, the v1 HMAC key itself. */
  secret: Buffer;
  /** An imported legacy v1 secret: v1 only, never a v2 key. */
  legacyV1: boolean;
  /** null: the current key; otherwise valid until then (rotated out). */
  notAfterMs: number | null;
}

/** What an import says of the key it took (never the key). */
export interface ImportedKeyReport {
  /** True: a legacy v1 secret, verified for v1 signals only (a v2 frame naming its key id is UNKNOWN_KEY). */
  legacyV1: boolean;
  /** WEAK_MAC_KEY when the secret is weak (imported-mac-secret.ts); empty otherwise. */
  warnings: MacKeyWarning[];
}

/** The AAD of a mac_keys row's secret (also used by the KEK rotation, kek-rotation.ts). */
export function macKeyAad(subscriptionId: string, keyId: string): SecretAad {
  return { table: 'mac_keys', rowId: `${subscriptionId}/${keyId}`, column: 'secret' };
}

/**
 * A provider's own MAC secret (imported-mac-secret.ts): a key in the format
 * of a generated one (v1 signs with exactly this text, v2 with the bytes it
 * spells), or with `legacyV1` an EA's v1 secret, v1 only. INVALID_MAC_KEY
 * otherwise; the message never holds the value.
 */
export function parseMacSecret(text: unknown, legacyV1: boolean | undefined): ImportedMacSecret {
  try {
    return parseImportedMacSecret(text, { legacyV1: legacyV1 === true });
  } catch (error) {
    if (error instanceof MacSecretError) throw new ConfigError('INVALID_MAC_KEY', error.message);
    throw error;
  }
}

/** An import's answer and audit fields for the secret it took. */
export function importedKeyReport(imported: ImportedMacSecret): ImportedKeyReport {
  const warning = weakMacKeyWarning(imported.weakness);
  return { legacyV1: imported.legacyV1, warnings: warning === null ? [] : [warning] };
}

/** What an import's audit row says of the key: its kind and any weakness, never the key. */
export function importedKeyAudit(imported: ImportedMacSecret): { macKeyLegacyV1: boolean; macKeyWeak: string[] } {
  return { macKeyLegacyV1: imported.legacyV1, macKeyWeak: [...imported.weakness] };
}

/**
 * A new MAC key row, in the caller's transaction: generated (its hex in the
 * result, shown once), or the provider's own (`imported`: what its row
 * seals; secretHex null).
 */
export async function insertMacKey(
  box: SecretBox,
  client: PoolClient,
  subscriptionId: string,
  generation: number,
  nowMs: number,
  imported: Buffer | null = null,
): Promise<{ keyId: string; secretHex: string | null }> {
  const keyId = `k${generation}-${randomBytes(4).toString('hex')}`;
  const secret = imported ?? randomBytes(credentials.macKeyBytes);
  const sealed = box.seal(secret, macKeyAad(subscriptionId, keyId));
  await client.query(
    `INSERT INTO mac_keys (subscription_id, key_id, ciphertext, nonce, auth_tag, kek_version, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, ${ts(7)})`,
    [subscriptionId, keyId, sealed.ciphertext, sealed.nonce, sealed.authTag, sealed.kekVersion, nowMs],
  );
  if (imported !== null) return { keyId, secretHex: null };
  const secretHex = secret.toString('hex');
  secret.fill(0);
  return { keyId, secretHex };
}

/** The MAC keys valid now (current first), decrypted. `nowMs` defaults to the store's clock. */
export async function loadMacKeys(ctx: StoreContext, subscriptionId: string, nowMs?: number): Promise<MacKey[]> {
  assertUuid(subscriptionId, 'subscriptionId');
  const { rows } = await ctx.pool.query<{
    key_id: string;
    ciphertext: Buffer;
    nonce: Buffer;
    auth_tag: Buffer;
    kek_version: number;
    not_after_ms: number | null;
  }>(
    `SELECT key_id, ciphertext, nonce, auth_tag, kek_version,
            (extract(epoch FROM not_after) * 1000)::float8 AS not_after_ms
       FROM mac_keys
      WHERE subscription_id = $1 AND (not_after IS NULL OR not_after > ${ts(2)})
      ORDER BY not_after DESC NULLS FIRST, created_at DESC`,
    [subscriptionId, nowMs ?? ctx.nowMs()],
  );
  return rows.map((r) => ({
    keyId: r.key_id,
    ...openedMacSecret(
      ctx.box.open({ ciphertext: r.ciphertext, nonce: r.nonce, authTag: r.auth_tag, kekVersion: r.kek_version }, macKeyAad(subscriptionId, r.key_id)),
    ),
    notAfterMs: r.not_after_ms === null ? null : Math.round(r.not_after_ms),
  }));
}
