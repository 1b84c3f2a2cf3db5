import { randomBytes } from 'node:crypto';
import { Client, escapeIdentifier, type Pool, type PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, subscriptionDefaults } from '@sigplane/protocol';
import { ConfigError } from '../persistence/pg/config-errors';
import { ConfigStore } from '../persistence/pg/config-store';
import { controlChannel, encodeControlMessage, parseControlMessage } from '../persistence/pg/control-channel';
import { createPool } from '../persistence/pg/pool';
import { SecretBox } from '../persistence/pg/secret-box';
import { generateToken, parseToken } from '../persistence/pg/tokens';
import { createTestDatabase, type TestDatabase } from './support/database';

const dayMs = 24 * 3600 * 1000;

interface Recorded {
  text: string;
  values: unknown[];
}

/** A pool whose every query (pool.query and transactions alike) is recorded with its parameters. */
function recordingPool(url: string, log: Recorded[]): Pool {
  const pool = createPool(url);
  pool.on('connect', (client: PoolClient) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text: string; values?: unknown[] };
      const text = typeof first === 'string' ? first : first.text;
      const values = (typeof first === 'string' ? args[1] : first.values) as unknown[] | undefined;
      log.push({ text, values: Array.isArray(values) ? values : [] });
      return original(...args);
    };
  });
  return pool;
}

