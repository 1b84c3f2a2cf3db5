/**
 * The admin HTTP API against a running server: real uWebSockets.js
 * listeners (the public one and the admin one on its own port), real
 * Postgres, real HTTP through fetch, live WebSocket sessions.
 *
 * - refusals: no credential, a wrong one, a license token, a revoked one
 *   (401); a role too low (403); unknown routes (404) and methods (405);
 *   the public port serves no admin route; each refusal is audited.
 * - every route's success and its bad-input code, and bad input changes nothing.
 * - revoking a token through the API closes its live receiver session (4004).
 * - a second credential rotation inside the overlap window answers 409.
 * - audit queries by user, event type, IP and time range, in keyset pages.
 * - GDPR export and erasure; billing ledger reads under row-level security.
 *
 * The admin store connects as a LOGIN member of sigplane_app (migration
 * 007: no superuser, no BYPASSRLS), as a deployment does, so its grants and
 * the ledger's row-level security are the real ones.
 */
import crypto from 'node:crypto';
import { Client, type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { admin } from '@sigplane/protocol';
import { AdminServer } from '../io/admin/admin-server';
import { AdminStore, type CreatedAdminUser } from '../persistence/pg/admin-store';
import { generateAdminToken } from '../persistence/pg/admin-tokens';
import { createPool } from '../persistence/pg/pool';
import { withTenant } from '../persistence/pg/tenant';
import { openMaster, openReceiver } from './support/e2e';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient, type UpgradeRefusal } from './support/wire-client';

const closeIsolated = 4003;
const closeRevoked = 4004;
/**
 * Live sessions are closed within a second (the control channel's promise);
 * the tests assert the close and its code, and wait longer than that so a
 * busy machine does not turn them into a timing test.
 */
const closeWaitMs = 10_000;
const userAgent = 'sigplane-admin-test/1';

let t: TestServer;
let pool: Pool;
/** As the application role (RLS binds it). */
let appPool: Pool;
const appRole = `sigplane_admin_t_${crypto.randomBytes(4).toString('hex')}`;
let adminStore: AdminStore;
let adminServer: AdminServer;
let base: string;
let root: CreatedAdminUser;
let operator: CreatedAdminUser;
let auditor: CreatedAdminUser;

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1, control: true });
  pool = createPool(t.databaseUrl, { max: 4 });
  // The name is ours ([a-z0-9_]) and the password random hex: DDL takes no parameters.
  const password = crypto.randomBytes(16).toString('hex');
  await pool.query(`CREATE ROLE ${appRole} LOGIN PASSWORD '${password}' IN ROLE sigplane_app`);
  const appUrl = new URL(t.databaseUrl);
  appUrl.username = appRole;
  appUrl.password = password;
  appPool = createPool(appUrl.toString(), { max: 4 });
  adminStore = new AdminStore(appPool, t.store);
  adminServer = new AdminServer({ host: '127.0.0.1', port: 0, store: t.store, adminStore });
  await adminServer.start();
  base = `http://127.0.0.1:${adminServer.port}`;
  root = await adminStore.createAdminUser({ email: 'root@ops.example', role: 'admin' });
  operator = await adminStore.createAdminUser({ email: 'operator@ops.example', role: 'operator' });
  auditor = await adminStore.createAdminUser({ email: 'auditor@ops.example', role: 'auditor' });
});

afterAll(async () => {
  adminServer?.stop();
  await appPool?.end();
  await pool?.end();
  await t?.close();
  const server = new Client({ connectionString: inject('databaseUrl') });
  await server.connect();
  try {
    await server.query(`DROP ROLE IF EXISTS ${appRole}`);
  } finally {
    await server.end();
  }
});

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  headers: Headers;
}

