/**
 * Per-subscriber copy settings in Postgres (table receiver_settings,
 * migration 020), one row per receiver license token.
 *
 * - Writes validate the complete result (proto/receiver-settings.ts) before
 *   anything is written: a refused change changes nothing.
 * - A change is audited and NOTIFYed (RECEIVER_SETTINGS on the control
 *   channel) in the same transaction, so servers resend the settings to the
 *   license's live sessions exactly when the change is committed.
 * - Parameterized queries only; no secret is read or written here.
 */
import type { Pool } from 'pg';
import {
  copySettingsDefaults,
  resolveCopySettings,
  SigplaneError,
  validateCopySettingsOverrides,
  type CopySettings,
  type ReceiverSettingsMessage,
} from '@sigplane/protocol';
import { notifyControl } from './control-channel';
import { withTransaction } from './pool';

export const ReceiverSettingsStoreErrorCode = {
  /** Not a token id, or no receiver token with that id. */
  UNKNOWN_RECEIVER_TOKEN: 'UNKNOWN_RECEIVER_TOKEN',
} as const;

export class ReceiverSettingsStoreError extends SigplaneError<keyof typeof ReceiverSettingsStoreErrorCode> {
  constructor(code: keyof typeof ReceiverSettingsStoreErrorCode, message: string) {
    super(code, message);
    this.name = 'ReceiverSettingsStoreError';
  }
}

export interface StoredReceiverSettings extends ReceiverSettingsMessage {
  tokenId: string;
  /** Only the keys set for this license (the rest follow the defaults). */
  overrides: Partial<CopySettings>;
}

/** Who changed settings, for the audit row. */
export interface SettingsAuditContext {
  metadata?: Record<string, unknown>;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function unknownToken(tokenId: string): ReceiverSettingsStoreError {
  return new ReceiverSettingsStoreError('UNKNOWN_RECEIVER_TOKEN', `no receiver token ${tokenId}`);
}

interface Row {
  token_id: string;
  subscription_id: string;
  settings: Record<string, unknown> | null;
  revision: string | null;
}

export class ReceiverSettingsStore {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /**
   * The license's settings: its overrides over the defaults, revision 0 when
   * none were ever set. Stored overrides that no longer validate (a rule
   * tightened since) throw SettingsError: never copy with half a setting.
   */
  async load(tokenId: string): Promise<StoredReceiverSettings> {
    if (typeof tokenId !== 'string' || !uuidPattern.test(tokenId)) throw unknownToken(String(tokenId));
    const { rows } = await this.#pool.query<Row>(
      `SELECT t.token_id, t.subscription_id, r.settings, r.revision::text AS revision
         FROM license_tokens t LEFT JOIN receiver_settings r ON r.token_id = t.token_id
        WHERE t.token_id = $1 AND t.role = 'receiver'`,
      [tokenId],
    );
    if (rows.length === 0) throw unknownToken(tokenId);
    return toStored(rows[0]);
  }

  /**
   * Merge `patch` into the license's overrides (a key set to null goes back
   * to its default), validate the whole, write it with revision + 1, audit
   * and notify. Returns what receivers will now be sent.
   */
  async update(tokenId: string, patch: Record<string, unknown>, audit: SettingsAuditContext = {}): Promise<StoredReceiverSettings> {
    if (typeof tokenId !== 'string' || !uuidPattern.test(tokenId)) throw unknownToken(String(tokenId));
    return withTransaction(this.#pool, async (client) => {
      // FOR UPDATE on the token: concurrent updates of one license serialise.
      const { rows } = await client.query<Row>(
        `SELECT t.token_id, t.subscription_id, r.settings, r.revision::text AS revision
           FROM license_tokens t LEFT JOIN receiver_settings r ON r.token_id = t.token_id
          WHERE t.token_id = $1 AND t.role = 'receiver'
          FOR UPDATE OF t`,
        [tokenId],
      );
      if (rows.length === 0) throw unknownToken(tokenId);
      const current: Record<string, unknown> = { ...(rows[0].settings ?? {}) };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete current[key];
        else current[key] = value;
      }
      const overrides = validateCopySettingsOverrides(current);
      const written = await client.query<Row>(
        `INSERT INTO receiver_settings (token_id, subscription_id, settings, revision, updated_at)
         VALUES ($1, $2, $3::jsonb, 1, NOW())
         ON CONFLICT (token_id) DO UPDATE
           SET settings = EXCLUDED.settings, revision = receiver_settings.revision + 1, updated_at = NOW()
         RETURNING token_id, subscription_id, settings, revision::text AS revision`,
        [tokenId, rows[0].subscription_id, JSON.stringify(overrides)],
      );
      const stored = toStored(written.rows[0]);
      await client.query(
        `INSERT INTO audit_log (event_type, resource_type, resource_id, action, request_payload, metadata)
         VALUES ('CONFIG', 'license_token', $1, 'RECEIVER_SETTINGS', $2::jsonb, $3::jsonb)`,
        [tokenId, JSON.stringify(patch), JSON.stringify({ ...audit.metadata, subscriptionId: stored.subscriptionId, revision: stored.revision })],
      );
      await notifyControl(client, { kind: 'RECEIVER_SETTINGS', tokenId, subscriptionId: stored.subscriptionId });
      return stored;
    });
  }

  /** Back to the defaults (all overrides removed), as a change: revision + 1, audited, notified. */
  async reset(tokenId: string, audit: SettingsAuditContext = {}): Promise<StoredReceiverSettings> {
    const current = await this.load(tokenId);
    const patch: Record<string, unknown> = {};
    for (const key of Object.keys(current.overrides)) patch[key] = null;
    return this.update(tokenId, patch, audit);
  }
}

function toStored(row: Row): StoredReceiverSettings {
  const overrides = validateCopySettingsOverrides(row.settings ?? {});
  const revision = row.revision === null ? 0 : Number(row.revision);
  if (!Number.isSafeInteger(revision) || revision < 0) throw new Error(`receiver_settings.revision ${row.revision} out of range`);
  return {
    tokenId: row.token_id,
    subscriptionId: row.subscription_id,
    revision,
    overrides,
    settings: Object.keys(overrides).length === 0 ? { ...copySettingsDefaults } : resolveCopySettings(overrides),
  };
}