/** Every text form a secret could take in SQL or a parameter. */
function forms(secret: Buffer): string[] {
  return [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'), secret.toString('latin1')];
}

function paramText(v: unknown): string {
  if (Buffer.isBuffer(v)) return `${v.toString('hex')} ${v.toString('base64')} ${v.toString('latin1')}`;
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
}

let db: TestDatabase;
let clockMs = Date.UTC(2030, 0, 1);
let store: ConfigStore;
const kek = randomBytes(32);

beforeAll(async () => {
  db = await createTestDatabase();
  store = new ConfigStore(db.pool, SecretBox.fromKey(kek), { nowMs: () => clockMs });
});
afterAll(async () => {
  await db?.drop();
});

async function subscriptionWithIp(ip: string | null = '203.0.113.7') {
  const created = await store.createSubscription({ name: 'gold scalper' });
  if (ip !== null) await store.addAllowedIp(created.subscriptionId, ip);
  const receiver = await store.issueReceiverToken(created.subscriptionId, { label: 'vps-1' });
  return {
    ...created,
    receiver,
    masterHash: parseToken(created.masterToken)!.hash,
    receiverHash: parseToken(receiver.token)!.hash,
  };
}

describe('ConfigStore.createSubscription / issueReceiverToken', () => {
  it('returns the secrets once and stores hash, prefix and ciphertext only', async () => {
    const s = await store.createSubscription({ name: 'EURUSD trend', ownerEmail: ' Provider@Example.com ' });
    expect(s.masterToken).toMatch(/^spm_/);
    expect(s.macKeyId).toMatch(/^k1-[0-9a-f]{8}$/);
    expect(s.macSecretHex).toMatch(/^[0-9a-f]{64}$/);
    expect(s.masterTokenExpiresAt.getTime()).toBe(clockMs + credentials.masterTokenTtlDays * dayMs);
    const tok = await db.pool.query('SELECT role, token_hash, token_prefix FROM license_tokens WHERE token_id = $1', [
      s.masterTokenId,
    ]);
    expect(tok.rows[0]).toEqual({ role: 'master', token_hash: parseToken(s.masterToken)!.hash, token_prefix: s.masterToken.slice(0, 12) });
    const owner = await db.pool.query(
      'SELECT u.email, u.role FROM subscriptions s JOIN users u ON u.user_id = s.owner_user_id WHERE s.subscription_id = $1',
      [s.subscriptionId],
    );
    expect(owner.rows[0]).toEqual({ email: 'provider@example.com', role: 'provider' });
    // The same owner again: reused, not duplicated.
    await store.createSubscription({ name: 'second', ownerEmail: 'provider@example.com' });
    const users = await db.pool.query("SELECT count(*)::int AS n FROM users WHERE email = 'provider@example.com'");
    expect(users.rows[0].n).toBe(1);
  });

  it('receiver tokens expire after credentials.licenseTokenTtlDays by default', async () => {
    const s = await store.createSubscription({ name: 'ttl' });
    const r = await store.issueReceiverToken(s.subscriptionId);
    expect(r.token).toMatch(/^spr_/);
    expect(r.expiresAt.getTime()).toBe(clockMs + credentials.licenseTokenTtlDays * dayMs);
    const r7 = await store.issueReceiverToken(s.subscriptionId, { ttlDays: 7 });
    expect(r7.expiresAt.getTime()).toBe(clockMs + 7 * dayMs);
    await expect(store.issueReceiverToken(s.subscriptionId, { ttlDays: 0 })).rejects.toThrow(ConfigError);
  });

  it('refuses unknown subscriptions and bad input with stable codes', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    await expect(store.issueReceiverToken(unknown)).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
    await expect(store.addAllowedIp(unknown, '1.2.3.4')).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
    await expect(store.rotateMacKey(unknown, { overlapMs: 0 })).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
    await expect(store.issueReceiverToken("x' OR 1=1 --")).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.createSubscription({ name: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const s = await store.createSubscription({ name: 'ips' });
    await expect(store.addAllowedIp(s.subscriptionId, 'not-an-ip')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.addAllowedIp(s.subscriptionId, '10.0.0.5/24')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.addAllowedIp(s.subscriptionId, '10.0.0.0/33')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('ConfigStore.authenticate', () => {
  it('accepts a valid receiver and master token from an allowed IP, with default settings', async () => {
    const s = await subscriptionWithIp();
    const r = await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver');
    expect(r).toEqual({
      ok: true,
      subscriptionId: s.subscriptionId,
      tokenId: s.receiver.tokenId,
      settings: subscriptionDefaults,
      subscriptionState: 'ACTIVE',
    });
    const m = await store.authenticate(s.masterHash, '203.0.113.7', 'master');
    expect(m).toMatchObject({ ok: true, tokenId: s.masterTokenId });
    const used = await db.pool.query('SELECT last_used_at FROM license_tokens WHERE token_id = $1', [s.receiver.tokenId]);
    expect(used.rows[0].last_used_at.getTime()).toBe(clockMs);
  });

  it('merges per-subscription overrides over the defaults', async () => {
    const s = await subscriptionWithIp();
    await store.setSubscriptionSettings(s.subscriptionId, { ttlMs: 5_000, maxDeviationPips: 10 });
    const r = await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver');
    expect(r.ok && r.settings).toEqual({ ...subscriptionDefaults, ttlMs: 5_000, maxDeviationPips: 10 });
    await expect(store.setSubscriptionSettings(s.subscriptionId, { nope: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await store.setSubscriptionSettings(s.subscriptionId, { pipSizes: { US30cash: 1, XAUUSD: 0.01 } });
    const withPips = await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver');
    expect(withPips.ok && withPips.settings.pipSizes).toEqual({ US30cash: 1, XAUUSD: 0.01 });
    // Zero would make every signal stale or the token bucket refuse everything.
    for (const zero of [{ ttlMs: 0 }, { rateLimitPerSecond: 0 }, { rateLimitBurst: 0.5 }, { referencePriceMaxAgeMs: 0 }]) {
      await expect(store.setSubscriptionSettings(s.subscriptionId, zero)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    for (const bad of [{ 'EUR/USD': 1 }, { EURUSD: 0 }, { EURUSD: -1 }, { EURUSD: 'x' }, [1]]) {
      await expect(store.setSubscriptionSettings(s.subscriptionId, { pipSizes: bad } as never)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
  });

  it('UNKNOWN_TOKEN for a well-formed token that was never issued, and for a malformed hash', async () => {
    await subscriptionWithIp();
    expect(await store.authenticate(generateToken('receiver').tokenHash, '203.0.113.7', 'receiver')).toEqual({
      ok: false,
      reason: 'UNKNOWN_TOKEN',
    });
    expect(await store.authenticate("' OR ''='", '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'UNKNOWN_TOKEN' });
  });

  it('EXPIRED after the token lifetime', async () => {
    const s = await subscriptionWithIp();
    const short = await store.issueReceiverToken(s.subscriptionId, { ttlDays: 1 });
    const hash = parseToken(short.token)!.hash;
    expect((await store.authenticate(hash, '203.0.113.7', 'receiver', clockMs + dayMs - 1)).ok).toBe(true);
    expect(await store.authenticate(hash, '203.0.113.7', 'receiver', clockMs + dayMs)).toEqual({ ok: false, reason: 'EXPIRED' });
  });

  it('REVOKED after revokeToken (at once), and revoking twice reports false', async () => {
    const s = await subscriptionWithIp();
    expect(await store.revokeToken(s.receiver.tokenId)).toBe(true);
    expect(await store.revokeToken(s.receiver.tokenId)).toBe(false);
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'REVOKED' });
    // The master token of the same subscription is untouched.
    expect((await store.authenticate(s.masterHash, '203.0.113.7', 'master')).ok).toBe(true);
  });

  it('WRONG_ROLE for a receiver token used as master and the reverse', async () => {
    const s = await subscriptionWithIp();
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'master')).toEqual({ ok: false, reason: 'WRONG_ROLE' });
    expect(await store.authenticate(s.masterHash, '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'WRONG_ROLE' });
  });

  it('IP_NOT_ALLOWED for an IP not in the list', async () => {
    const s = await subscriptionWithIp('203.0.113.7');
    expect(await store.authenticate(s.receiverHash, '203.0.113.8', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    expect(await store.authenticate(s.receiverHash, 'garbage', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
  });

  it('no allowed_ips entries: every IP is denied (default deny)', async () => {
    const s = await subscriptionWithIp(null);
    for (const ip of ['127.0.0.1', '203.0.113.7', '::1']) {
      expect(await store.authenticate(s.receiverHash, ip, 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    }
  });

  it('a CIDR entry covers its hosts (IPv4, IPv6, IPv4-mapped IPv6)', async () => {
    const s = await subscriptionWithIp('198.51.100.0/24');
    await store.addAllowedIp(s.subscriptionId, '2001:db8::/32');
    expect((await store.authenticate(s.receiverHash, '198.51.100.42', 'receiver')).ok).toBe(true);
    expect((await store.authenticate(s.receiverHash, '::ffff:198.51.100.42', 'receiver')).ok).toBe(true);
    expect((await store.authenticate(s.receiverHash, '2001:db8:1::7', 'receiver')).ok).toBe(true);
    expect(await store.authenticate(s.receiverHash, '198.51.101.1', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    expect(await store.authenticate(s.receiverHash, '2001:db9::1', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    expect(await store.listAllowedIps(s.subscriptionId)).toHaveLength(2);
    expect(await store.removeAllowedIp(s.subscriptionId, '198.51.100.0/24')).toBe(true);
    expect(await store.removeAllowedIp(s.subscriptionId, '198.51.100.0/24')).toBe(false);
    expect(await store.authenticate(s.receiverHash, '198.51.100.42', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
  });

  it('an expired allowed_ips entry no longer allows', async () => {
    const s = await subscriptionWithIp(null);
    await store.addAllowedIp(s.subscriptionId, '203.0.113.7', { expiresAt: new Date(clockMs - 1000) });
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    // Re-adding updates the expiry.
    await store.addAllowedIp(s.subscriptionId, '203.0.113.7', { expiresAt: new Date(clockMs + 60_000) });
    expect((await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).ok).toBe(true);
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver', clockMs + 60_000)).toEqual({
      ok: false,
      reason: 'IP_NOT_ALLOWED',
    });
  });

  it('SUBSCRIPTION_ISOLATED, told only to an allowed IP', async () => {
    const s = await subscriptionWithIp();
    await store.setSubscriptionState(s.subscriptionId, 'ISOLATED');
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toEqual({
      ok: false,
      reason: 'SUBSCRIPTION_ISOLATED',
    });
    expect(await store.authenticate(s.receiverHash, '192.0.2.1', 'receiver')).toEqual({ ok: false, reason: 'IP_NOT_ALLOWED' });
    await store.setSubscriptionState(s.subscriptionId, 'DEGRADED');
    expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toMatchObject({
      ok: true,
      subscriptionState: 'DEGRADED',
    });
  });
});

describe('ConfigStore MAC keys', () => {
  it('loadMacKeys decrypts the key made with the subscription', async () => {
    const s = await store.createSubscription({ name: 'mac' });
    const keys = await store.loadMacKeys(s.subscriptionId);
    expect(keys).toHaveLength(1);
    expect(keys[0].keyId).toBe(s.macKeyId);
    expect(keys[0].secret.toString('hex')).toBe(s.macSecretHex);
    expect(keys[0].notAfterMs).toBeNull();
  });

  it('rotateMacKey keeps the old key valid for the overlap only', async () => {
    const s = await store.createSubscription({ name: 'rotate' });
    const next = await store.rotateMacKey(s.subscriptionId, { overlapMs: 60_000 });
    expect(next.keyId).toMatch(/^k2-/);
    const during = await store.loadMacKeys(s.subscriptionId);
    expect(during.map((k) => [k.keyId, k.secret.toString('hex'), k.notAfterMs])).toEqual([
      [next.keyId, next.secretHex, null],
      [s.macKeyId, s.macSecretHex, clockMs + 60_000],
    ]);
    const after = await store.loadMacKeys(s.subscriptionId, clockMs + 60_000);
    expect(after.map((k) => k.keyId)).toEqual([next.keyId]);
    // Overlap 0: the current key (k2) stops at once; k1 keeps the rest of its own overlap.
    const third = await store.rotateMacKey(s.subscriptionId, { overlapMs: 0 });
    expect(third.keyId).toMatch(/^k3-/);
    expect((await store.loadMacKeys(s.subscriptionId)).map((k) => k.keyId)).toEqual([third.keyId, s.macKeyId]);
    expect((await store.loadMacKeys(s.subscriptionId, clockMs + 60_000)).map((k) => k.keyId)).toEqual([third.keyId]);
  });

  it('a ciphertext copied onto another row does not open (AAD binds the row)', async () => {
    const a = await store.createSubscription({ name: 'a' });
    const b = await store.createSubscription({ name: 'b' });
    await db.pool.query(
      `UPDATE mac_keys dst SET ciphertext = src.ciphertext, nonce = src.nonce, auth_tag = src.auth_tag
         FROM mac_keys src WHERE src.subscription_id = $1 AND dst.subscription_id = $2`,
      [a.subscriptionId, b.subscriptionId],
    );
    await expect(store.loadMacKeys(b.subscriptionId)).rejects.toThrow(/authentication failed/);
    expect(await store.loadMacKeys(a.subscriptionId)).toHaveLength(1);
  });
});

describe('ConfigStore.audit', () => {
  it('appends a row with the seed columns', async () => {
    const s = await store.createSubscription({ name: 'audited' });
    const id = await store.audit({
      eventType: 'TOKEN_REVOKED',
      action: 'POST /admin/tokens/revoke',
      resourceType: 'license_token',
      resourceId: s.masterTokenId,
      ipAddress: '::ffff:10.1.2.3',
      userAgent: 'x'.repeat(10_000),
      responseStatus: 200,
      metadata: { subscriptionId: s.subscriptionId },
    });
    const { rows } = await db.pool.query('SELECT *, ip_address::text AS ip FROM audit_log WHERE log_id = $1', [id]);
    expect(rows[0]).toMatchObject({
      event_type: 'TOKEN_REVOKED',
      action: 'POST /admin/tokens/revoke',
      resource_id: s.masterTokenId,
      ip: '10.1.2.3/32',
      response_status: 200,
      metadata: { subscriptionId: s.subscriptionId },
    });
    expect(rows[0].user_agent.length).toBe(512);
    expect(rows[0].event_time.getTime()).toBe(clockMs);
    await expect(store.audit({ eventType: 'X'.repeat(51), action: 'a' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('ConfigStore incident response (state, audit row and NOTIFY in one transaction)', () => {
  /** A LISTEN connection on the control channel, collecting parsed messages. */
  async function listen(): Promise<{ messages: unknown[]; raw: string[]; settle(): Promise<void>; close(): Promise<void> }> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const messages: unknown[] = [];
    const raw: string[] = [];
    client.on('notification', (n) => {
      if (n.channel !== controlChannel) return;
      raw.push(n.payload ?? '');
      messages.push(parseControlMessage(n.payload));
    });
    await client.query(`LISTEN ${controlChannel}`);
    return {
      messages,
      raw,
      // A round trip on the listening connection: every notification committed before it has arrived.
      settle: async () => void (await client.query('SELECT 1')),
      close: () => client.end(),
    };
  }

  async function auditOf(logId: string) {
    const { rows } = await db.pool.query('SELECT * FROM audit_log WHERE log_id = $1', [logId]);
    return rows[0];
  }

  it('isolateSubscription: ISOLATED, audited with the reason, announced; upgrades refused; again is audited and announced', async () => {
    const s = await subscriptionWithIp();
    const channel = await listen();
    try {
      const change = await store.isolateSubscription(s.subscriptionId, {
        reason: ' key leak ',
        audit: { ipAddress: '198.51.100.4', metadata: { via: 'test' } },
      });
      expect(change).toMatchObject({ subscriptionId: s.subscriptionId, previousState: 'ACTIVE', state: 'ISOLATED' });
      expect(await auditOf(change.auditLogId)).toMatchObject({
        event_type: 'INCIDENT',
        action: 'ISOLATE',
        resource_type: 'subscription',
        resource_id: s.subscriptionId,
        metadata: { reason: 'key leak', previousState: 'ACTIVE', state: 'ISOLATED', via: 'test' },
      });
      expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'SUBSCRIPTION_ISOLATED' });
      const again = await store.isolateSubscription(s.subscriptionId, { reason: 'still' });
      expect(again.previousState).toBe('ISOLATED');
      await channel.settle();
      expect(channel.messages).toEqual([
        { kind: 'ISOLATE', subscriptionId: s.subscriptionId },
        { kind: 'ISOLATE', subscriptionId: s.subscriptionId },
      ]);
      // The payload is ids only: no reason, no secret.
      for (const payload of channel.raw) expect(payload).not.toMatch(/leak|still|spm_|spr_/);
    } finally {
      await channel.close();
    }
  });

  it('liftIsolation: ACTIVE only from ISOLATED; audited and announced either way', async () => {
    const s = await subscriptionWithIp();
    const channel = await listen();
    try {
      const noop = await store.liftIsolation(s.subscriptionId, { reason: 'nothing to lift' });
      expect(noop).toMatchObject({ previousState: 'ACTIVE', state: 'ACTIVE' });
      await store.isolateSubscription(s.subscriptionId, { reason: 'x' });
      const lifted = await store.liftIsolation(s.subscriptionId, { reason: 'resolved' });
      expect(lifted).toMatchObject({ previousState: 'ISOLATED', state: 'ACTIVE' });
      expect(await auditOf(lifted.auditLogId)).toMatchObject({ event_type: 'INCIDENT', action: 'LIFT', metadata: { reason: 'resolved' } });
      expect((await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).ok).toBe(true);
      await channel.settle();
      expect(channel.messages.map((m) => (m as { kind: string }).kind)).toEqual(['LIFT', 'ISOLATE', 'LIFT']);
    } finally {
      await channel.close();
    }
  });

  it('refuses an unknown subscription or a missing reason, changing, auditing and announcing nothing', async () => {
    const channel = await listen();
    try {
      const before = await db.pool.query('SELECT count(*)::int AS n FROM audit_log');
      const unknown = '00000000-0000-4000-8000-000000000000';
      await expect(store.isolateSubscription(unknown, { reason: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
      await expect(store.rotateCredentials(unknown, { overlapMs: 0 })).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
      const s = await subscriptionWithIp();
      await expect(store.isolateSubscription(s.subscriptionId, { reason: '  ' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.liftIsolation(s.subscriptionId, { reason: 'x'.repeat(501) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.rotateCredentials(s.subscriptionId, { overlapMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await channel.settle();
      expect(channel.messages).toEqual([]);
      expect((await db.pool.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(before.rows[0].n);
    } finally {
      await channel.close();
    }
  });

  it('revokeTokenDetailed: revoked at once, audited, announced; again is a no-op; UNKNOWN_TOKEN for no such token', async () => {
    const s = await subscriptionWithIp();
    const channel = await listen();
    try {
      expect(await store.revokeTokenDetailed(s.receiver.tokenId, { reason: 'resold' })).toEqual({
        revoked: true,
        tokenId: s.receiver.tokenId,
        subscriptionId: s.subscriptionId,
        role: 'receiver',
      });
      expect(await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).toEqual({ ok: false, reason: 'REVOKED' });
      expect((await store.revokeTokenDetailed(s.receiver.tokenId)).revoked).toBe(false);
      await expect(store.revokeTokenDetailed('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'UNKNOWN_TOKEN' });
      await channel.settle();
      expect(channel.messages).toEqual([{ kind: 'REVOKE', tokenId: s.receiver.tokenId, subscriptionId: s.subscriptionId }]);
      const { rows } = await db.pool.query('SELECT event_type, action, resource_type, metadata FROM audit_log WHERE resource_id = $1', [
        s.receiver.tokenId,
      ]);
      expect(rows).toEqual([
        {
          event_type: 'CREDENTIAL',
          action: 'REVOKE',
          resource_type: 'license_token',
          metadata: { reason: 'resold', role: 'receiver', subscriptionId: s.subscriptionId },
        },
      ]);
    } finally {
      await channel.close();
    }
  });

  it('rotateCredentials: new MAC key with overlap, new master token, every other master token revoked and announced', async () => {
    const s = await subscriptionWithIp();
    const second = await store.issueMasterToken(s.subscriptionId);
    const channel = await listen();
    try {
      const rotated = await store.rotateCredentials(s.subscriptionId, { overlapMs: 60_000, reason: 'laptop stolen' });
      expect(rotated.macKeyId).toMatch(/^k2-[0-9a-f]{8}$/);
      expect(rotated.revokedMasterTokenIds).toEqual([s.masterTokenId, second.tokenId].sort());
      expect(rotated.previousMacKeysValidUntil.getTime()).toBe(clockMs + 60_000);
      expect(rotated.masterTokenExpiresAt.getTime()).toBe(clockMs + credentials.masterTokenTtlDays * dayMs);
      // Old master tokens refused, the new one accepted; the receiver license untouched.
      expect(await store.authenticate(s.masterHash, '203.0.113.7', 'master')).toEqual({ ok: false, reason: 'REVOKED' });
      expect(await store.authenticate(parseToken(second.token)!.hash, '203.0.113.7', 'master')).toEqual({ ok: false, reason: 'REVOKED' });
      expect((await store.authenticate(parseToken(rotated.masterToken)!.hash, '203.0.113.7', 'master')).ok).toBe(true);
      expect((await store.authenticate(s.receiverHash, '203.0.113.7', 'receiver')).ok).toBe(true);
      // Both keys during the overlap, only the new one after it.
      expect((await store.loadMacKeys(s.subscriptionId)).map((k) => [k.keyId, k.secret.toString('hex')])).toEqual([
        [rotated.macKeyId, rotated.macSecretHex],
        [s.macKeyId, s.macSecretHex],
      ]);
      expect((await store.loadMacKeys(s.subscriptionId, clockMs + 60_000)).map((k) => k.keyId)).toEqual([rotated.macKeyId]);
      expect(await auditOf(rotated.auditLogId)).toMatchObject({
        event_type: 'INCIDENT',
        action: 'ROTATE_CREDENTIALS',
        resource_id: s.subscriptionId,
        metadata: {
          reason: 'laptop stolen',
          macKeyId: rotated.macKeyId,
          overlapMs: 60_000,
          masterTokenId: rotated.masterTokenId,
          revokedMasterTokenIds: rotated.revokedMasterTokenIds,
        },
      });
      await channel.settle();
      expect(channel.messages).toEqual(
        rotated.revokedMasterTokenIds.map((tokenId) => ({ kind: 'REVOKE', tokenId, subscriptionId: s.subscriptionId })),
      );
      // Rotating again revokes the token the first rotation made.
      const again = await store.rotateCredentials(s.subscriptionId, { overlapMs: 0 });
      expect(again.revokedMasterTokenIds).toEqual([rotated.masterTokenId]);
    } finally {
      await channel.close();
    }
  });
});

describe('control channel payloads', () => {
  it('round-trip, and anything else is refused', () => {
    const id = '0b5e1c9a-7a43-4f1e-9d36-0c8f6f1f2a10';
    const token = '5d2f3f4e-2a1b-4c3d-8e9f-0a1b2c3d4e5f';
    for (const m of [
      { kind: 'ISOLATE', subscriptionId: id },
      { kind: 'LIFT', subscriptionId: id },
      { kind: 'REVOKE', tokenId: token, subscriptionId: id },
    ] as const) {
      expect(parseControlMessage(encodeControlMessage(m))).toEqual(m);
    }
    for (const payload of [
      undefined,
      '',
      'null',
      '[]',
      'not json',
      JSON.stringify({ kind: 'ISOLATE' }),
      JSON.stringify({ kind: 'ISOLATE', subscriptionId: 'x' }),
      JSON.stringify({ kind: 'ISOLATE', subscriptionId: id.toUpperCase() }),
      JSON.stringify({ kind: 'REVOKE', subscriptionId: id }),
      JSON.stringify({ kind: 'DROP', subscriptionId: id }),
      JSON.stringify({ kind: 'ISOLATE', subscriptionId: id, pad: 'x'.repeat(2000) }),
    ]) {
      expect(parseControlMessage(payload), String(payload).slice(0, 60)).toBeNull();
    }
    expect(() => encodeControlMessage({ kind: 'ISOLATE', subscriptionId: 'nope' })).toThrow();
  });
});

describe('secrets never reach Postgres in the clear', () => {
  it('no SQL text or parameter carries the KEK, a MAC secret or a token', async () => {
    const log: Recorded[] = [];
    const pool = recordingPool(db.url, log);
    const box = SecretBox.fromKey(kek);
    const recorded = new ConfigStore(pool, box, { nowMs: () => clockMs });
    try {
      const created = await recorded.createSubscription({ name: 'recorded', ownerEmail: 'rec@example.com' });
      await recorded.addAllowedIp(created.subscriptionId, '203.0.113.0/24');
      const receiver = await recorded.issueReceiverToken(created.subscriptionId);
      const rotated = await recorded.rotateMacKey(created.subscriptionId, { overlapMs: 1000 });
      const loaded = await recorded.loadMacKeys(created.subscriptionId);
      expect(loaded).toHaveLength(2);
      const auth = await recorded.authenticate(parseToken(receiver.token)!.hash, '203.0.113.9', 'receiver');
      expect(auth.ok).toBe(true);
      await recorded.revokeToken(receiver.tokenId);
      await recorded.audit({ eventType: 'TEST', action: 'record' });
      // Incident actions: their NOTIFY payloads are parameters too.
      const incident = await recorded.rotateCredentials(created.subscriptionId, { overlapMs: 1000, reason: 'recorded' });
      await recorded.isolateSubscription(created.subscriptionId, { reason: 'recorded' });
      await recorded.liftIsolation(created.subscriptionId, { reason: 'recorded' });
      expect(log.some((q) => q.text.includes('pg_notify'))).toBe(true);

      // The recorder saw the traffic (transactions included).
      expect(log.some((q) => q.text === 'BEGIN')).toBe(true);
      expect(log.some((q) => q.text.includes('INSERT INTO mac_keys'))).toBe(true);
      expect(log.some((q) => q.values.includes(parseToken(created.masterToken)!.hash))).toBe(true);

      const forbidden = [
        ...forms(kek),
        ...forms(Buffer.from(created.macSecretHex, 'hex')),
        ...forms(Buffer.from(rotated.secretHex, 'hex')),
        created.macSecretHex,
        rotated.secretHex,
        ...forms(Buffer.from(incident.macSecretHex, 'hex')),
        incident.macSecretHex,
        incident.masterToken,
        incident.masterToken.slice(4, 68),
        created.masterToken,
        receiver.token,
        created.masterToken.slice(4, 68),
        receiver.token.slice(4, 68),
      ];
      for (const q of log) {
        const haystack = [q.text, ...q.values.map(paramText)].join('\n');
        for (const secret of forbidden) expect(haystack.includes(secret)).toBe(false);
      }
      // MAC key parameters are ciphertext: none equals a plaintext secret.
      const buffers = log.flatMap((q) => q.values.filter(Buffer.isBuffer));
      expect(buffers.length).toBeGreaterThan(0);
      for (const b of buffers) {
        expect(b.equals(Buffer.from(created.macSecretHex, 'hex'))).toBe(false);
        expect(b.equals(Buffer.from(rotated.secretHex, 'hex'))).toBe(false);
        expect(b.equals(Buffer.from(incident.macSecretHex, 'hex'))).toBe(false);
      }
    } finally {
      await pool.end();
    }
  });

  it('a dump of every column of every table holds no token and no MAC secret', async () => {
    const secrets: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await store.createSubscription({ name: `dump-${i}`, ownerEmail: `dump${i}@example.com` });
      await store.addAllowedIp(s.subscriptionId, '192.0.2.0/24');
      const r = await store.issueReceiverToken(s.subscriptionId, { label: 'dump' });
      const rotated = await store.rotateMacKey(s.subscriptionId, { overlapMs: 5000 });
      const h = parseToken(r.token)!.hash;
      expect((await store.authenticate(h, '192.0.2.5', 'receiver')).ok).toBe(true);
      secrets.push(s.masterToken, s.masterToken.slice(4, 68), r.token, r.token.slice(4, 68), s.macSecretHex, rotated.secretHex);
    }
    secrets.push(kek.toString('hex'), kek.toString('base64'));
    const tables = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    expect(tables.rows.length).toBeGreaterThanOrEqual(6);
    let dump = '';
    for (const { table_name } of tables.rows) {
      const { rows } = await db.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${escapeIdentifier(table_name)} t`);
      dump += rows.map((r) => r.row).join('\n') + '\n';
    }
    expect(dump).toContain('\\x'); // bytea rendered as hex: a raw secret would show up
    for (const secret of secrets) expect(dump.includes(secret)).toBe(false);
  });
});