async function api(
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: string; contentType?: string; url?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'user-agent': userAgent };
  const token = opts.token === undefined ? root.token : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const response = await fetch(`${opts.url ?? base}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text), headers: response.headers };
}

async function expectCode(reply: Promise<Reply>, status: number, code: string): Promise<Reply> {
  const r = await reply;
  expect({ status: r.status, code: r.json?.code }, JSON.stringify(r.json)).toEqual({ status, code });
  return r;
}

async function newSubscription(name = `adm-${crypto.randomUUID().slice(0, 8)}`): Promise<{ subscriptionId: string; masterToken: string }> {
  const r = await api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name } });
  expect(r.status).toBe(201);
  return r.json;
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, values);
  return rows[0].n;
}

async function lastAuditRow(action: string): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(
    `SELECT user_id, event_type, action, host(ip_address) AS ip, user_agent, response_status, request_payload,
            resource_type, resource_id, error_message, metadata
       FROM audit_log WHERE event_type = 'ADMIN_API' AND action = $1 ORDER BY event_time DESC, log_id DESC LIMIT 1`,
    [action],
  );
  expect(rows.length, `no audit row for ${action}`).toBe(1);
  return rows[0];
}

async function refusal(url: string, token: string): Promise<{ status: number; code: string }> {
  const result = await WireClient.connect(url, token);
  if (result instanceof WireClient) {
    await result.close();
    throw new Error('upgrade was accepted');
  }
  return { status: (result as UpgradeRefusal).status, code: (JSON.parse(result.body) as { code: string }).code };
}

describe('authentication and authorisation', () => {
  it('refuses a missing, malformed, unknown or license credential with 401, each audited without a user', async () => {
    const before = await count(`SELECT 1 FROM audit_log WHERE event_type = 'ADMIN_API' AND response_status = 401`);
    const missing = await expectCode(api('GET', '/admin/v1/whoami', { token: null }), 401, 'MISSING_CREDENTIAL');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectCode(api('GET', '/admin/v1/whoami', { token: 'not-a-token' }), 401, 'INVALID_CREDENTIAL');
    // Well-formed, right checksum, never issued.
    await expectCode(api('GET', '/admin/v1/whoami', { token: generateAdminToken().token }), 401, 'INVALID_CREDENTIAL');
    // A checksum typo.
    const typo = root.token.slice(0, -1) + (root.token.endsWith('0') ? '1' : '0');
    await expectCode(api('GET', '/admin/v1/whoami', { token: typo }), 401, 'INVALID_CREDENTIAL');
    const s = await t.subscription();
    await expectCode(api('GET', '/admin/v1/whoami', { token: s.receiverToken }), 401, 'INVALID_CREDENTIAL');
    // An unknown route is not revealed before authentication.
    await expectCode(api('GET', '/admin/v1/nothing-here', { token: null }), 401, 'MISSING_CREDENTIAL');
    const after = await count(`SELECT 1 FROM audit_log WHERE event_type = 'ADMIN_API' AND response_status = 401`);
    expect(after - before).toBe(6);
    const row = await lastAuditRow('UNKNOWN_ROUTE');
    expect(row).toMatchObject({ user_id: null, ip: '127.0.0.1', user_agent: userAgent, response_status: 401 });
  });

  it('knows who is asking, and answers with the security headers and no-store', async () => {
    const r = await api('GET', '/admin/v1/whoami', { token: auditor.token });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ userId: auditor.userId, email: 'auditor@ops.example', role: 'auditor', credentialId: auditor.credentialId });
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('refuses a role below the route (403), an unknown route (404) and a wrong method (405); all audited with the user', async () => {
    const subscriptions = await count('SELECT 1 FROM subscriptions');
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: auditor.token, body: { name: 'nope' } }), 403, 'FORBIDDEN');
    expect(await count('SELECT 1 FROM subscriptions')).toBe(subscriptions);
    const forbidden = await lastAuditRow('CREATE_SUBSCRIPTION');
    expect(forbidden).toMatchObject({ user_id: auditor.userId, response_status: 403, error_message: expect.stringMatching(/^FORBIDDEN/) });
    await expectCode(api('GET', `/admin/v1/users/${operator.userId}/export`, { token: operator.token }), 403, 'FORBIDDEN');
    await expectCode(api('GET', '/admin/v1/nothing-here'), 404, 'NOT_FOUND');
    await expectCode(api('GET', '/admin/v1'), 404, 'NOT_FOUND');
    const wrongMethod = await expectCode(api('DELETE', '/admin/v1/subscriptions'), 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
    expect(await lastAuditRow('UNKNOWN_ROUTE')).toMatchObject({ user_id: root.userId, response_status: 405 });
  });

  it('stops accepting a revoked admin credential at once', async () => {
    const temp = await adminStore.createAdminUser({ email: 'temp@ops.example', role: 'operator' });
    expect((await api('GET', '/admin/v1/whoami', { token: temp.token })).status).toBe(200);
    expect(await adminStore.revokeAdminCredential(temp.credentialId)).toBe(true);
    await expectCode(api('GET', '/admin/v1/whoami', { token: temp.token }), 401, 'INVALID_CREDENTIAL');
  });

  it('serves no admin route on the public port', async () => {
    const r = await api('GET', '/admin/v1/whoami', { url: `http://127.0.0.1:${t.server.port}` });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ code: 'NOT_FOUND' });
  });
});

