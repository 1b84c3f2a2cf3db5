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
 *   line or answer holds it.
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

const badKeys: [string, string][] = [
  ['uppercase hex', newKey().toUpperCase()],
  ['63 characters', newKey().slice(1)],
  ['65 characters', `${newKey()}a`],
  ['not hex', `${newKey().slice(2)}zz`],
  ['a passphrase (a public vector\'s)', 'k3y-For-Subscription-A'],
  ['a trailing space', `${newKey()} `],
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
    } finally {
      await owner.query('DROP TRIGGER refuse_mac_key_audit ON audit_log; DROP FUNCTION refuse_mac_key_audit();');
    }
    expect(await macKeyRows(s.subscriptionId)).toEqual(before);
    expect((await owner.query('SELECT count(*)::int AS n FROM subscriptions WHERE subscription_id = $1', [id])).rows[0].n).toBe(0);
    expect(await macKeyRows(id)).toEqual([]);
  });
});
