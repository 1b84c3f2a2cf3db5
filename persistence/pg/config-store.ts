/**
 * Configuration and credentials in Postgres: subscriptions, license tokens,
 * allowed IPs, MAC keys, audit log.
 *
 * - Parameterized queries only: SQL text is constant, values are parameters.
 * - Secrets are returned once and never stored: tokens as SHA-256 hashes,
 *   MAC keys sealed by SecretBox (the KEK never reaches Postgres). A MAC
 *   key a provider brings (importMacKey, createSubscriptionWithMacKey) is
 *   held to the format of a generated one, or with the legacy v1 opt-in
 *   taken as the EA's v1 secret, v1 only (imported-mac-secret.ts); sealed
 *   the same way, and never returned, logged or put in an audit row.
 * - Time comes from an injectable clock (`nowMs`), passed to SQL as a
 *   parameter, so expiry is testable and every node uses one rule.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Pool, PoolClient } from 'pg';
import {
  admin,
  auditLog,
  control,
  credentials,
  fields,
  subscriptionConfig,
  subscriptionDefaults,
  type SubscriptionSettings,
  SubscriptionState,
} from '@sigplane/protocol';
import { notifyControl } from './control-channel';
import {
  MacSecretError,
  openedMacSecret,
  parseImportedMacSecret,
  weakMacKeyWarning,
  type ImportedMacSecret,
  type MacKeyWarning,
} from './imported-mac-secret';
import { withTransaction } from './pool';
import type { SecretBox, SecretAad } from './secret-box';
import { generateToken, tokenHashPattern, type TokenRole } from './tokens';

const dayMs = 24 * 3600 * 1000;
const macKeyOverlapMsMax = control.macKeyOverlapMinutesMax * 60_000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;


export type AuthFailureReason =
  | 'UNKNOWN_TOKEN'
  | 'EXPIRED'
  | 'REVOKED'
  | 'WRONG_ROLE'
  | 'IP_NOT_ALLOWED'
  | 'SUBSCRIPTION_ISOLATED';

export type AuthResult =
  | {
      ok: true;
      subscriptionId: string;
      tokenId: string;
      settings: SubscriptionSettings;
      subscriptionState: SubscriptionState;
    }
  | { ok: false; reason: AuthFailureReason };

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

/** What an import says of the key it took (never the key). */
export interface ImportedKeyReport {
  /** True: a legacy v1 secret, verified for v1 signals only (a v2 frame naming its key id is UNKNOWN_KEY). */
  legacyV1: boolean;
  /** WEAK_MAC_KEY when the secret is weak (imported-mac-secret.ts); empty otherwise. */
  warnings: MacKeyWarning[];
}

/** createSubscriptionWithMacKey's result: the provider's own key is never echoed. */
export type SubscriptionWithImportedKey = Omit<CreatedSubscription, 'macSecretHex'> & ImportedKeyReport;

export interface ImportedMacKey extends ImportedKeyReport {
  subscriptionId: string;
  macKeyId: string;
  /** The previous MAC key(s) stay valid until then. */
  previousMacKeysValidUntil: Date;
  auditLogId: string;
}

export interface IssuedToken {
  /** Shown once. */
  token: string;
  tokenId: string;
  expiresAt: Date;
}

export interface MacKey {
  keyId: string;
  /** legacyV1 false: the 32 bytes of a v2 key (v1 signs with their hex text); true: a legacy v1 secret's UTF-8 bytes, the v1 HMAC key itself. */
  secret: Buffer;
  /** An imported legacy v1 secret: v1 only, never a v2 key. */
  legacyV1: boolean;
  /** null: the current key; otherwise valid until then (rotated out). */
  notAfterMs: number | null;
}

export interface AllowedIp {
  ipId: string;
  ipAddress: string;
  expiresAt: Date | null;
}

export interface AuditEntry {
  eventType: string;
  action: string;
  userId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  requestPayload?: unknown;
  responseStatus?: number | null;
  errorMessage?: string | null;
  metadata?: Record<string, unknown> | null;
  /** Default: the store's clock. */
  eventTimeMs?: number;
}

/** Who did an audited action, for the audit row (the CLI has no admin user yet: metadata says who ran it). */
export interface AuditContext {
  userId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Merged into the row's metadata (e.g. { via: 'cli', osUser }). */
  metadata?: Record<string, unknown>;
}

export interface IsolationChange {
  subscriptionId: string;
  previousState: SubscriptionState;
  state: SubscriptionState;
  /** The audit_log row written. */
  auditLogId: string;
}

export interface RevocationResult {
  /** False: the token was already revoked (nothing changed, nothing audited). */
  revoked: boolean;
  tokenId: string;
  subscriptionId: string;
  role: TokenRole;
}

export interface RotatedCredentials {
  subscriptionId: string;
  /** Shown once. */
  masterToken: string;
  masterTokenId: string;
  masterTokenExpiresAt: Date;
  macKeyId: string;
  /** Shown once: the new v2 HMAC key, hex. */
  macSecretHex: string;
  /** The previous MAC key(s) stay valid until then. */
  previousMacKeysValidUntil: Date;
  /** Master tokens revoked at once (their live sessions are closed). */
  revokedMasterTokenIds: string[];
  auditLogId: string;
}