describe('request checks', () => {
  it('refuses a body over the limit (413), a non-JSON body (400 INVALID_JSON), another media type (415) and unknown fields (400), changing nothing', async () => {
    const subscriptions = await count('SELECT 1 FROM subscriptions');
    const huge = JSON.stringify({ name: 'x'.repeat(admin.requestBodyBytesMax + 10) });
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, raw: huge }), 413, 'PAYLOAD_TOO_LARGE');
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, raw: '{"name": ' }), 400, 'INVALID_JSON');
    await expectCode(
      api('POST', '/admin/v1/subscriptions', { token: operator.token, raw: 'name=x', contentType: 'application/x-www-form-urlencoded' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: 'x', extra: 1 } }), 400, 'INVALID_REQUEST');
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, body: [1] }), 400, 'INVALID_REQUEST');
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: '' } }), 400, 'INVALID_REQUEST');
    await expectCode(api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: '   ' } }), 400, 'INVALID_REQUEST');
    expect(await count('SELECT 1 FROM subscriptions')).toBe(subscriptions);
    expect(await lastAuditRow('CREATE_SUBSCRIPTION')).toMatchObject({ response_status: 400, error_message: expect.stringMatching(/^INVALID_REQUEST/) });
  });

  it('refuses a chunked body (no Content-Length) once it passes the limit, answering and auditing once', async () => {
    const before = await count(`SELECT 1 FROM audit_log WHERE event_type = 'ADMIN_API' AND response_status = 413`);
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= admin.requestBodyBytesMax * 2) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${base}/admin/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator.token}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
    expect(await count(`SELECT 1 FROM audit_log WHERE event_type = 'ADMIN_API' AND response_status = 413`)).toBe(before + 1);
    // Refused before authentication: the row names the route, not a user.
    expect(await lastAuditRow('CREATE_SUBSCRIPTION')).toMatchObject({ user_id: null, response_status: 413, error_message: expect.stringMatching(/^PAYLOAD_TOO_LARGE/) });
  });
});

