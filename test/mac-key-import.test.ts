/**
 * A provider brings its own MAC key (issue 15 item 9): a Master EA moving to
 * sigplane keeps its key and its subscription id. Through the CLI (`node
 * dist/cli/main.js`, the key from a file or stdin, never an argument) and
 * the admin API (in this process, on the application role's stores, as
 * `serve` runs it), against a real Postgres:
 *
 * - the key is checked like a generated one (64 lowercase hex characters):
 *   anything else is refused INVALID_MAC_KEY and changes nothing; a taken
 *   subscription id is SUBSCRIPTION_EXISTS; a key is never taken as an
 *   argument, and a refused one is never echoed;
 * - it is encrypted at rest with the same secret box (the row holds neither
 *   its bytes nor its text) and it is what the server verifies with: a
 *   master signing with it is accepted;
 * - it is audited in the same transaction as the change (an audit row that
 *   cannot be written leaves the keys as they were), and no audit row, log
 *   line or answer holds it;
 * - an EA's v1 secret in another format (any string, as the seed allowed) is
 *   refused unless the importer opts in (--legacy-v1-secret, `legacyV1`);
 *   then it is taken as its exact UTF-8 bytes, verifies v1 only (its key id
 *   is no v2 key: UNKNOWN_KEY), is audited as such, is answered with
 *   WEAK_MAC_KEY when weak, and the existing rotation replaces it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../io/admin/admin-server';
import { AdminStore, type CreatedAdminUser } from '../persistence/pg/admin-store';
import { applicationDatabaseUrl } from '../persistence/pg/app-role';
import { ConfigStore } from '../persistence/pg/config-store';
import { createPool } from '../persistence/pg/pool';
import { SecretBox } from '../persistence/pg/secret-box';
import { openWelcomed, send } from './support/e2e';
import { cliPath, runCli, type CliRun } from './support/cli-process';
import { v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';

let t: TestServer;
let owner: Pool;
let appPool: Pool;
let adminServer: AdminServer;
let operator: CreatedAdminUser;
let tempDir: string;
const logged: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
  t = await startTestServer({ shardCount: 1 });
  owner = createPool(t.databaseUrl, { max: 2 });
  // The admin API on the application role's stores, as `sigplane serve` runs it.
  appPool = createPool(applicationDatabaseUrl(t.databaseUrl, undefined).url, { max: 2 });
  const appStore = new ConfigStore(appPool, SecretBox.fromEnvironment({ SIGPLANE_KEK: t.kekBase64 }, { dataDir: t.dataDir, allowGenerate: false }));
  const adminStore = new AdminStore(appPool, appStore);
  adminServer = new AdminServer({ host: '127.0.0.1', port: 0, store: appStore, adminStore, log: (level, message, fields) => void logged.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`) });
  await adminServer.start();
  operator = await adminStore.createAdminUser({ email: 'operator@keys.example', role: 'operator' });
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-mac-import-'));
});

afterAll(async () => {
  adminServer?.stop();
  await appPool?.end();
  await owner?.end();
  await t?.close();
  if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
});

const newKey = (): string => crypto.randomBytes(32).toString('hex');

function keyFile(content: string): string {
  const file = path.join(tempDir, `key-${crypto.randomUUID()}`);
  fs.writeFileSync(file, content, { mode: 0o600 });
  return file;
}

function sigplane(args: string[], input?: string): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete env[name];
  return runCli([...args, '--data', path.join(tempDir, 'data')], { env: { ...env, DATABASE_URL: t.databaseUrl, SIGPLANE_KEK: t.kekBase64 }, cwd: tempDir, input });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const response = await fetch(`http://127.0.0.1:${adminServer.port}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${operator.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text), text };
}

/** Every place a key must never be: each audit row, whole, and the mac_keys rows, as text. */
async function storedText(): Promise<string> {
  const audit = await owner.query<{ row: string }>('SELECT a::text AS row FROM audit_log a');
  const keys = await owner.query<{ row: string }>("SELECT k::text || encode(ciphertext, 'hex') || encode(ciphertext, 'escape') AS row FROM mac_keys k");
  return [...audit.rows, ...keys.rows].map((r) => r.row).join('\n');
}