export type ConfigErrorCode =
  | 'INVALID_ARGUMENT'
  // A MAC key brought by a provider is not 64 lowercase hex characters that look random (the format of a
  // generated one), or with the legacy v1 opt-in not a string within proto/limits.ts importedMacSecret's bounds (imported-mac-secret.ts).
  | 'INVALID_MAC_KEY'
  // A subscription id asked for (moving an existing Master EA) is taken.
  | 'SUBSCRIPTION_EXISTS'
  | 'UNKNOWN_SUBSCRIPTION'
  | 'UNKNOWN_TOKEN'
  // Of the admin API (persistence/pg/admin-store.ts, rotateCredentials' refuseWhileOverlapOpen):
  | 'ROTATION_IN_PROGRESS'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_CREDENTIAL'
  | 'UNKNOWN_ALLOWED_IP'
  | 'ALREADY_ERASED'
  | 'EMAIL_TAKEN';

export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigStoreOptions {
  /** The clock (ms since the epoch). Default Date.now. */
  nowMs?: () => number;
}

function invalid(message: string): never {
  throw new ConfigError('INVALID_ARGUMENT', message);
}

function assertUuid(value: string, what: string): void {
  if (typeof value !== 'string' || !uuidPattern.test(value)) invalid(`${what} must be a UUID`);
}

/** Postgres text cannot hold NUL (it would fail as SQLSTATE 22021): refused up front with a stable code. */
const nulCharacter = /\u0000/;

function assertText(value: string | null | undefined, what: string, max: number): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || value.length > max) invalid(`${what} must be a string of at most ${max} characters`);
  if (nulCharacter.test(value)) invalid(`${what} must not contain NUL characters`);
}

function assertReason(reason: string): string {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text.length === 0 || text.length > auditLog.reasonCharsMax) invalid(`reason must be 1..${auditLog.reasonCharsMax} characters`);
  if (nulCharacter.test(text)) invalid('reason must not contain NUL characters');
  return text;
}

/**
 * Wire text kept for the audit (user agents, error texts, JSON strings):
 * what Postgres cannot store, NUL and unpaired UTF-16 surrogates, becomes
 * U+FFFD rather than failing the audited action.
 */
function withoutNul(text: string): string {
  return text.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** JSON for a jsonb column: jsonb refuses \u0000 (22P05) and unpaired surrogate escapes (22P02) in strings. */
function jsonbText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? withoutNul(v) : v));
}

function assertOverlapMs(overlapMs: number): void {
  if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > macKeyOverlapMsMax) {
    invalid(`overlapMs must be an integer in 0..${macKeyOverlapMsMax}`);
  }
}

/** "::ffff:1.2.3.4" (an IPv4 client on a dual-stack socket) -> "1.2.3.4"; null if not an IP address. */
export function normaliseIp(ip: string): string | null {
  if (typeof ip !== 'string') return null;
  const s = ip.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped !== null && isIP(mapped[1]) === 4) return mapped[1];
  return isIP(s) === 0 ? null : s;
}

/** An IP address or a CIDR block ("10.0.0.0/24"), normalised, or a ConfigError. */
export function parseIpOrCidr(input: string): string {
  if (typeof input !== 'string' || input.length > subscriptionConfig.ipOrCidrCharsMax) invalid('IP address or CIDR block expected');
  const [addr, prefix, extra] = input.trim().split('/');
  if (extra !== undefined) invalid(`not an IP address or CIDR block: ${input}`);
  const ip = normaliseIp(addr);
  if (ip === null) invalid(`not an IP address or CIDR block: ${input}`);
  if (prefix === undefined) return ip;
  const bitsMax = isIP(ip) === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bitsMax) invalid(`bad prefix length in ${input}`);
  return `${ip}/${Number(prefix)}`;
}

const settingsKeys = Object.keys(subscriptionDefaults) as (keyof SubscriptionSettings)[];
/** Settings where 0 would make every signal fail or the token bucket unusable. */
const positiveSettings: readonly string[] = ['ttlMs', 'rateLimitPerSecond', 'rateLimitBurst', 'referencePriceMaxAgeMs'];

/** Check overrides of SubscriptionSettings: known keys, finite non-negative numbers. */
export function validateSettingsOverrides(overrides: unknown): Partial<SubscriptionSettings> {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    invalid('settings overrides must be an object');
  }
  const out: Partial<SubscriptionSettings> = {};
  for (const [k, v] of Object.entries(overrides)) {
    if (!(settingsKeys as string[]).includes(k)) invalid(`unknown setting ${k}`);
    if (k === 'pipSizes') {
      out.pipSizes = validatePipSizes(v);
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) invalid(`setting ${k} must be a finite number >= 0`);
    if (positiveSettings.includes(k) && !(v >= 1)) invalid(`setting ${k} must be >= 1`);
    (out as Record<string, number>)[k] = v;
  }
  return out;
}