describe('subscriptions', () => {
  it('create (201, secrets once), show (no secrets), unknown (404) and bad id (400); the request is audited with the owner email redacted', async () => {
    const r = await api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: 'provider one', ownerEmail: 'Prov@Example.com' } });
    expect(r.status).toBe(201);
    expect(r.json.masterToken).toMatch(/^spm_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(r.json.macSecretHex).toMatch(/^[0-9a-f]{64}$/);
    const row = await lastAuditRow('CREATE_SUBSCRIPTION');
    expect(row).toMatchObject({
      user_id: operator.userId,
      ip: '127.0.0.1',
      user_agent: userAgent,
      response_status: 201,
      request_payload: { name: 'provider one', ownerEmail: '[redacted]' },
      metadata: { method: 'POST', path: '/admin/v1/subscriptions', role: 'operator', credentialId: operator.credentialId },
    });
    // The change's own row names what was made (the ids an investigator starts from), and no email.
    const change = await pool.query(
      `SELECT user_id, host(ip_address) AS ip, user_agent, resource_id, metadata FROM audit_log
        WHERE event_type = 'CONFIG' AND action = 'CREATE_SUBSCRIPTION' AND resource_id = $1`,
      [r.json.subscriptionId],
    );
    expect(change.rows).toEqual([
      {
        user_id: operator.userId,
        ip: '127.0.0.1',
        user_agent: userAgent,
        resource_id: r.json.subscriptionId,
        metadata: expect.objectContaining({ via: 'admin-api', name: 'provider one', macKeyId: r.json.macKeyId, masterTokenId: expect.any(String) }),
      },
    ]);
    expect(JSON.stringify(change.rows[0].metadata).toLowerCase()).not.toContain('prov@example.com');

    // The owner's email is personal data: an operator sees it, an auditor does not.
    const asOperator = await api('GET', `/admin/v1/subscriptions/${r.json.subscriptionId}`, { token: operator.token });
    expect(asOperator.json.ownerEmail).toBe('prov@example.com');
    const shown = await api('GET', `/admin/v1/subscriptions/${r.json.subscriptionId}`, { token: auditor.token });
    expect(shown.status).toBe(200);
    expect(shown.json).not.toHaveProperty('ownerEmail');
    expect(JSON.stringify(shown.json)).not.toContain('prov@example.com');
    expect(shown.json).toMatchObject({
      subscriptionId: r.json.subscriptionId,
      name: 'provider one',
      state: 'ACTIVE',
      settingsOverrides: {},
      allowedIps: [],
      macKeys: [{ keyId: r.json.macKeyId, notAfter: null }],
      tokens: [{ tokenId: r.json.masterTokenId, role: 'master', tokenPrefix: r.json.masterToken.slice(0, 12), revokedAt: null }],
    });
    expect(shown.json.settings.ttlMs).toBe(60_000);
    const text = JSON.stringify(shown.json);
    expect(text).not.toContain(r.json.masterToken.slice(4, 40));
    expect(text).not.toContain(r.json.macSecretHex);
    expect(await lastAuditRow('SHOW_SUBSCRIPTION')).toMatchObject({ resource_type: 'subscription', resource_id: r.json.subscriptionId });

    await expectCode(api('GET', `/admin/v1/subscriptions/${crypto.randomUUID()}`), 404, 'UNKNOWN_SUBSCRIPTION');
    await expectCode(api('GET', '/admin/v1/subscriptions/not-a-uuid'), 400, 'INVALID_REQUEST');
  });

  it('lists in keyset pages: every subscription once, oldest first; bad limit and cursor are 400', async () => {
    for (let i = 0; i < 5; i++) await newSubscription(`page-${i}`);
    const total = await count('SELECT 1 FROM subscriptions');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const r = await api('GET', `/admin/v1/subscriptions${query}`, { token: auditor.token });
      expect(r.status).toBe(200);
      expect(r.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.json.items.map((s: { subscriptionId: string }) => s.subscriptionId));
      cursor = r.json.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    const { rows } = await pool.query<{ subscription_id: string }>('SELECT subscription_id FROM subscriptions ORDER BY created_at, subscription_id');
    expect(seen).toEqual(rows.map((r) => r.subscription_id));

    await expectCode(api('GET', '/admin/v1/subscriptions?limit=0'), 400, 'INVALID_REQUEST');
    await expectCode(api('GET', `/admin/v1/subscriptions?limit=${admin.pageSizeMax + 1}`), 400, 'INVALID_REQUEST');
    await expectCode(api('GET', '/admin/v1/subscriptions?cursor=garbage!'), 400, 'INVALID_REQUEST');
    const forged = Buffer.from(JSON.stringify(['2026-99-99 00:00:00+00', crypto.randomUUID()])).toString('base64url');
    await expectCode(api('GET', `/admin/v1/subscriptions?cursor=${forged}`), 400, 'INVALID_REQUEST');
    await expectCode(api('GET', '/admin/v1/subscriptions?sort=name'), 400, 'INVALID_REQUEST');
  });

  it('settings: a patch changes the named overrides, null restores a default, bad values are 400 and change nothing', async () => {
    const s = await newSubscription();
    const path = `/admin/v1/subscriptions/${s.subscriptionId}/settings`;
    const r = await api('PATCH', path, { token: operator.token, body: { ttlMs: 30_000, clockSkewMs: 500, maxDeviationPips: 20, rateLimitPerSecond: 50 } });
    expect(r.status).toBe(200);
    expect(r.json.overrides).toEqual({ ttlMs: 30_000, clockSkewMs: 500, maxDeviationPips: 20, rateLimitPerSecond: 50 });
    expect(r.json.settings).toMatchObject({ ttlMs: 30_000, clockSkewMs: 500, maxDeviationPips: 20, rateLimitPerSecond: 50, rateLimitBurst: 4_000 });
    const back = await api('PATCH', path, { token: operator.token, body: { clockSkewMs: null } });
    expect(back.json.overrides).toEqual({ ttlMs: 30_000, maxDeviationPips: 20, rateLimitPerSecond: 50 });
    for (const bad of [{ ttlMs: -1 }, { ttlMs: 0 }, { ttlMs: 'soon' }, { noSuchSetting: 1 }, { pipSizes: { 'EUR/USD': 0.0001 } }]) {
      await expectCode(api('PATCH', path, { token: operator.token, body: bad }), 400, 'INVALID_REQUEST');
    }
    await expectCode(api('PATCH', path, { token: operator.token }), 400, 'INVALID_REQUEST');
    const { rows } = await pool.query('SELECT settings FROM subscriptions WHERE subscription_id = $1', [s.subscriptionId]);
    expect(rows[0].settings).toEqual({ ttlMs: 30_000, maxDeviationPips: 20, rateLimitPerSecond: 50 });
    await expectCode(api('PATCH', `/admin/v1/subscriptions/${crypto.randomUUID()}/settings`, { token: operator.token, body: { ttlMs: 1000 } }), 404, 'UNKNOWN_SUBSCRIPTION');
    // A new connection carries the new settings (the upgrade reads them).
    const auth = await t.store.addAllowedIp(s.subscriptionId, '127.0.0.1');
    expect(auth).toMatch(/^[0-9a-f-]{36}$/);
    const issued = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/tokens`, { token: operator.token, body: {} });
    const receiver = await openReceiver(t, issued.json.token, 0);
    const data = [...t.server.connections.connectionsWhere((sub) => sub === s.subscriptionId)].map((ws) => ws.getUserData().connection.settings);
    expect(data).toEqual([expect.objectContaining({ ttlMs: 30_000, maxDeviationPips: 20, rateLimitPerSecond: 50 })]);
    await receiver.close();
  });

  it('isolate closes the live master (4003) and refuses it; lift lets it back; a missing reason is 400', async () => {
    const s = await t.subscription();
    await expectCode(api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/isolate`, { token: operator.token, body: {} }), 400, 'INVALID_REQUEST');
    const master = await openMaster(t, s);
    const isolated = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/isolate`, { token: operator.token, body: { reason: 'drill' } });
    expect(isolated.status).toBe(200);
    expect(isolated.json).toMatchObject({ subscriptionId: s.subscriptionId, previousState: 'ACTIVE', state: 'ISOLATED' });
    expect(await master.waitForClose(closeWaitMs)).toBe(closeIsolated);
    expect(await refusal(t.masterUrl, s.masterToken)).toEqual({ status: 403, code: 'SUBSCRIPTION_ISOLATED' });
    const { rows } = await pool.query('SELECT user_id, host(ip_address) AS ip, metadata FROM audit_log WHERE log_id = $1', [isolated.json.auditLogId]);
    expect(rows[0]).toMatchObject({ user_id: operator.userId, ip: '127.0.0.1', metadata: { via: 'admin-api', reason: 'drill' } });
    const lifted = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/lift`, { token: operator.token, body: { reason: 'drill over' } });
    expect(lifted.json).toMatchObject({ previousState: 'ISOLATED', state: 'ACTIVE' });
    const again = await openMaster(t, s);
    await again.close();
    await expectCode(api('POST', `/admin/v1/subscriptions/${crypto.randomUUID()}/lift`, { token: operator.token, body: { reason: 'x' } }), 404, 'UNKNOWN_SUBSCRIPTION');
  });
});