async function macKeyRows(subscriptionId: string): Promise<{ key_id: string; not_after: Date | null }[]> {
  return (await owner.query('SELECT key_id, not_after FROM mac_keys WHERE subscription_id = $1 ORDER BY created_at, key_id', [subscriptionId])).rows;
}

async function allowLocal(subscriptionId: string): Promise<void> {
  await t.store.addAllowedIp(subscriptionId, '127.0.0.1', {});
}

/** What the server verifies with: a master signing v1 (the key's text) and v2 (its bytes) with `keyHex` is accepted. */
async function signsWith(subscriptionId: string, masterToken: string, keyId: string, keyHex: string): Promise<void> {
  const master = await openWelcomed(t.masterUrl, masterToken);
  const welcome = master.frames.find((f) => f.kind === 'welcome');
  const next = welcome?.kind === 'welcome' ? Number(welcome.welcome.lastSequence) + 1 : 1;
  expect(await send(master, v1Frame(keyHex, v1Fields(subscriptionId, next)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
  expect(await send(master, v2Frame(Buffer.from(keyHex, 'hex'), keyId, v2Body(subscriptionId, next + 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
  await master.close();
}

/** The v1 key of a legacy v1 secret is its UTF-8 bytes; no v2 key exists under its id, whatever bytes a v2 MAC is made with. */
async function signsV1Only(subscriptionId: string, masterToken: string, keyId: string, secret: string): Promise<void> {
  const master = await openWelcomed(t.masterUrl, masterToken);
  const welcome = master.frames.find((f) => f.kind === 'welcome');
  const next = welcome?.kind === 'welcome' ? Number(welcome.welcome.lastSequence) + 1 : 1;
  const utf8 = Buffer.from(secret, 'utf8');
  expect(await send(master, v1Frame(utf8, v1Fields(subscriptionId, next)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
  const v2Candidates = [utf8.length === 32 ? utf8 : crypto.createHash('sha256').update(utf8).digest()];
  if (/^[0-9a-f]{64}$/.test(secret)) v2Candidates.push(Buffer.from(secret, 'hex'));
  for (const key of v2Candidates) {
    expect(await send(master, v2Frame(key, keyId, v2Body(subscriptionId, next + 1)))).toMatchObject({ kind: 'reject', code: 'UNKNOWN_KEY' });
  }
  // Not the hex of its bytes, as a generated key's v1 text would be.
  expect(await send(master, v1Frame(utf8.toString('hex'), v1Fields(subscriptionId, next + 1)))).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
  await master.close();
}

/** A short, patterned v1 secret like the seed's examples (weak: SHORT and LOW_ENTROPY). */
const weakLegacySecret = (): string => `legacy-${crypto.randomBytes(3).toString('hex')}`;
/** A legacy v1 secret of 40 random characters after some non-ASCII text: not weak. */
const strongLegacySecret = (): string => `Zürich ключ 🔑 ${crypto.randomBytes(30).toString('base64')}`;

async function auditMetadata(logId: string): Promise<Record<string, unknown>> {
  return (await owner.query('SELECT metadata FROM audit_log WHERE log_id = $1', [logId])).rows[0].metadata;
}

const badKeys: [string, string][] = [
  ['uppercase hex', newKey().toUpperCase()],
  ['63 characters', newKey().slice(1)],
  ['65 characters', `${newKey()}a`],
  ['not hex', `${newKey().slice(2)}zz`],
  ['a passphrase (a public vector\'s)', 'k3y-For-Subscription-A'],
  ['a trailing space', `${newKey()} `],
  ['64 hex characters that are not random', '0'.repeat(64)],
];

/** Refused even with the legacy v1 opt-in (the file forms: written as bytes). */
const badLegacySecrets: [string, Buffer][] = [
  ['a tab', Buffer.from(`legacy\t${crypto.randomBytes(8).toString('hex')}`)],
  ['a NUL', Buffer.from(`legacy\u0000${crypto.randomBytes(8).toString('hex')}`)],
  ['a byte-order mark', Buffer.from(`\ufefflegacy-${crypto.randomBytes(8).toString('hex')}`)],
  ['257 bytes', Buffer.from(crypto.randomBytes(200).toString('base64').slice(0, 257))],
  ['bytes that are not UTF-8', Buffer.concat([Buffer.from(`legacy-${crypto.randomBytes(8).toString('hex')}`), Buffer.from([0xff, 0xfe])])],
  ['nothing but a line ending', Buffer.from('\n')],
];

describe('the CLI', () => {
  it('creates a subscription with an existing EA\'s id and key from a file: encrypted, audited, verified with, never printed', async () => {
    const key = newKey();
    const id = crypto.randomUUID();
    const run = await sigplane(['subscription', 'create', '--name', 'moved EA', '--subscription-id', id, '--mac-key-file', keyFile(`${key}\n`), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const created = JSON.parse(run.stdout);
    expect(created).toMatchObject({ subscriptionId: id, macKeyId: expect.stringMatching(/^k1-[0-9a-f]{8}$/) });
    expect(created.macSecretHex).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).not.toContain(key);

    const keys = await t.store.loadMacKeys(id);
    expect(keys.map((k) => [k.keyId, k.secret.toString('hex')])).toEqual([[created.macKeyId, key]]);
    const stored = await storedText();
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(Buffer.from(key, 'hex').toString('latin1'));
    const audit = await owner.query("SELECT event_type, action, metadata FROM audit_log WHERE resource_id = $1 AND action = 'CREATE_SUBSCRIPTION'", [id]);
    expect(audit.rows).toEqual([{ event_type: 'CONFIG', action: 'CREATE_SUBSCRIPTION', metadata: expect.objectContaining({ via: 'cli', macKeyId: created.macKeyId, macKeyImported: true }) }]);

    await allowLocal(id);
    await signsWith(id, created.masterToken, created.macKeyId, key);
  });

  it('imports a key from stdin as the current one, the previous valid for the overlap; audited CREDENTIAL / IMPORT_MAC_KEY', async () => {
    const s = await t.subscription();
    const key = newKey();
    const run = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', '-', '--overlap-minutes', '5', '--reason', 'moving the EA', '--json'], `${key}\r\n`);
    expect(run.code, run.stderr).toBe(0);
    expect(`${run.stdout}${run.stderr}`).not.toContain(key);
    const imported = JSON.parse(run.stdout);
    expect(imported).toMatchObject({ subscriptionId: s.subscriptionId, macKeyId: expect.stringMatching(/^k2-[0-9a-f]{8}$/) });
    const keys = await t.store.loadMacKeys(s.subscriptionId);
    expect(keys.map((k) => [k.keyId, k.secret.toString('hex'), k.notAfterMs === null])).toEqual([
      [imported.macKeyId, key, true],
      [s.macKeyId, s.macKey.toString('hex'), false],
    ]);
    expect(keys[1]!.notAfterMs).toBe(Date.parse(imported.previousMacKeysValidUntil));
    const audit = await owner.query('SELECT event_type, resource_type, metadata FROM audit_log WHERE log_id = $1', [imported.auditLogId]);
    expect(audit.rows).toEqual([
      { event_type: 'CREDENTIAL', resource_type: 'subscription', metadata: expect.objectContaining({ via: 'cli', macKeyId: imported.macKeyId, overlapMs: 300_000, reason: 'moving the EA' }) },
    ]);
    expect(await storedText()).not.toContain(key);
    await signsWith(s.subscriptionId, s.masterToken, imported.macKeyId, key);
  });

  it('refuses a bad key INVALID_MAC_KEY without echoing it, and changes nothing', async () => {
    const s = await t.subscription();
    const before = await macKeyRows(s.subscriptionId);
    const auditBefore = (await owner.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
    for (const [what, bad] of badKeys) {
      const run = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', keyFile(`${bad}\n`)]);
      expect(run.code, what).toBe(1);
      expect(run.stderr, what).toContain('INVALID_MAC_KEY');
      expect(`${run.stdout}${run.stderr}`, what).not.toContain(bad.trim());
      const create = await sigplane(['subscription', 'create', '--name', 'bad key', '--mac-key-file', keyFile(bad)]);
      expect([create.code, create.stderr.includes('INVALID_MAC_KEY')], what).toEqual([1, true]);
    }
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);
    expect((await owner.query("SELECT count(*)::int AS n FROM subscriptions WHERE name = 'bad key'")).rows[0].n).toBe(0);
    expect((await owner.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(auditBefore);
  });

  it('never takes the key as an argument, and does not echo one given there; a missing file is named by the option only', async () => {
    const s = await t.subscription();
    const key = newKey();
    for (const args of [
      ['subscription', 'import-mac-key', '--subscription', s.subscriptionId, key],
      ['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key', key],
      ['subscription', 'import-mac-key', '--subscription', s.subscriptionId, `--mac-key=${key}`],
    ]) {
      const run = await sigplane(args);
      expect(run.code).toBe(2);
      expect(`${run.stdout}${run.stderr}`).not.toContain(key);
    }
    const missing = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', path.join(tempDir, key)]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--mac-key-file: cannot read the file (ENOENT)');
    expect(missing.stderr).not.toContain(key);
    expect(await macKeyRows(s.subscriptionId)).toHaveLength(1);
  });

  it('refuses a subscription id that is taken: SUBSCRIPTION_EXISTS, nothing created', async () => {
    const s = await t.subscription();
    const before = (await owner.query('SELECT count(*)::int AS n FROM license_tokens')).rows[0].n;
    const run = await sigplane(['subscription', 'create', '--name', 'second', '--subscription-id', s.subscriptionId, '--mac-key-file', keyFile(newKey())]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('SUBSCRIPTION_EXISTS');
    expect((await owner.query('SELECT name FROM subscriptions WHERE subscription_id = $1', [s.subscriptionId])).rows).toEqual([{ name: expect.stringMatching(/^test-/) }]);
    expect((await owner.query('SELECT count(*)::int AS n FROM license_tokens')).rows[0].n).toBe(before);
  });
});

describe('the admin API', () => {
  it('creates a subscription with the provider\'s id and key (201, the key not in the answer), then imports another; both audited, the body redacted', async () => {
    const id = crypto.randomUUID();
    const key = newKey();
    const created = await api('POST', '/admin/v1/subscriptions', { name: 'moved via API', subscriptionId: id.toUpperCase(), macSecret: key });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ subscriptionId: id, macKeyId: expect.stringMatching(/^k1-/) });
    expect(created.text).not.toContain(key);
    expect((await t.store.loadMacKeys(id)).map((k) => k.secret.toString('hex'))).toEqual([key]);

    const second = newKey();
    const imported = await api('POST', `/admin/v1/subscriptions/${id}/mac-keys`, { macSecret: second, overlapMinutes: 0, reason: 'EA key moved' });
    expect(imported.status, imported.text).toBe(201);
    expect(imported.json).toMatchObject({ subscriptionId: id, macKeyId: expect.stringMatching(/^k2-/), auditLogId: expect.any(String) });
    expect(imported.text).not.toContain(second);
    expect((await t.store.loadMacKeys(id)).map((k) => k.secret.toString('hex'))).toEqual([second]);

    // The API's own row of the create names no resource (the id is made by the request): found by the name it carried.
    const rows = await owner.query<{ event_type: string; action: string; request_payload: unknown }>(
      "SELECT event_type, action, request_payload FROM audit_log WHERE resource_id = $1 OR request_payload->>'name' = 'moved via API' ORDER BY event_time, log_id",
      [id],
    );
    expect(rows.rows.map((r) => `${r.event_type} ${r.action}`).sort()).toEqual(
      ['ADMIN_API CREATE_SUBSCRIPTION', 'ADMIN_API IMPORT_MAC_KEY', 'CONFIG CREATE_SUBSCRIPTION', 'CREDENTIAL IMPORT_MAC_KEY'].sort(),
    );
    const apiRows = rows.rows.filter((r) => r.event_type === 'ADMIN_API');
    expect(apiRows.map((r) => (r.request_payload as { macSecret: string }).macSecret)).toEqual(['[redacted]', '[redacted]']);
    const stored = await storedText();
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(second);
    expect(logged.join('\n')).not.toContain(key);

    const masterToken = (await t.store.issueMasterToken(id)).token;
    await allowLocal(id);
    await signsWith(id, masterToken, imported.json.macKeyId, second);
  });

  it('refuses bad keys 400 INVALID_MAC_KEY, a taken id 409 SUBSCRIPTION_EXISTS, an open overlap 409 ROTATION_IN_PROGRESS; nothing changes', async () => {
    const s = await t.subscription();
    const before = await macKeyRows(s.subscriptionId);
    for (const [what, bad] of badKeys) {
      const imported = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: bad });
      expect([imported.status, imported.json.code], what).toEqual([400, 'INVALID_MAC_KEY']);
      expect(imported.text, what).not.toContain(bad.trim());
      const created = await api('POST', '/admin/v1/subscriptions', { name: 'bad key via API', macSecret: bad });
      expect([created.status, created.json.code], what).toEqual([400, 'INVALID_MAC_KEY']);
    }
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);
    expect((await owner.query("SELECT count(*)::int AS n FROM subscriptions WHERE name = 'bad key via API'")).rows[0].n).toBe(0);
    const refusedRows = await owner.query<{ error_message: string; request_payload: { macSecret: string } }>(
      "SELECT error_message, request_payload FROM audit_log WHERE event_type = 'ADMIN_API' AND action = 'IMPORT_MAC_KEY' AND resource_id = $1",
      [s.subscriptionId],
    );
    expect(refusedRows.rows).toHaveLength(badKeys.length);
    expect(refusedRows.rows.every((r) => r.error_message.startsWith('INVALID_MAC_KEY: ') && r.request_payload.macSecret === '[redacted]')).toBe(true);

    const taken = await api('POST', '/admin/v1/subscriptions', { name: 'taken', subscriptionId: s.subscriptionId, macSecret: newKey() });
    expect([taken.status, taken.json.code]).toEqual([409, 'SUBSCRIPTION_EXISTS']);
    expect((await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: newKey(), overlapMinutes: 60 })).status).toBe(201);
    const during = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: newKey() });
    expect([during.status, during.json.code]).toEqual([409, 'ROTATION_IN_PROGRESS']);
    expect(await macKeyRows(s.subscriptionId)).toHaveLength(2);
    const unknown = await api('POST', `/admin/v1/subscriptions/${crypto.randomUUID()}/mac-keys`, { macSecret: newKey() });
    expect([unknown.status, unknown.json.code]).toEqual([404, 'UNKNOWN_SUBSCRIPTION']);
  });
});

describe('a legacy v1 secret (any string the EA signs v1 with), opted in', () => {
  it('CLI: refused INVALID_MAC_KEY without --legacy-v1-secret; with it taken as its UTF-8 bytes, v1 only, audited, WEAK_MAC_KEY on stderr, never printed', async () => {
    const s = await t.subscription();
    const before = await macKeyRows(s.subscriptionId);
    const secret = weakLegacySecret();
    const file = keyFile(`${secret}\n`);
    const refused = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('INVALID_MAC_KEY');
    expect(refused.stderr).toContain('legacy v1');
    expect(`${refused.stdout}${refused.stderr}`).not.toContain(secret);
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);

    const run = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', file, '--legacy-v1-secret', '--overlap-minutes', '0', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
    const imported = JSON.parse(run.stdout);
    expect(imported).toMatchObject({
      subscriptionId: s.subscriptionId,
      macKeyId: expect.stringMatching(/^k2-[0-9a-f]{8}$/),
      legacyV1: true,
      warnings: [{ code: 'WEAK_MAC_KEY', reasons: ['SHORT', 'LOW_ENTROPY'], message: expect.stringContaining('rotate') }],
    });
    expect(run.stderr).toContain('warning: WEAK_MAC_KEY: ');
    expect(await auditMetadata(imported.auditLogId)).toMatchObject({ via: 'cli', macKeyId: imported.macKeyId, macKeyLegacyV1: true, macKeyWeak: ['SHORT', 'LOW_ENTROPY'] });
    const stored = await storedText();
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(Buffer.from(secret).toString('hex'));
    const keys = await t.store.loadMacKeys(s.subscriptionId);
    expect(keys.map((k) => [k.keyId, k.legacyV1, k.secret.toString('utf8')])).toEqual([[imported.macKeyId, true, secret]]);
    await signsV1Only(s.subscriptionId, s.masterToken, imported.macKeyId, secret);
  });

  it('CLI: creates a subscription with a strong non-ASCII v1 secret from stdin (no warning), audited on the create', async () => {
    const id = crypto.randomUUID();
    const secret = strongLegacySecret();
    const run = await sigplane(['subscription', 'create', '--name', 'legacy EA', '--subscription-id', id, '--mac-key-file', '-', '--legacy-v1-secret', '--json'], `${secret}\r\n`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('WEAK_MAC_KEY');
    expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
    const created = JSON.parse(run.stdout);
    expect(created).toMatchObject({ subscriptionId: id, legacyV1: true, warnings: [] });
    expect(created.macSecretHex).toBeUndefined();
    const audit = await owner.query("SELECT metadata FROM audit_log WHERE resource_id = $1 AND action = 'CREATE_SUBSCRIPTION'", [id]);
    expect(audit.rows).toEqual([{ metadata: expect.objectContaining({ via: 'cli', macKeyImported: true, macKeyLegacyV1: true, macKeyWeak: [] }) }]);
    expect(await storedText()).not.toContain(secret);
    await allowLocal(id);
    await signsV1Only(id, created.masterToken, created.macKeyId, secret);

    const alone = await sigplane(['subscription', 'create', '--name', 'no key file', '--legacy-v1-secret']);
    expect([alone.code, alone.stderr.includes('--legacy-v1-secret goes with --mac-key-file')]).toEqual([2, true]);
  });

  it('CLI: refuses, even opted in, a secret with control characters, over 256 bytes or not UTF-8: INVALID_MAC_KEY, not echoed, nothing changed', async () => {
    const s = await t.subscription();
    const before = await macKeyRows(s.subscriptionId);
    const auditBefore = (await owner.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n;
    for (const [what, bytes] of badLegacySecrets) {
      const file = path.join(tempDir, `key-${crypto.randomUUID()}`);
      fs.writeFileSync(file, bytes, { mode: 0o600 });
      const run = await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', file, '--legacy-v1-secret']);
      expect([run.code, run.stderr.includes('INVALID_MAC_KEY')], what).toEqual([1, true]);
      const printable = bytes.toString('utf8').replace(/[\u0000-\u001f\ufeff\ufffd]/g, '');
      if (printable.length > 0) expect(`${run.stdout}${run.stderr}`, what).not.toContain(printable.slice(0, 16));
    }
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);
    expect((await owner.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(auditBefore);
  });

  it('admin API: 400 INVALID_MAC_KEY without legacyV1; 201 with it, legacyV1 and WEAK_MAC_KEY in the answer, the opt-in in the audit rows, the secret nowhere', async () => {
    const id = crypto.randomUUID();
    const secret = 'passwordpasswordpasswordpassword'; // 32 bytes: the length of a v2 key, and still no v2 key
    const refusedCreate = await api('POST', '/admin/v1/subscriptions', { name: 'legacy via API', subscriptionId: id, macSecret: secret });
    expect([refusedCreate.status, refusedCreate.json.code]).toEqual([400, 'INVALID_MAC_KEY']);
    expect(refusedCreate.text).not.toContain(secret);
    const notBoolean = await api('POST', '/admin/v1/subscriptions', { name: 'legacy via API', subscriptionId: id, macSecret: secret, legacyV1: 'yes' });
    expect([notBoolean.status, notBoolean.json.code]).toEqual([400, 'INVALID_REQUEST']);
    const noSecret = await api('POST', '/admin/v1/subscriptions', { name: 'legacy via API', subscriptionId: id, legacyV1: true });
    expect([noSecret.status, noSecret.json.code]).toEqual([400, 'INVALID_REQUEST']);
    expect((await owner.query('SELECT count(*)::int AS n FROM subscriptions WHERE subscription_id = $1', [id])).rows[0].n).toBe(0);

    const created = await api('POST', '/admin/v1/subscriptions', { name: 'legacy via API', subscriptionId: id, macSecret: secret, legacyV1: true });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ subscriptionId: id, legacyV1: true, warnings: [{ code: 'WEAK_MAC_KEY', reasons: ['LOW_ENTROPY'] }] });
    expect(created.text).not.toContain(secret);

    const s = await t.subscription();
    const second = weakLegacySecret();
    const refusedImport = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: second, overlapMinutes: 0 });
    expect([refusedImport.status, refusedImport.json.code]).toEqual([400, 'INVALID_MAC_KEY']);
    const imported = await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: second, legacyV1: true, overlapMinutes: 0, reason: 'v1 EA moved' });
    expect(imported.status, imported.text).toBe(201);
    expect(imported.json).toMatchObject({ legacyV1: true, warnings: [{ code: 'WEAK_MAC_KEY', reasons: ['SHORT', 'LOW_ENTROPY'] }] });
    expect(imported.text).not.toContain(second);
    expect(await auditMetadata(imported.json.auditLogId)).toMatchObject({ reason: 'v1 EA moved', macKeyLegacyV1: true, macKeyWeak: ['SHORT', 'LOW_ENTROPY'] });

    const apiRows = await owner.query<{ action: string; response_status: number; request_payload: { macSecret: string; legacyV1?: boolean } }>(
      "SELECT action, response_status, request_payload FROM audit_log WHERE event_type = 'ADMIN_API' AND (resource_id = $1 OR request_payload->>'subscriptionId' = $2) ORDER BY event_time, log_id",
      [s.subscriptionId, id],
    );
    expect(apiRows.rows.map((r) => [r.action, r.response_status, r.request_payload.macSecret, r.request_payload.legacyV1])).toEqual([
      ['CREATE_SUBSCRIPTION', 400, '[redacted]', undefined],
      ['CREATE_SUBSCRIPTION', 400, '[redacted]', 'yes'],
      ['CREATE_SUBSCRIPTION', 400, undefined, true],
      ['CREATE_SUBSCRIPTION', 201, '[redacted]', true],
      ['IMPORT_MAC_KEY', 400, '[redacted]', undefined],
      ['IMPORT_MAC_KEY', 201, '[redacted]', true],
    ]);
    const createRow = await owner.query("SELECT metadata FROM audit_log WHERE event_type = 'CONFIG' AND resource_id = $1", [id]);
    expect(createRow.rows).toEqual([{ metadata: expect.objectContaining({ macKeyImported: true, macKeyLegacyV1: true, macKeyWeak: ['LOW_ENTROPY'] }) }]);
    const stored = await storedText();
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(second);
    expect(logged.join('\n')).not.toContain(secret);
    expect(logged.join('\n')).not.toContain(second);

    const masterToken = (await t.store.issueMasterToken(id)).token;
    await allowLocal(id);
    await signsV1Only(id, masterToken, created.json.macKeyId, secret);
    await signsV1Only(s.subscriptionId, s.masterToken, imported.json.macKeyId, second);
  });

  it('64 hex characters imported with the opt-in are a v1 secret too (their text), never a v2 key; patterned hex needs the opt-in', async () => {
    const s = await t.subscription();
    for (const [secret, weak] of [
      [newKey(), []],
      ['0'.repeat(64), ['LOW_ENTROPY']],
    ] as const) {
      expect(await t.store.importMacKey(s.subscriptionId, { macSecret: secret, overlapMs: 0 }).then(() => 'imported', (e: { code?: string }) => e.code)).toBe(
        weak.length === 0 ? 'imported' : 'INVALID_MAC_KEY',
      );
      const imported = await t.store.importMacKey(s.subscriptionId, { macSecret: secret, legacyV1: true, overlapMs: 0 });
      expect([imported.legacyV1, imported.warnings.flatMap((w) => w.reasons)]).toEqual([true, weak]);
      await signsV1Only(s.subscriptionId, s.masterToken, imported.macKeyId, secret);
    }
  });

  it('the existing rotation replaces a legacy v1 secret: after rotate-credentials (no overlap) it verifies nothing, the new key verifies v1 and v2', async () => {
    const id = crypto.randomUUID();
    const secret = weakLegacySecret();
    const created = await api('POST', '/admin/v1/subscriptions', { name: 'legacy rotated away', subscriptionId: id, macSecret: secret, legacyV1: true });
    expect(created.status, created.text).toBe(201);
    await allowLocal(id);
    await signsV1Only(id, created.json.masterToken, created.json.macKeyId, secret);

    const rotated = await api('POST', `/admin/v1/subscriptions/${id}/rotate-credentials`, { overlapMinutes: 0, reason: 'retire the v1 secret' });
    expect(rotated.status, rotated.text).toBe(200);
    const keys = await t.store.loadMacKeys(id);
    expect(keys.map((k) => [k.keyId, k.legacyV1])).toEqual([[rotated.json.macKeyId, false]]);
    const master = await openWelcomed(t.masterUrl, rotated.json.masterToken);
    const welcome = master.frames.find((f) => f.kind === 'welcome');
    const next = welcome?.kind === 'welcome' ? Number(welcome.welcome.lastSequence) + 1 : 1;
    expect(await send(master, v1Frame(Buffer.from(secret, 'utf8'), v1Fields(id, next)))).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    await master.close();
    await signsWith(id, rotated.json.masterToken, rotated.json.macKeyId, rotated.json.macSecretHex);
  });
});