const pipSizeSymbolPattern = new RegExp(`^[A-Za-z0-9]{1,${fields.symbolLengthMax}}$`);

/** Pip sizes by symbol: the seed's symbol rule for keys, a positive finite size for values. */
function validatePipSizes(value: unknown): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid('pipSizes must be an object');
  const out: Record<string, number> = {};
  for (const [symbol, size] of Object.entries(value as Record<string, unknown>)) {
    if (!pipSizeSymbolPattern.test(symbol)) invalid(`pipSizes keys must be symbols ([A-Za-z0-9]{1,${fields.symbolLengthMax}})`);
    if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) invalid(`pip size of ${symbol} must be > 0`);
    out[symbol] = size;
  }
  return out;
}

/** The defaults of proto/limits.ts with a subscription's overrides on top. */
export function mergeSettings(overrides: unknown): SubscriptionSettings {
  return { ...subscriptionDefaults, ...validateSettingsOverrides(overrides ?? {}) };
}

/**
 * A provider's own MAC secret (imported-mac-secret.ts): a key in the format
 * of a generated one (v1 signs with exactly this text, v2 with the bytes it
 * spells), or with `legacyV1` an EA's v1 secret, v1 only. INVALID_MAC_KEY
 * otherwise; the message never holds the value.
 */
function parseMacSecret(text: unknown, legacyV1: boolean | undefined): ImportedMacSecret {
  try {
    return parseImportedMacSecret(text, { legacyV1: legacyV1 === true });
  } catch (error) {
    if (error instanceof MacSecretError) throw new ConfigError('INVALID_MAC_KEY', error.message);
    throw error;
  }
}

/** An import's answer and audit fields for the secret it took. */
function importedKeyReport(imported: ImportedMacSecret): ImportedKeyReport {
  const warning = weakMacKeyWarning(imported.weakness);
  return { legacyV1: imported.legacyV1, warnings: warning === null ? [] : [warning] };
}

/** What an import's audit row says of the key: its kind and any weakness, never the key. */
function importedKeyAudit(imported: ImportedMacSecret): { macKeyLegacyV1: boolean; macKeyWeak: string[] } {
  return { macKeyLegacyV1: imported.legacyV1, macKeyWeak: [...imported.weakness] };
}

/** The AAD of a mac_keys row's secret (also used by the KEK rotation, kek-rotation.ts). */
export function macKeyAad(subscriptionId: string, keyId: string): SecretAad {
  return { table: 'mac_keys', rowId: `${subscriptionId}/${keyId}`, column: 'secret' };
}

// SQL fragment: a parameter holding ms since the epoch, as timestamptz.
const ts = (n: number): string => `to_timestamp($${n}::float8 / 1000)`;

export class ConfigStore {
  readonly #pool: Pool;
  readonly #box: SecretBox;
  readonly #nowMs: () => number;

  constructor(pool: Pool, secretBox: SecretBox, opts: ConfigStoreOptions = {}) {
    this.#pool = pool;
    this.#box = secretBox;
    this.#nowMs = opts.nowMs ?? Date.now;
  }

  /**
   * A new subscription with its master token (credentials.masterTokenTtlDays)
   * and its first v2 MAC key. The owner user is created (role provider) or
   * reused when `ownerEmail` is given. With `subscriptionId` the subscription
   * takes that id (an existing Master EA's): SUBSCRIPTION_EXISTS when taken.
   * Secrets are in the result only.
   */
  async createSubscription(input: { name: string; ownerEmail?: string; subscriptionId?: string; audit?: AuditContext }): Promise<CreatedSubscription> {
    const created = await this.#createSubscription(input, null);
    return { ...created, macSecretHex: created.macSecretHex! };
  }

  /**
   * A subscription whose first MAC key is the provider's own (a Master EA
   * moving to sigplane keeps its key, and with `subscriptionId` its id):
   * checked as parseMacSecret says (`legacyV1`: the EA's v1 secret, v1
   * only), sealed and audited like a generated key, and not in the result.
   */
  async createSubscriptionWithMacKey(input: {
    name: string;
    ownerEmail?: string;
    subscriptionId?: string;
    macSecret: string;
    legacyV1?: boolean;
    audit?: AuditContext;
  }): Promise<SubscriptionWithImportedKey> {
    const imported = parseMacSecret(input.macSecret, input.legacyV1);
    try {
      const { macSecretHex: _none, ...created } = await this.#createSubscription(input, imported);
      return { ...created, ...importedKeyReport(imported) };
    } finally {
      imported.plaintext.fill(0);
    }
  }