describe('credentials', () => {
  it('issue (201), list, revoke: the live receiver session closes (4004) and the token is refused; revoking again changes nothing', async () => {
    const s = await t.subscription();
    const issued = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/tokens`, { token: operator.token, body: { label: 'alice', ttlDays: 7 } });
    expect(issued.status).toBe(201);
    expect(issued.json.token).toMatch(/^spr_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(issued.json.role).toBe('receiver');
    // Who issued this token id: the change's own row says, without the token.
    const issue = await pool.query(`SELECT user_id, metadata FROM audit_log WHERE event_type = 'CREDENTIAL' AND action = 'ISSUE' AND resource_id = $1`, [
      issued.json.tokenId,
    ]);
    expect(issue.rows).toEqual([{ user_id: operator.userId, metadata: expect.objectContaining({ via: 'admin-api', role: 'receiver' }) }]);
    expect(JSON.stringify(issue.rows)).not.toContain(issued.json.token);
    const listed = await api('GET', `/admin/v1/subscriptions/${s.subscriptionId}/tokens`, { token: auditor.token });
    expect(listed.json.items.map((x: { tokenId: string }) => x.tokenId)).toContain(issued.json.tokenId);
    expect(JSON.stringify(listed.json)).not.toContain(issued.json.token);

    const receiver = await openReceiver(t, issued.json.token, 0);
    const bystander = await openReceiver(t, s.receiverToken, 0);
    const revoked = await api('POST', `/admin/v1/tokens/${issued.json.tokenId}/revoke`, { token: operator.token, body: { reason: 'resold' } });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ revoked: true, tokenId: issued.json.tokenId, subscriptionId: s.subscriptionId, role: 'receiver' });
    expect(await receiver.waitForClose(closeWaitMs)).toBe(closeRevoked);
    expect(bystander.closeCode).toBeNull();
    expect(await refusal(t.receiverUrl, issued.json.token)).toEqual({ status: 401, code: 'REVOKED' });
    const audit = await pool.query(
      `SELECT user_id, metadata FROM audit_log WHERE event_type = 'CREDENTIAL' AND action = 'REVOKE' AND resource_id = $1`,
      [issued.json.tokenId],
    );
    expect(audit.rows).toEqual([{ user_id: operator.userId, metadata: expect.objectContaining({ via: 'admin-api', reason: 'resold' }) }]);
    const again = await api('POST', `/admin/v1/tokens/${issued.json.tokenId}/revoke`, { token: operator.token });
    expect(again.json.revoked).toBe(false);
    await bystander.close();

    await expectCode(api('POST', `/admin/v1/tokens/${crypto.randomUUID()}/revoke`, { token: operator.token }), 404, 'UNKNOWN_TOKEN');
    await expectCode(api('POST', '/admin/v1/tokens/xyz/revoke', { token: operator.token }), 400, 'INVALID_REQUEST');
    for (const bad of [{ ttlDays: 0 }, { ttlDays: 1.5 }, { role: 'admin' }, { label: 7 }]) {
      await expectCode(api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/tokens`, { token: operator.token, body: bad }), 400, 'INVALID_REQUEST');
    }
    await expectCode(api('POST', `/admin/v1/subscriptions/${crypto.randomUUID()}/tokens`, { token: operator.token }), 404, 'UNKNOWN_SUBSCRIPTION');
    await expectCode(api('GET', `/admin/v1/subscriptions/${crypto.randomUUID()}/tokens`, { token: operator.token }), 404, 'UNKNOWN_SUBSCRIPTION');
  });

  it('rotate-credentials: new master token and MAC key; a second rotation inside the overlap is 409 and changes nothing', async () => {
    const s = await t.subscription();
    const master = await openMaster(t, s);
    const rotated = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/rotate-credentials`, {
      token: operator.token,
      body: { overlapMinutes: 30, reason: 'scheduled' },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.json.masterToken).toMatch(/^spm_/);
    expect(rotated.json.macKeyId).toMatch(/^k2-/);
    expect(await master.waitForClose(closeWaitMs)).toBe(closeRevoked);
    const keys = await count('SELECT 1 FROM mac_keys WHERE subscription_id = $1', [s.subscriptionId]);
    await expectCode(
      api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/rotate-credentials`, { token: operator.token, body: {} }),
      409,
      'ROTATION_IN_PROGRESS',
    );
    expect(await count('SELECT 1 FROM mac_keys WHERE subscription_id = $1', [s.subscriptionId])).toBe(keys);
    expect((await openMaster(t, { ...s, masterToken: rotated.json.masterToken })).closeCode).toBeNull();

    // With no overlap no window stays open: a second rotation goes through.
    const other = await newSubscription();
    const path = `/admin/v1/subscriptions/${other.subscriptionId}/rotate-credentials`;
    expect((await api('POST', path, { token: operator.token, body: { overlapMinutes: 0 } })).status).toBe(200);
    expect((await api('POST', path, { token: operator.token, body: { overlapMinutes: 0 } })).status).toBe(200);
    await expectCode(api('POST', path, { token: operator.token, body: { overlapMinutes: -1 } }), 400, 'INVALID_REQUEST');
  });
});

