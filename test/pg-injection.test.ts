/**
 * Injection: hostile strings (quotes, backslashes, dollar quotes, NUL,
 * comments, LIKE wildcards, unicode) through every ConfigStore entry point
 * that reaches SQL, and through withTenant and the audit-log maintenance.
 *
 * Each call must either succeed, storing the string exactly as given (it
 * travelled as a parameter, never as SQL), or fail with a stable code
 * (ConfigError INVALID_ARGUMENT / UNKNOWN_*; TenantError INVALID_TENANT),
 * never with a raw Postgres error. A refused call changes nothing at all;
 * an accepted one changes only its own row (checked against a fingerprint
 * of every table).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../persistence/pg/config-errors';
import { ConfigStore } from '../persistence/pg/config-store';
import type { CreatedSubscription } from '../persistence/pg/subscription-store';
import { SecretBox } from '../persistence/pg/secret-box';
import { TenantError, withTenant, type Tenant } from '../persistence/pg/tenant';
import { parseToken } from '../persistence/pg/tokens';
import { createTestDatabase, type TestDatabase } from './support/database';

const hostile = [
  "'",
  "''",
  "'; DROP TABLE subscriptions; --",
  "x' OR '1'='1",
  '" OR ""="',
  '\\',
  "\\'; SELECT pg_sleep(5); --",
  '$$; DROP TABLE users; $$',
  '$tag$ x $tag$',
  'a\u0000b',
  '\u0000',
  '/* */ UNION SELECT token_hash FROM license_tokens --',
  '%_%',
  'E\'\\x00\'',
  '🚀 中文 é \u202e\u0301 ‮',
  '\ud800',
  ' ',
  '',
  'x'.repeat(300),
];

let db: TestDatabase;
let store: ConfigStore;
let a: CreatedSubscription;
let b: CreatedSubscription;
let receiverHash: string;

/** Every table's content, as one hash per table (and which tables exist). */
async function fingerprint(): Promise<Record<string, string>> {
  const { rows: tables } = await db.pool.query<{ t: string }>(
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'audit_log_p%' ORDER BY 1",
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    // The name comes from pg_tables, quoted as an identifier: not input.
    const { rows } = await db.pool.query<{ h: string | null; n: number }>(
      `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h, count(*)::int AS n FROM "${t.replace(/"/g, '""')}" x`,
    );
    out[t] = `${rows[0]!.n}:${rows[0]!.h}`;
  }
  return out;
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

async function attempt(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TenantError) return { ok: false, code: error.code };
    if ((error as { code?: string }).code === 'INVALID_ARGUMENT') return { ok: false, code: 'INVALID_ARGUMENT' };
    throw new Error(`unstable error (not a ConfigError): ${(error as Error).message} [${(error as { code?: string }).code}]`);
  }
}

/** A call that must be refused with one of `codes` and change nothing. */
async function refused(fn: () => Promise<unknown>, codes: string[] = ['INVALID_ARGUMENT']): Promise<void> {
  const before = await fingerprint();
  const outcome = await attempt(fn);
  expect(outcome.ok).toBe(false);
  if (!outcome.ok) expect(codes).toContain(outcome.code);
  expect(await fingerprint()).toEqual(before);
}

/** Tables whose fingerprint changed. */
function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys({ ...before, ...after }).filter((t) => before[t] !== after[t]).sort();
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = new ConfigStore(db.pool, SecretBox.fromKey(randomBytes(32)));
  a = await store.createSubscription({ name: 'alpha', ownerEmail: 'alpha@example.com' });
  b = await store.createSubscription({ name: 'beta' });
  await store.addAllowedIp(a.subscriptionId, '127.0.0.1');
  const r = await store.issueReceiverToken(a.subscriptionId);
  receiverHash = parseToken(r.token)!.hash;
});
afterAll(async () => {
  await db?.drop();
});