  async #createSubscription(
    input: { name: string; ownerEmail?: string; subscriptionId?: string; audit?: AuditContext },
    imported: ImportedMacSecret | null,
  ): Promise<Omit<CreatedSubscription, 'macSecretHex'> & { macSecretHex: string | null }> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name.length === 0 || name.length > subscriptionConfig.nameCharsMax) invalid(`subscription name must be 1..${subscriptionConfig.nameCharsMax} characters`);
    if (nulCharacter.test(name)) invalid('subscription name must not contain NUL characters');
    let email: string | null = null;
    if (input.ownerEmail !== undefined) {
      email = String(input.ownerEmail).trim().toLowerCase();
      if (email.length < 3 || email.length > admin.emailLengthMax || !/^[^\s@\u0000]+@[^\s@\u0000]+$/.test(email)) invalid('bad owner email');
    }
    if (input.subscriptionId !== undefined) assertUuid(input.subscriptionId, 'subscriptionId');
    const nowMs = this.#nowMs();
    const subscriptionId = input.subscriptionId?.toLowerCase() ?? randomUUID();
    return withTransaction(this.#pool, async (client) => {
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
      const master = await this.#insertToken(client, subscriptionId, 'master', null, credentials.masterTokenTtlDays, nowMs);
      if (master === null) throw new Error('createSubscription: subscription row vanished');
      const mac = await this.#insertMacKey(client, subscriptionId, 1, nowMs, imported?.plaintext ?? null);
      // The owner by id, not by email: personal data stays in users, where GDPR erasure finds it.
      const details = {
        name,
        ownerUserId: ownerId,
        masterTokenId: master.tokenId,
        macKeyId: mac.keyId,
        macKeyImported: imported !== null,
        ...(imported === null ? {} : importedKeyAudit(imported)),
      };
      await this.#auditChange(client, input.audit, configChange('CONFIG', 'CREATE_SUBSCRIPTION', 'subscription', subscriptionId, details), nowMs);
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

  async issueReceiverToken(
    subscriptionId: string,
    opts: { label?: string; ttlDays?: number; audit?: AuditContext } = {},
  ): Promise<IssuedToken> {
    return this.#issue(subscriptionId, 'receiver', opts.label ?? null, opts.ttlDays ?? credentials.licenseTokenTtlDays, opts.audit);
  }

  /** Another master token (rotation: issue the new one, then revoke the old one). */
  async issueMasterToken(
    subscriptionId: string,
    opts: { label?: string; ttlDays?: number; audit?: AuditContext } = {},
  ): Promise<IssuedToken> {
    return this.#issue(subscriptionId, 'master', opts.label ?? null, opts.ttlDays ?? credentials.masterTokenTtlDays, opts.audit);
  }

  async #issue(subscriptionId: string, role: TokenRole, label: string | null, ttlDays: number, audit: AuditContext | undefined): Promise<IssuedToken> {
    assertUuid(subscriptionId, 'subscriptionId');
    assertText(label, 'label', credentials.tokenLabelCharsMax);
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      const issued = await this.#insertToken(client, subscriptionId, role, label, ttlDays, nowMs);
      if (issued === null) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
      const details = { subscriptionId, role, label, expiresAt: issued.expiresAt.toISOString() };
      await this.#auditChange(client, audit, configChange('CREDENTIAL', 'ISSUE', 'license_token', issued.tokenId, details), nowMs);
      return issued;
    });
  }

  async #insertToken(
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

  /** A new MAC key row: generated, or the provider's own (`imported`: what its row seals, not returned). */
  async #insertMacKey(
    client: PoolClient,
    subscriptionId: string,
    generation: number,
    nowMs: number,
    imported: Buffer | null = null,
  ): Promise<{ keyId: string; secretHex: string | null }> {
    const keyId = `k${generation}-${randomBytes(4).toString('hex')}`;
    const secret = imported ?? randomBytes(credentials.macKeyBytes);
    const sealed = this.#box.seal(secret, macKeyAad(subscriptionId, keyId));
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

  /** Allow an IP address or CIDR block; adding an existing entry updates its expiry. */
  async addAllowedIp(
    subscriptionId: string,
    ipOrCidr: string,
    opts: { expiresAt?: Date | null; audit?: AuditContext } = {},
  ): Promise<string> {
    assertUuid(subscriptionId, 'subscriptionId');
    const ip = parseIpOrCidr(ipOrCidr);
    const expiresAtMs = opts.expiresAt == null ? null : opts.expiresAt.getTime();
    if (expiresAtMs !== null && !Number.isFinite(expiresAtMs)) invalid('expiresAt is not a valid date');
    const nowMs = this.#nowMs();
    try {
      return await withTransaction(this.#pool, async (client) => {
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
        await this.#auditChange(client, opts.audit, configChange('CONFIG', 'ALLOW_IP', 'subscription', subscriptionId, details), nowMs);
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
  async removeAllowedIp(subscriptionId: string, ipOrCidr: string, opts: { audit?: AuditContext } = {}): Promise<boolean> {
    assertUuid(subscriptionId, 'subscriptionId');
    const ip = parseIpOrCidr(ipOrCidr);
    try {
      return await withTransaction(this.#pool, async (client) => {
        const { rowCount } = await client.query('DELETE FROM allowed_ips WHERE subscription_id = $1 AND ip_address = $2::cidr::inet', [
          subscriptionId,
          ip,
        ]);
        const removed = (rowCount ?? 0) > 0;
        if (!removed) return false;
        await this.#auditChange(client, opts.audit, configChange('CONFIG', 'REMOVE_IP', 'subscription', subscriptionId, { ip }), this.#nowMs());
        // Running servers close the sessions this entry admitted (and no other entry admits), once this commits.
        await notifyControl(client, { kind: 'ALLOWLIST', subscriptionId });
        return true;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '22P02') return false;
      throw err;
    }
  }

  async listAllowedIps(subscriptionId: string): Promise<AllowedIp[]> {
    assertUuid(subscriptionId, 'subscriptionId');
    const { rows } = await this.#pool.query<{ ip_id: string; ip_address: string; expires_at: Date | null }>(
      'SELECT ip_id, ip_address::text AS ip_address, expires_at FROM allowed_ips WHERE subscription_id = $1 ORDER BY ip_address',
      [subscriptionId],
    );
    return rows.map((r) => ({ ipId: r.ip_id, ipAddress: r.ip_address, expiresAt: r.expires_at }));
  }

  /**
   * Check a token (by hash, from parseToken), the caller's IP and role, in one
   * round trip, and mark the token used on success. Reasons are checked in
   * this order: REVOKED, EXPIRED, WRONG_ROLE, IP_NOT_ALLOWED,
   * SUBSCRIPTION_ISOLATED (the state of a subscription is not told to an IP
   * that is not allowed). With no allowed_ips entry, every IP is refused.
   */
  async authenticate(tokenHash: string, remoteIp: string, role: TokenRole, nowMs?: number): Promise<AuthResult> {
    if (typeof tokenHash !== 'string' || !tokenHashPattern.test(tokenHash)) return { ok: false, reason: 'UNKNOWN_TOKEN' };
    if (role !== 'master' && role !== 'receiver') invalid('role must be master or receiver');
    const ip = normaliseIp(remoteIp);
    const now = nowMs ?? this.#nowMs();
    const { rows } = await this.#pool.query<{
      token_id: string;
      subscription_id: string;
      state: SubscriptionState;
      settings: unknown;
      outcome: AuthFailureReason | 'OK';
    }>(
      `WITH now_ AS (SELECT ${ts(4)} AS ts),
       t AS (
         SELECT lt.token_id, lt.subscription_id, lt.role, lt.expires_at, lt.revoked_at, s.state, s.settings
           FROM license_tokens lt JOIN subscriptions s ON s.subscription_id = lt.subscription_id
          WHERE lt.token_hash = $1
       ),
       v AS (
         SELECT t.token_id, t.subscription_id, t.state, t.settings,
                CASE
                  WHEN t.revoked_at IS NOT NULL AND t.revoked_at <= n.ts THEN 'REVOKED'
                  WHEN t.expires_at IS NOT NULL AND t.expires_at <= n.ts THEN 'EXPIRED'
                  WHEN t.role <> $3 THEN 'WRONG_ROLE'
                  WHEN $2::inet IS NULL OR NOT EXISTS (
                    SELECT 1 FROM allowed_ips a
                     WHERE a.subscription_id = t.subscription_id
                       AND a.ip_address >>= $2::inet
                       AND (a.expires_at IS NULL OR a.expires_at > n.ts)) THEN 'IP_NOT_ALLOWED'
                  WHEN t.state = 'ISOLATED' THEN 'SUBSCRIPTION_ISOLATED'
                  ELSE 'OK'
                END AS outcome
           FROM t, now_ n
       ),
       touched AS (
         UPDATE license_tokens lt SET last_used_at = n.ts
           FROM v, now_ n
          WHERE lt.token_id = v.token_id AND v.outcome = 'OK'
            AND (lt.last_used_at IS NULL OR lt.last_used_at < n.ts - make_interval(secs => $5))
         RETURNING lt.token_id
       )
       SELECT token_id, subscription_id, state, settings, outcome FROM v`,
      [tokenHash, ip, role, now, credentials.tokenLastUsedResolutionSeconds],
    );
    if (rows.length === 0) return { ok: false, reason: 'UNKNOWN_TOKEN' };
    const r = rows[0];
    if (r.outcome !== 'OK') return { ok: false, reason: r.outcome };
    return {
      ok: true,
      subscriptionId: r.subscription_id,
      tokenId: r.token_id,
      settings: mergeSettings(r.settings),
      subscriptionState: r.state,
    };
  }

  /**
   * Revoke a token at once: true if it was active and is now revoked, false
   * if it already was. In the same transaction the revocation is audited
   * (CREDENTIAL / REVOKE) and announced on the control channel, so running
   * servers close the token's live sessions.
   */
  async revokeToken(tokenId: string, opts: { reason?: string; audit?: AuditContext } = {}): Promise<boolean> {
    return (await this.revokeTokenDetailed(tokenId, opts)).revoked;
  }

  /** revokeToken with the token's subscription and role; UNKNOWN_TOKEN when there is no such token. */
  async revokeTokenDetailed(tokenId: string, opts: { reason?: string; audit?: AuditContext } = {}): Promise<RevocationResult> {
    assertUuid(tokenId, 'tokenId');
    const reason = opts.reason === undefined ? null : assertReason(opts.reason);
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{ token_id: string; subscription_id: string; role: TokenRole; revoked_at: Date | null }>(
        'SELECT token_id, subscription_id, role, revoked_at FROM license_tokens WHERE token_id = $1 FOR UPDATE',
        [tokenId],
      );
      if (rows.length === 0) throw new ConfigError('UNKNOWN_TOKEN', `no token ${tokenId}`);
      const token = rows[0];
      const result = { tokenId: token.token_id, subscriptionId: token.subscription_id, role: token.role };
      if (token.revoked_at !== null && token.revoked_at.getTime() <= nowMs) return { revoked: false, ...result };
      await client.query(`UPDATE license_tokens SET revoked_at = ${ts(2)} WHERE token_id = $1`, [token.token_id, nowMs]);
      await this.#insertAudit(client, {
        ...auditFields(opts.audit),
        eventType: 'CREDENTIAL',
        action: 'REVOKE',
        resourceType: 'license_token',
        resourceId: token.token_id,
        metadata: { ...opts.audit?.metadata, subscriptionId: token.subscription_id, role: token.role, reason },
        eventTimeMs: nowMs,
      });
      await notifyControl(client, { kind: 'REVOKE', tokenId: token.token_id, subscriptionId: token.subscription_id });
      return { revoked: true, ...result };
    });
  }

  /** The MAC keys valid now (current first), decrypted. */
  async loadMacKeys(subscriptionId: string, nowMs?: number): Promise<MacKey[]> {
    assertUuid(subscriptionId, 'subscriptionId');
    const { rows } = await this.#pool.query<{
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
      [subscriptionId, nowMs ?? this.#nowMs()],
    );
    return rows.map((r) => ({
      keyId: r.key_id,
      ...openedMacSecret(
        this.#box.open({ ciphertext: r.ciphertext, nonce: r.nonce, authTag: r.auth_tag, kekVersion: r.kek_version }, macKeyAad(subscriptionId, r.key_id)),
      ),
      notAfterMs: r.not_after_ms === null ? null : Math.round(r.not_after_ms),
    }));
  }

  /**
   * A new current MAC key; the current one(s) stay valid for `overlapMs` more
   * (not_after = now + overlapMs), so masters can switch without a gap.
   */
  async rotateMacKey(subscriptionId: string, opts: { overlapMs: number }): Promise<{ keyId: string; secretHex: string }> {
    assertUuid(subscriptionId, 'subscriptionId');
    assertOverlapMs(opts.overlapMs);
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      await this.#lockSubscription(client, subscriptionId);
      const mac = await this.#rotateMacKeyIn(client, subscriptionId, opts.overlapMs, nowMs);
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
  async importMacKey(
    subscriptionId: string,
    opts: { macSecret: string; legacyV1?: boolean; overlapMs: number; reason?: string; audit?: AuditContext; refuseWhileOverlapOpen?: boolean },
  ): Promise<ImportedMacKey> {
    assertUuid(subscriptionId, 'subscriptionId');
    assertOverlapMs(opts.overlapMs);
    const reason = opts.reason === undefined ? null : assertReason(opts.reason);
    const imported = parseMacSecret(opts.macSecret, opts.legacyV1);
    const nowMs = this.#nowMs();
    try {
      return await withTransaction(this.#pool, async (client) => {
        await this.#lockSubscription(client, subscriptionId);
        if (opts.refuseWhileOverlapOpen === true) await this.#refuseWhileOverlapOpen(client, subscriptionId, nowMs);
        const mac = await this.#rotateMacKeyIn(client, subscriptionId, opts.overlapMs, nowMs, imported.plaintext);
        const auditLogId = await this.#insertAudit(client, {
          ...auditFields(opts.audit),
          eventType: 'CREDENTIAL',
          action: 'IMPORT_MAC_KEY',
          resourceType: 'subscription',
          resourceId: subscriptionId,
          metadata: { ...opts.audit?.metadata, reason, macKeyId: mac.keyId, overlapMs: opts.overlapMs, ...importedKeyAudit(imported) },
          eventTimeMs: nowMs,
        });
        const previousMacKeysValidUntil = new Date(nowMs + opts.overlapMs);
        return { subscriptionId, macKeyId: mac.keyId, previousMacKeysValidUntil, auditLogId, ...importedKeyReport(imported) };
      });
    } finally {
      imported.plaintext.fill(0);
    }
  }

  /** ROTATION_IN_PROGRESS while a previous key's overlap is still open (the admin API's 409). */
  async #refuseWhileOverlapOpen(client: PoolClient, subscriptionId: string, nowMs: number): Promise<void> {
    const open = await client.query(`SELECT 1 FROM mac_keys WHERE subscription_id = $1 AND not_after > ${ts(2)} LIMIT 1`, [subscriptionId, nowMs]);
    if (open.rows.length > 0) throw new ConfigError('ROTATION_IN_PROGRESS', 'a previous rotation\'s overlap window is still open');
  }

  /** Rotations of one subscription run one at a time: SELECT … FOR UPDATE, or UNKNOWN_SUBSCRIPTION. */
  async #lockSubscription(client: PoolClient, subscriptionId: string): Promise<SubscriptionState> {
    const { rows } = await client.query<{ state: SubscriptionState }>(
      'SELECT state FROM subscriptions WHERE subscription_id = $1 FOR UPDATE',
      [subscriptionId],
    );
    if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
    return rows[0].state;
  }

  async #rotateMacKeyIn(
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
    return this.#insertMacKey(client, subscriptionId, rows[0].n + 1, nowMs, imported);
  }

  /**
   * Incident response, "rotate every credential" of a provider in one
   * transaction: a new MAC key (the previous one valid `overlapMs` more), a
   * new master token, and every other master token revoked at once (their
   * sessions are closed by the servers, told on the control channel).
   * Receiver licenses are the subscribers' and are revoked one by one.
   */
  async rotateCredentials(
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
    const reason = opts.reason === undefined ? null : assertReason(opts.reason);
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      await this.#lockSubscription(client, subscriptionId);
      if (opts.refuseWhileOverlapOpen === true) await this.#refuseWhileOverlapOpen(client, subscriptionId, nowMs);
      const mac = await this.#rotateMacKeyIn(client, subscriptionId, opts.overlapMs, nowMs);
      const master = await this.#insertToken(client, subscriptionId, 'master', 'rotated', credentials.masterTokenTtlDays, nowMs);
      if (master === null) throw new Error('rotateCredentials: subscription row vanished');
      const { rows } = await client.query<{ token_id: string }>(
        `UPDATE license_tokens SET revoked_at = ${ts(3)}
          WHERE subscription_id = $1 AND role = 'master' AND token_id <> $2
            AND (revoked_at IS NULL OR revoked_at > ${ts(3)})
          RETURNING token_id`,
        [subscriptionId, master.tokenId, nowMs],
      );
      if (rows.length > credentials.rotationRevokedTokensMax) throw new Error(`rotateCredentials: ${rows.length} master tokens to revoke`);
      const revokedMasterTokenIds = rows.map((r) => r.token_id).sort();
      const auditLogId = await this.#insertAudit(client, {
        ...auditFields(opts.audit),
        eventType: 'INCIDENT',
        action: 'ROTATE_CREDENTIALS',
        resourceType: 'subscription',
        resourceId: subscriptionId,
        metadata: {
          ...opts.audit?.metadata,
          reason,
          macKeyId: mac.keyId,
          overlapMs: opts.overlapMs,
          masterTokenId: master.tokenId,
          revokedMasterTokenIds,
        },
        eventTimeMs: nowMs,
      });
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

  /**
   * Incident response: cut a subscription off. subscriptions.state becomes
   * ISOLATED (upgrades are refused SUBSCRIPTION_ISOLATED from now on), the
   * action is audited (INCIDENT / ISOLATE, the reason in metadata), and
   * running servers are told on the control channel: they isolate its actor
   * and close every connection at once. Isolating again is audited and
   * re-announced (servers close any straggler).
   */
  async isolateSubscription(subscriptionId: string, opts: { reason: string; audit?: AuditContext }): Promise<IsolationChange> {
    return this.#changeIsolation(subscriptionId, 'ISOLATE', opts);
  }

  /** Lift an isolation: ACTIVE again (only if ISOLATED), audited (INCIDENT / LIFT), announced. */
  async liftIsolation(subscriptionId: string, opts: { reason: string; audit?: AuditContext }): Promise<IsolationChange> {
    return this.#changeIsolation(subscriptionId, 'LIFT', opts);
  }

  async #changeIsolation(
    subscriptionId: string,
    action: 'ISOLATE' | 'LIFT',
    opts: { reason: string; audit?: AuditContext },
  ): Promise<IsolationChange> {
    assertUuid(subscriptionId, 'subscriptionId');
    const reason = assertReason(opts.reason);
    const nowMs = this.#nowMs();
    return withTransaction(this.#pool, async (client) => {
      const previousState = await this.#lockSubscription(client, subscriptionId);
      let state = previousState;
      if (action === 'ISOLATE') state = SubscriptionState.ISOLATED;
      else if (previousState === SubscriptionState.ISOLATED) state = SubscriptionState.ACTIVE;
      if (state !== previousState) {
        await client.query('UPDATE subscriptions SET state = $2 WHERE subscription_id = $1', [subscriptionId, state]);
      }
      const auditLogId = await this.#insertAudit(client, {
        ...auditFields(opts.audit),
        eventType: 'INCIDENT',
        action,
        resourceType: 'subscription',
        resourceId: subscriptionId,
        metadata: { ...opts.audit?.metadata, reason, previousState, state },
        eventTimeMs: nowMs,
      });
      await notifyControl(client, { kind: action, subscriptionId });
      return { subscriptionId, previousState, state, auditLogId };
    });
  }

  async setSubscriptionState(subscriptionId: string, state: SubscriptionState): Promise<void> {
    assertUuid(subscriptionId, 'subscriptionId');
    if (!(Object.values(SubscriptionState) as string[]).includes(state)) invalid(`unknown subscription state ${String(state)}`);
    const { rowCount } = await this.#pool.query('UPDATE subscriptions SET state = $2 WHERE subscription_id = $1', [
      subscriptionId,
      state,
    ]);
    if ((rowCount ?? 0) === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
  }

  /** Replace a subscription's overrides of SubscriptionSettings (validated). */
  async setSubscriptionSettings(subscriptionId: string, overrides: Partial<SubscriptionSettings>): Promise<void> {
    assertUuid(subscriptionId, 'subscriptionId');
    const valid = validateSettingsOverrides(overrides);
    const { rowCount } = await this.#pool.query(
      'UPDATE subscriptions SET settings = $2::jsonb WHERE subscription_id = $1',
      [subscriptionId, JSON.stringify(valid)],
    );
    if ((rowCount ?? 0) === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
  }

  /** Append to audit_log (inside the caller's transaction when `q` is its client); returns log_id. Never put secrets in it. */
  async audit(entry: AuditEntry, q: Pool | PoolClient = this.#pool): Promise<string> {
    return this.#insertAudit(q, entry);
  }

  /**
   * The audit row of a configuration change, in the change's transaction,
   * when the caller says who acts (`audit`: the CLI does; the admin API
   * writes its own row per request instead).
   */
  async #auditChange(client: PoolClient, audit: AuditContext | undefined, change: ConfigChange, nowMs: number): Promise<void> {
    if (audit === undefined) return;
    await this.#insertAudit(client, { ...configChangeEntry(audit, change), eventTimeMs: nowMs });
  }

  async #insertAudit(q: Pool | PoolClient, entry: AuditEntry): Promise<string> {
    assertText(entry.eventType, 'eventType', auditLog.shortTextCharsMax);
    assertText(entry.action, 'action', auditLog.shortTextCharsMax);
    if (!entry.eventType || !entry.action) invalid('audit: eventType and action are required');
    assertText(entry.resourceType, 'resourceType', auditLog.shortTextCharsMax);
    if (entry.userId != null) assertUuid(entry.userId, 'userId');
    if (entry.resourceId != null) assertUuid(entry.resourceId, 'resourceId');
    let ip: string | null = null;
    if (entry.ipAddress != null) {
      ip = normaliseIp(entry.ipAddress);
      if (ip === null) invalid('audit: ipAddress is not an IP address');
    }
    if (entry.responseStatus != null && !Number.isInteger(entry.responseStatus)) invalid('audit: responseStatus must be an integer');
    const userAgent = entry.userAgent == null ? null : withoutNul(String(entry.userAgent).slice(0, auditLog.userAgentCharsMax));
    const errorMessage = entry.errorMessage == null ? null : withoutNul(String(entry.errorMessage).slice(0, auditLog.errorMessageCharsMax));
    const { rows } = await q.query<{ log_id: string }>(
      `INSERT INTO audit_log (event_time, user_id, event_type, resource_type, resource_id, action, ip_address,
                              user_agent, request_payload, response_status, error_message, metadata)
       VALUES (${ts(1)}, $2, $3, $4, $5, $6, $7::inet, $8, $9::jsonb, $10, $11, $12::jsonb)
       RETURNING log_id`,
      [
        entry.eventTimeMs ?? this.#nowMs(),
        entry.userId ?? null,
        entry.eventType,
        entry.resourceType ?? null,
        entry.resourceId ?? null,
        entry.action,
        ip,
        userAgent,
        entry.requestPayload === undefined ? null : jsonbText(entry.requestPayload),
        entry.responseStatus ?? null,
        errorMessage,
        entry.metadata == null ? null : jsonbText(entry.metadata),
      ],
    );
    return rows[0].log_id;
  }
}

/** One configuration change, as its audit row names it. */
export interface ConfigChange {
  eventType: 'CONFIG' | 'CREDENTIAL';
  action: string;
  resourceType: 'subscription' | 'license_token';
  resourceId: string;
  /** What changed (ids, names, addresses, settings): never a secret or an email. */
  details: Record<string, unknown>;
}

export function configChange(
  eventType: ConfigChange['eventType'],
  action: string,
  resourceType: ConfigChange['resourceType'],
  resourceId: string,
  details: Record<string, unknown>,
): ConfigChange {
  return { eventType, action, resourceType, resourceId, details };
}

/** The audit_log entry of a configuration change made by `audit`'s actor. */
export function configChangeEntry(audit: AuditContext, change: ConfigChange): AuditEntry {
  return {
    ...auditFields(audit),
    eventType: change.eventType,
    action: change.action,
    resourceType: change.resourceType,
    resourceId: change.resourceId,
    metadata: { ...audit.metadata, ...change.details },
  };
}

function auditFields(context: AuditContext | undefined): Pick<AuditEntry, 'userId' | 'ipAddress' | 'userAgent'> {
  return { userId: context?.userId ?? null, ipAddress: context?.ipAddress ?? null, userAgent: context?.userAgent ?? null };
}