describe('IP allowlists', () => {
  it('add (201), list, expire (refused from then on), remove; bad addresses are 400, unknown entries 404', async () => {
    const s = await t.subscription({ allowIp: null });
    const path = `/admin/v1/subscriptions/${s.subscriptionId}/ips`;
    expect(await refusal(t.receiverUrl, s.receiverToken)).toEqual({ status: 403, code: 'IP_NOT_ALLOWED' });
    const added = await api('POST', path, { token: operator.token, body: { ip: '127.0.0.1' } });
    expect(added.status).toBe(201);
    const future = '2099-01-01T00:00:00.000Z';
    expect((await api('POST', path, { token: operator.token, body: { ip: '10.1.0.0/16', expiresAt: future } })).status).toBe(201);
    const listed = await api('GET', path, { token: auditor.token });
    expect(listed.json.items.map((x: { ipAddress: string; expiresAt: string | null }) => [x.ipAddress, x.expiresAt])).toEqual([
      ['10.1.0.0/16', future],
      ['127.0.0.1/32', null],
    ]);
    const receiver = await openReceiver(t, s.receiverToken, 0);
    await receiver.close();

    const expired = await api('POST', `${path}/expire`, { token: operator.token, body: { ip: '127.0.0.1' } });
    expect(expired.status).toBe(200);
    expect(await refusal(t.receiverUrl, s.receiverToken)).toEqual({ status: 403, code: 'IP_NOT_ALLOWED' });
    expect((await api('POST', `${path}/remove`, { token: operator.token, body: { ip: '10.1.0.0/16' } })).json).toMatchObject({ removed: true });
    await expectCode(api('POST', `${path}/remove`, { token: operator.token, body: { ip: '10.1.0.0/16' } }), 404, 'UNKNOWN_ALLOWED_IP');
    await expectCode(api('POST', `${path}/expire`, { token: operator.token, body: { ip: '192.0.2.1' } }), 404, 'UNKNOWN_ALLOWED_IP');
    for (const bad of [{ ip: 'localhost' }, { ip: '10.0.0.5/24' }, { ip: '1.2.3.4', expiresAt: 'tomorrow' }, {}]) {
      await expectCode(api('POST', path, { token: operator.token, body: bad }), 400, 'INVALID_REQUEST');
    }
    expect((await api('GET', path, { token: auditor.token })).json.items.length).toBe(1);
    await expectCode(api('GET', `/admin/v1/subscriptions/${crypto.randomUUID()}/ips`, { token: auditor.token }), 404, 'UNKNOWN_SUBSCRIPTION');
  });
});