describe('one transaction', () => {
  it('when the audit row cannot be written, neither the imported key nor the subscription exists', async () => {
    const s = await t.subscription();
    const before = await macKeyRows(s.subscriptionId);
    await owner.query(`
      CREATE FUNCTION refuse_mac_key_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action IN ('IMPORT_MAC_KEY', 'CREATE_SUBSCRIPTION') AND NEW.event_type <> 'ADMIN_API' THEN RAISE EXCEPTION 'audit row refused by the test'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_mac_key_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_mac_key_audit();`);
    const id = crypto.randomUUID();
    try {
      expect((await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', keyFile(newKey())])).code).toBe(1);
      expect((await sigplane(['subscription', 'create', '--name', 'no audit', '--subscription-id', id, '--mac-key-file', keyFile(newKey())])).code).toBe(1);
      expect((await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: newKey() })).status).toBe(500);
      expect((await sigplane(['subscription', 'import-mac-key', '--subscription', s.subscriptionId, '--mac-key-file', keyFile(weakLegacySecret()), '--legacy-v1-secret'])).code).toBe(1);
      expect((await api('POST', `/admin/v1/subscriptions/${s.subscriptionId}/mac-keys`, { macSecret: weakLegacySecret(), legacyV1: true })).status).toBe(500);
    } finally {
      await owner.query('DROP TRIGGER refuse_mac_key_audit ON audit_log; DROP FUNCTION refuse_mac_key_audit();');
    }
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);
    expect((await owner.query('SELECT count(*)::int AS n FROM subscriptions WHERE subscription_id = $1', [id])).rows[0].n).toBe(0);
    expect(await macKeyRows(id)).toEqual([]);
  });
});