describe('hostile strings through the ConfigStore', () => {
  it('ids (subscription, token): refused as INVALID_ARGUMENT, nothing changes', async () => {
    for (const h of hostile) {
      await refused(() => store.issueReceiverToken(h));
      await refused(() => store.issueMasterToken(h));
      await refused(() => store.addAllowedIp(h, '10.0.0.1'));
      await refused(() => store.removeAllowedIp(h, '10.0.0.1'));
      await refused(() => store.listAllowedIps(h));
      await refused(() => store.revokeToken(h));
      await refused(() => store.loadMacKeys(h));
      await refused(() => store.rotateMacKey(h, { overlapMs: 0 }));
      await refused(() => store.rotateCredentials(h, { overlapMs: 0 }));
      await refused(() => store.isolateSubscription(h, { reason: 'x' }));
      await refused(() => store.setSubscriptionState(h, 'ACTIVE' as never));
      await refused(() => store.setSubscriptionSettings(h, {}));
    }
  });

  it('addresses, states, setting names and symbols: refused, nothing changes', async () => {
    for (const h of hostile) {
      await refused(() => store.addAllowedIp(a.subscriptionId, h));
      await refused(() => store.removeAllowedIp(a.subscriptionId, h));
      await refused(() => store.setSubscriptionState(a.subscriptionId, h as never));
      await refused(() => store.setSubscriptionSettings(a.subscriptionId, { [h]: 1 } as never));
      await refused(() => store.setSubscriptionSettings(a.subscriptionId, { pipSizes: { [h]: 0.1 } }));
    }
  });

  it('authenticate: a hostile token hash, address or role never reaches SQL as text', async () => {
    for (const h of hostile) {
      const before = await fingerprint();
      expect(await store.authenticate(h, '127.0.0.1', 'receiver')).toEqual({ ok: false, reason: 'UNKNOWN_TOKEN' });
      expect(await store.authenticate(receiverHash, h, 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
      expect(await fingerprint()).toEqual(before);
      await refused(() => store.authenticate(receiverHash, '127.0.0.1', h as never));
    }
    // The real credential still works.
    expect(await store.authenticate(receiverHash, '127.0.0.1', 'receiver')).toMatchObject({ ok: true, subscriptionId: a.subscriptionId });
  });

  it('free text (names, emails, labels, reasons) is stored exactly as given, or refused with a stable code', async () => {
    for (const h of hostile) {
      // Subscription name.
      let before = await fingerprint();
      const created = await attempt(() => store.createSubscription({ name: h }));
      if (created.ok) {
        const id = (created.value as CreatedSubscription).subscriptionId;
        const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM subscriptions WHERE subscription_id = $1', [id]);
        expect(rows[0]!.name).toBe(Buffer.from(h.trim(), 'utf8').toString('utf8'));
        expect(changed(before, await fingerprint())).toEqual(['license_tokens', 'mac_keys', 'subscriptions']);
      } else {
        expect(created.code).toBe('INVALID_ARGUMENT');
        expect(await fingerprint()).toEqual(before);
      }

      // Owner email (hostile ones fail the address check; none may reach SQL as text).
      before = await fingerprint();
      const owned = await attempt(() => store.createSubscription({ name: 'owned', ownerEmail: `${h}@example.com` }));
      if (owned.ok) {
        const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email = $1', [`${h}@example.com`.trim().toLowerCase()]);
        expect(rows[0]!.n).toBe(1);
        expect(changed(before, await fingerprint())).toEqual(['license_tokens', 'mac_keys', 'subscriptions', 'users']);
      } else {
        expect(owned.code).toBe('INVALID_ARGUMENT');
        expect(await fingerprint()).toEqual(before);
      }

      // Token label.
      before = await fingerprint();
      const labelled = await attempt(() => store.issueReceiverToken(b.subscriptionId, { label: h }));
      if (labelled.ok) {
        const id = (labelled.value as { tokenId: string }).tokenId;
        const { rows } = await db.pool.query<{ label: string }>('SELECT label FROM license_tokens WHERE token_id = $1', [id]);
        expect(rows[0]!.label).toBe(Buffer.from(h, 'utf8').toString('utf8'));
        expect(changed(before, await fingerprint())).toEqual(['license_tokens']);
      } else {
        expect(labelled.code).toBe('INVALID_ARGUMENT');
        expect(await fingerprint()).toEqual(before);
      }

      // Incident reason: stored in the audit row's metadata, subscription b only.
      before = await fingerprint();
      const isolated = await attempt(() => store.isolateSubscription(b.subscriptionId, { reason: h }));
      if (isolated.ok) {
        const { auditLogId } = isolated.value as { auditLogId: string };
        const { rows } = await db.pool.query<{ reason: string; resource_id: string }>(
          "SELECT metadata->>'reason' AS reason, resource_id FROM audit_log WHERE log_id = $1",
          [auditLogId],
        );
        expect(rows[0]).toEqual({ reason: Buffer.from(h.trim(), 'utf8').toString('utf8'), resource_id: b.subscriptionId });
        expect(changed(before, await fingerprint())).toEqual(expect.arrayContaining(['audit_log']));
        await store.liftIsolation(b.subscriptionId, { reason: 'test over' });
      } else {
        expect(isolated.code).toBe('INVALID_ARGUMENT');
        expect(await fingerprint()).toEqual(before);
      }
    }
    // Every table is still there, and subscription a is untouched.
    const { rows } = await db.pool.query<{ name: string; state: string }>('SELECT name, state FROM subscriptions WHERE subscription_id = $1', [a.subscriptionId]);
    expect(rows[0]).toEqual({ name: 'alpha', state: 'ACTIVE' });
  });

  it('audit entries: wire text is kept verbatim (NUL as U+FFFD), short codes are checked', async () => {
    for (const h of hostile) {
      const before = await fingerprint();
      const outcome = await attempt(() =>
        store.audit({ eventType: h, action: h, userAgent: h, errorMessage: h, metadata: { [`k${h.length}`]: h }, requestPayload: { q: h } }),
      );
      if (outcome.ok) {
        const { rows } = await db.pool.query<{ event_type: string; user_agent: string; m: string; q: string }>(
          `SELECT event_type, user_agent, metadata->>$2 AS m, request_payload->>'q' AS q FROM audit_log WHERE log_id = $1`,
          [outcome.value, `k${h.length}`],
        );
        const stored = Buffer.from(h.replace(/\u0000/g, '\ufffd'), 'utf8').toString('utf8');
        expect(rows[0]).toEqual({ event_type: stored, user_agent: stored, m: stored, q: stored });
        expect(changed(before, await fingerprint())).toEqual(['audit_log']);
      } else {
        expect(outcome.code).toBe('INVALID_ARGUMENT');
        expect(await fingerprint()).toEqual(before);
      }
    }
  });
});

describe('hostile strings through withTenant', () => {
  it('a hostile tenant id or role is refused before any SQL (INVALID_TENANT)', async () => {
    for (const h of hostile) {
      await refused(() => withTenant(db.pool, { userId: h, role: 'admin' } as Tenant, async () => 1), ['INVALID_TENANT']);
      await refused(() => withTenant(db.pool, { userId: a.subscriptionId, role: h } as unknown as Tenant, async () => 1), ['INVALID_TENANT']);
    }
  });
});