describe('audit log queries', () => {
  it('filters by user, event type, IP and time range, newest first, in keyset pages with no row twice', async () => {
    const from = new Date().toISOString();
    const pager = await adminStore.createAdminUser({ email: 'pager@ops.example', role: 'auditor' });
    for (let i = 0; i < 5; i++) await api('GET', '/admin/v1/whoami', { token: pager.token });
    const to = new Date(Date.now() + 1000).toISOString();
    const seen: { logId: string; eventTime: string }[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ userId: pager.userId, eventType: 'ADMIN_API', ip: '127.0.0.0/8', from, to, limit: '2' });
      if (cursor !== null) q.set('cursor', cursor);
      const r = await api('GET', `/admin/v1/audit?${q}`, { token: auditor.token });
      expect(r.status).toBe(200);
      seen.push(...r.json.items);
      cursor = r.json.nextCursor;
      if (cursor === null) break;
    }
    expect(seen.length).toBe(5);
    expect(new Set(seen.map((x) => x.logId)).size).toBe(5);
    expect(seen.every((x: Record<string, unknown>) => x.userId === pager.userId && x.action === 'WHOAMI' && x.ipAddress === '127.0.0.1')).toBe(true);
    const times = seen.map((x) => Date.parse(x.eventTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const none = await api('GET', `/admin/v1/audit?userId=${pager.userId}&ip=192.0.2.0/24`, { token: auditor.token });
    expect(none.json).toEqual({ items: [], nextCursor: null });
    const past = await api('GET', `/admin/v1/audit?userId=${pager.userId}&to=${encodeURIComponent(from)}`, { token: auditor.token });
    expect(past.json.items).toEqual([]);
    for (const bad of ['eventType=admin_api', 'userId=42', 'ip=nowhere', 'from=yesterday', 'limit=-1', 'cursor=%25%25', 'page=2']) {
      await expectCode(api('GET', `/admin/v1/audit?${bad}`, { token: auditor.token }), 400, 'INVALID_REQUEST');
    }
  });
});

describe('billing ledger', () => {
  it('reads entries under row-level security: the admin API sees all (filtered, paged), a user tenant only its own', async () => {
    const a = await api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: 'bill-a', ownerEmail: 'bill-a@example.com' } });
    await api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: 'bill-b', ownerEmail: 'bill-b@example.com' } });
    const userA = (await api('GET', '/admin/v1/users?email=bill-a@example.com')).json.userId as string;
    const userB = (await api('GET', '/admin/v1/users?email=bill-b@example.com')).json.userId as string;
    await withTenant(appPool, { userId: root.userId, role: 'admin' }, async (c) => {
      for (const [user, amount] of [[userA, 1000], [userA, 250], [userB, 7000]] as const) {
        await c.query(
          `INSERT INTO billing_ledger (user_id, subscription_id, entry_type, amount_minor, currency, description) VALUES ($1, $2, 'CHARGE', $3, 'USD', 'monthly')`,
          [user, user === userA ? a.json.subscriptionId : null, amount],
        );
      }
    });
    const mine = await api('GET', `/admin/v1/billing?userId=${userA}&limit=1`, { token: auditor.token });
    expect(mine.status).toBe(200);
    expect(mine.json.items).toHaveLength(1);
    const next = await api('GET', `/admin/v1/billing?userId=${userA}&limit=1&cursor=${mine.json.nextCursor}`, { token: auditor.token });
    expect(next.json.nextCursor).toBeNull();
    expect([...mine.json.items, ...next.json.items].map((e: { amountMinor: string }) => e.amountMinor).sort()).toEqual(['1000', '250']);
    const all = await api('GET', '/admin/v1/billing?limit=500', { token: auditor.token });
    expect(all.json.items.map((e: { userId: string }) => e.userId)).toEqual(expect.arrayContaining([userA, userB]));
    const bySubscription = await api('GET', `/admin/v1/billing?subscriptionId=${a.json.subscriptionId}`, { token: auditor.token });
    expect(bySubscription.json.items).toHaveLength(2);
    // Read as user B (a provider tenant), with no filter: row-level security alone hides A's entries.
    const asB = await adminStore.readBilling({ userId: userB, role: 'provider' }, {});
    expect(asB.items.map((e) => [e.userId, e.amountMinor])).toEqual([[userB, '7000']]);
    await expectCode(api('GET', '/admin/v1/billing?userId=nobody', { token: auditor.token }), 400, 'INVALID_REQUEST');
    await expectCode(api('GET', '/admin/v1/billing?currency=USD', { token: auditor.token }), 400, 'INVALID_REQUEST');
    // The GDPR export carries the user's entries and no one else's; erasure leaves the ledger as it was.
    const exported = await api('GET', `/admin/v1/users/${userA}/export`);
    expect(exported.json.billingLedger.map((e: { amount_minor: string }) => e.amount_minor).sort()).toEqual(['1000', '250']);
    const before = await count('SELECT user_id, amount_minor FROM billing_ledger');
    expect((await api('POST', `/admin/v1/users/${userA}/erase`, { body: { reason: 'closing account' } })).status).toBe(200);
    expect(await count('SELECT user_id, amount_minor FROM billing_ledger')).toBe(before);
    expect(await count('SELECT 1 FROM billing_ledger WHERE user_id = $1', [userA])).toBe(2);
  });
});

