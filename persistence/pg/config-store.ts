/**
 * The configuration store as the server, the admin API and the CLI hold it:
 * one object over the pool, the secret box and the clock, each method a
 * call of a function in the file of its concern:
 *
 * - subscription-store.ts: subscriptions (create, with the provider's own
 *   MAC key too; state, settings);
 * - license-token-store.ts: license tokens (issue, revoke);
 * - token-authentication.ts: an upgrade's token, address and role;
 * - allowed-ip-store.ts: allowlists;
 * - mac-key-store.ts: MAC keys, generated and imported (imported-mac-secret.ts);
 * - credential-rotation.ts: MAC key rotation and import, "rotate every credential";
 * - subscription-isolation.ts: isolate, lift;
 * - audit-append.ts: the audit_log rows they write.
 *
 * Code that needs one concern imports its file, not this one. The rules of
 * all of them: SQL text is constant and values are parameters; secrets are
 * returned once and never stored in clear (tokens as SHA-256 hashes, MAC
 * keys sealed by the SecretBox, the KEK never in Postgres); time comes from
 * the injectable clock (`nowMs`), passed to SQL as a parameter.
 */
import type { Pool, PoolClient } from 'pg';
import { credentials, type SubscriptionSettings, type SubscriptionState } from '@sigplane/protocol';
import { addAllowedIp, listAllowedIps, removeAllowedIp, type AllowedIp } from './allowed-ip-store';
import { appendAudit, type AuditContext, type AuditEntry } from './audit-append';
import { importMacKey, rotateCredentials, rotateMacKey, type ImportedMacKey, type RotatedCredentials } from './credential-rotation';
import { issueToken, revokeToken, type IssuedToken, type RevocationResult } from './license-token-store';
import { loadMacKeys, type MacKey } from './mac-key-store';
import type { SecretBox } from './secret-box';
import type { StoreContext } from './store-context';
import { changeIsolation, type IsolationChange } from './subscription-isolation';
import {
  createSubscription,
  createSubscriptionWithMacKey,
  setSubscriptionSettings,
  setSubscriptionState,
  type CreatedSubscription,
  type NewSubscription,
  type SubscriptionWithImportedKey,
} from './subscription-store';
import { authenticate, type AuthResult } from './token-authentication';
import type { TokenRole } from './tokens';

// io/upgrade.ts names the result of authenticate by this path.
export type { AuthResult } from './token-authentication';

export interface ConfigStoreOptions {
  /** The clock (ms since the epoch). Default Date.now. */
  nowMs?: () => number;
}

type TokenOptions = { label?: string; ttlDays?: number; audit?: AuditContext };

export class ConfigStore {
  readonly #ctx: StoreContext;

  constructor(pool: Pool, secretBox: SecretBox, opts: ConfigStoreOptions = {}) {
    this.#ctx = { pool, box: secretBox, nowMs: opts.nowMs ?? Date.now };
  }

  async createSubscription(input: NewSubscription): Promise<CreatedSubscription> {
    return createSubscription(this.#ctx, input);
  }

  async createSubscriptionWithMacKey(input: Parameters<typeof createSubscriptionWithMacKey>[1]): Promise<SubscriptionWithImportedKey> {
    return createSubscriptionWithMacKey(this.#ctx, input);
  }

  async setSubscriptionState(subscriptionId: string, state: SubscriptionState): Promise<void> {
    return setSubscriptionState(this.#ctx, subscriptionId, state);
  }

  async setSubscriptionSettings(subscriptionId: string, overrides: Partial<SubscriptionSettings>): Promise<void> {
    return setSubscriptionSettings(this.#ctx, subscriptionId, overrides);
  }

  async issueReceiverToken(subscriptionId: string, opts: TokenOptions = {}): Promise<IssuedToken> {
    const ttlDays = opts.ttlDays ?? credentials.licenseTokenTtlDays;
    return issueToken(this.#ctx, subscriptionId, 'receiver', { label: opts.label ?? null, ttlDays, audit: opts.audit });
  }

  /** Another master token (rotation: issue the new one, then revoke the old one). */
  async issueMasterToken(subscriptionId: string, opts: TokenOptions = {}): Promise<IssuedToken> {
    const ttlDays = opts.ttlDays ?? credentials.masterTokenTtlDays;
    return issueToken(this.#ctx, subscriptionId, 'master', { label: opts.label ?? null, ttlDays, audit: opts.audit });
  }

  /** True if the token was active and is now revoked, false if it already was. */
  async revokeToken(tokenId: string, opts: Parameters<typeof revokeToken>[2] = {}): Promise<boolean> {
    return (await revokeToken(this.#ctx, tokenId, opts)).revoked;
  }

  /** revokeToken with the token's subscription and role; UNKNOWN_TOKEN when there is no such token. */
  async revokeTokenDetailed(tokenId: string, opts: Parameters<typeof revokeToken>[2] = {}): Promise<RevocationResult> {
    return revokeToken(this.#ctx, tokenId, opts);
  }

  async authenticate(tokenHash: string, remoteIp: string, role: TokenRole, nowMs?: number): Promise<AuthResult> {
    return authenticate(this.#ctx, tokenHash, remoteIp, role, nowMs);
  }

  async addAllowedIp(subscriptionId: string, ipOrCidr: string, opts: Parameters<typeof addAllowedIp>[3] = {}): Promise<string> {
    return addAllowedIp(this.#ctx, subscriptionId, ipOrCidr, opts);
  }

  async removeAllowedIp(subscriptionId: string, ipOrCidr: string, opts: Parameters<typeof removeAllowedIp>[3] = {}): Promise<boolean> {
    return removeAllowedIp(this.#ctx, subscriptionId, ipOrCidr, opts);
  }

  async listAllowedIps(subscriptionId: string): Promise<AllowedIp[]> {
    return listAllowedIps(this.#ctx, subscriptionId);
  }

  async loadMacKeys(subscriptionId: string, nowMs?: number): Promise<MacKey[]> {
    return loadMacKeys(this.#ctx, subscriptionId, nowMs);
  }

  async rotateMacKey(subscriptionId: string, opts: { overlapMs: number }): Promise<{ keyId: string; secretHex: string }> {
    return rotateMacKey(this.#ctx, subscriptionId, opts);
  }

  async importMacKey(subscriptionId: string, opts: Parameters<typeof importMacKey>[2]): Promise<ImportedMacKey> {
    return importMacKey(this.#ctx, subscriptionId, opts);
  }

  async rotateCredentials(subscriptionId: string, opts: Parameters<typeof rotateCredentials>[2]): Promise<RotatedCredentials> {
    return rotateCredentials(this.#ctx, subscriptionId, opts);
  }

  async isolateSubscription(subscriptionId: string, opts: Parameters<typeof changeIsolation>[3]): Promise<IsolationChange> {
    return changeIsolation(this.#ctx, subscriptionId, 'ISOLATE', opts);
  }

  async liftIsolation(subscriptionId: string, opts: Parameters<typeof changeIsolation>[3]): Promise<IsolationChange> {
    return changeIsolation(this.#ctx, subscriptionId, 'LIFT', opts);
  }

  /** Append to audit_log (inside the caller's transaction when `q` is its client); returns log_id. Never put secrets in it. */
  async audit(entry: AuditEntry, q: Pool | PoolClient = this.#ctx.pool): Promise<string> {
    return appendAudit(q, entry, this.#ctx.nowMs);
  }
}