describe('GDPR', () => {
  it('exports everything held about a user as JSON, then erases it: personal data gone, references kept', async () => {
    const created = await api('POST', '/admin/v1/subscriptions', { token: operator.token, body: { name: 'gdpr', ownerEmail: 'erin@example.com' } });
    await api('POST', `/admin/v1/subscriptions/${created.json.subscriptionId}/ips`, { token: operator.token, body: { ip: '198.51.100.0/24' } });
    const found = await api('GET', `/admin/v1/users?email=${encodeURIComponent('Erin@Example.com')}`);
    expect(found.status).toBe(200);
    const userId: string = found.json.userId;
    // Something the user did, from their address.
    await t.store.audit({ userId, eventType: 'PORTAL', action: 'LOGIN', ipAddress: '198.51.100.23', userAgent: 'Erin Browser' });

    const exported = await api('GET', `/admin/v1/users/${userId}/export`);
    expect(exported.status).toBe(200);
    expect(exported.json).toMatchObject({
      user: { user_id: userId, email: 'erin@example.com', role: 'provider', erased_at: null },
      subscriptions: [{ subscription_id: created.json.subscriptionId, name: 'gdpr' }],
      licenseTokens: [{ token_id: created.json.masterTokenId, role: 'master' }],
      allowedIps: [{ ip_address: '198.51.100.0/24' }],
      auditLog: [{ action: 'LOGIN', ip_address: '198.51.100.23', user_agent: 'Erin Browser' }],
      truncated: [],
    });
    expect(JSON.stringify(exported.json)).not.toContain(created.json.masterToken.slice(4, 40));

    await expectCode(api('POST', `/admin/v1/users/${userId}/erase`, { body: {} }), 400, 'INVALID_REQUEST');
    const erased = await api('POST', `/admin/v1/users/${userId}/erase`, { body: { reason: 'user request #7' } });
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ userId, auditRowsAnonymised: 1, adminCredentialsRevoked: 0 });

    const after = await api('GET', `/admin/v1/users/${userId}/export`);
    expect(after.json.user).toMatchObject({ email: `erased-${userId}@erased.invalid`, display_name: null });
    expect(after.json.user.erased_at).not.toBeNull();
    expect(after.json.auditLog.find((r: { action: string }) => r.action === 'LOGIN')).toMatchObject({ ip_address: null, user_agent: null });
    expect(JSON.stringify(after.json)).not.toContain('erin@example.com');
    // References stay: the subscription still points at the (anonymous) user.
    const owner = await pool.query('SELECT owner_user_id FROM subscriptions WHERE subscription_id = $1', [created.json.subscriptionId]);
    expect(owner.rows[0].owner_user_id).toBe(userId);
    expect(await count(`SELECT 1 FROM audit_log WHERE metadata::text LIKE '%erin@example.com%' OR request_payload::text LIKE '%erin@example.com%'`)).toBe(0);
    await expectCode(api('GET', `/admin/v1/users?email=erin@example.com`), 404, 'UNKNOWN_USER');
    await expectCode(api('POST', `/admin/v1/users/${userId}/erase`, { body: { reason: 'again' } }), 409, 'ALREADY_ERASED');
    await expectCode(api('GET', `/admin/v1/users/${crypto.randomUUID()}/export`), 404, 'UNKNOWN_USER');
    await expectCode(api('GET', '/admin/v1/users?email=not-an-email'), 400, 'INVALID_REQUEST');
  });

  it('erasing an admin user revokes its credentials', async () => {
    const leaving = await adminStore.createAdminUser({ email: 'leaving@ops.example', role: 'operator' });
    expect((await api('GET', '/admin/v1/whoami', { token: leaving.token })).status).toBe(200);
    const erased = await api('POST', `/admin/v1/users/${leaving.userId}/erase`, { body: { reason: 'left the company' } });
    expect(erased.json).toMatchObject({ adminCredentialsRevoked: 1 });
    await expectCode(api('GET', '/admin/v1/whoami', { token: leaving.token }), 401, 'INVALID_CREDENTIAL');
  });
});
