/**
 * The admin API through `sigplane serve --admin-port 0` as a real process,
 * and the CLI's parity commands (`node dist/cli/main.js`) against the same
 * database: `admin create-user` prints a token once that works on the admin
 * port and only there; the admin listener is on 127.0.0.1; subscription
 * list/show/settings, token list and issue --role master, ip
 * list/expire/remove, audit query, user find/export/erase, billing read do
 * what the API does; bad input exits 2 (usage) or 1 (refused) and changes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitStdout, cliPath, runCli, type CliRun } from './support/cli-process';
import { createTestDatabase, type TestDatabase } from './support/database';

const cli = cliPath;
const kek = crypto.randomBytes(32).toString('base64');

let database: TestDatabase;
let tempDir: string;
let dataDir: string;
let server: ChildProcess | null = null;
let publicPort = 0;
let adminPort = 0;
let adminHost = '';

type Run = CliRun;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(e)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete e[name];
  return { ...e, DATABASE_URL: database.url, SIGPLANE_KEK: kek };
}

function sigplane(args: string[]): Promise<Run> {
  return runCli([...args, '--data', dataDir], { env: env(), cwd: tempDir });
}

async function ok(args: string[]): Promise<string> {
  const r = await sigplane(args);
  expect(r.code, `sigplane ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function okJson(args: string[]): Promise<any> {
  return JSON.parse(await ok(args));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(port: number, method: string, urlPath: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-admin-cli-'));
  dataDir = path.join(tempDir, 'data');
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--shards', '1', '--data', dataDir], {
    env: env(),
    cwd: tempDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await awaitStdout(
    child,
    (stdout) => {
      const main = /sigplane listening on port (\d+)/.exec(stdout);
      const adminLine = /sigplane admin API listening on (\S+) port (\d+)/.exec(stdout);
      if (main === null || adminLine === null) return null;
      publicPort = Number(main[1]);
      adminHost = adminLine[1]!;
      adminPort = Number(adminLine[2]);
      return true;
    },
    () => stderr,
  );
});

afterAll(async () => {
  if (server !== null && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

describe('sigplane admin and serve --admin-port', () => {
  it('create-user prints a token once; it works on the admin port (127.0.0.1 by default) and not on the public one; bad roles exit 2', async () => {
    expect(adminHost).toBe('127.0.0.1');
    expect(adminPort).not.toBe(publicPort);
    const out = await ok(['admin', 'create-user', '--email', 'ops@example.com', '--role', 'operator']);
    const token = /admin_token: +(spa_[0-9a-f]{64}_[0-9a-f]{8})/.exec(out)?.[1];
    expect(token).toBeDefined();
    expect(out).toContain('It will not be shown again');
    const who = await call(adminPort, 'GET', '/admin/v1/whoami', token!);
    expect(who).toMatchObject({ status: 200, json: { email: 'ops@example.com', role: 'operator' } });
    expect((await call(publicPort, 'GET', '/admin/v1/whoami', token!)).status).toBe(404);
    const { rows } = await database.pool.query('SELECT token_hash FROM admin_credentials');
    expect(rows.length).toBe(1);
    expect(JSON.stringify(rows)).not.toContain(token!.slice(4, 68));

    const bad = await sigplane(['admin', 'create-user', '--email', 'x@example.com', '--role', 'root']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role must be one of auditor, operator, admin/);
    expect((await sigplane(['admin', 'frobnicate'])).code).toBe(2);

    const listed = await okJson(['admin', 'list-users']);
    expect(listed).toEqual([expect.objectContaining({ email: 'ops@example.com', role: 'operator', revokedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(token!);
    expect(await ok(['admin', 'revoke-credential', '--credential-id', listed[0].credentialId])).toMatch(/revoked/);
    expect((await call(adminPort, 'GET', '/admin/v1/whoami', token!)).status).toBe(401);
  });
});

describe('CLI parity with the admin API', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let created: any;
  let id: string;

  beforeAll(async () => {
    created = await okJson(['subscription', 'create', '--name', 'parity', '--owner-email', 'pat@example.com', '--json']);
    id = created.subscriptionId;
  });

  it('subscription list, show and settings', async () => {
    const page = await okJson(['subscription', 'list', '--limit', '10']);
    expect(page.items.map((s: { subscriptionId: string }) => s.subscriptionId)).toContain(id);
    const shown = await okJson(['subscription', 'show', '--subscription', id]);
    expect(shown).toMatchObject({ subscriptionId: id, name: 'parity', ownerEmail: 'pat@example.com' });
    expect(JSON.stringify(shown)).not.toContain(created.macSecretHex);

    expect(await okJson(['subscription', 'settings', '--subscription', id, '--patch', '{"ttlMs":30000,"maxDeviationPips":25}'])).toMatchObject({
      overrides: { ttlMs: 30000, maxDeviationPips: 25 },
    });
    expect((await okJson(['subscription', 'settings', '--subscription', id])).overrides).toEqual({ ttlMs: 30000, maxDeviationPips: 25 });
    const badSetting = await sigplane(['subscription', 'settings', '--subscription', id, '--patch', '{"ttlMs":-5}']);
    expect(badSetting.code).toBe(1);
    expect(badSetting.stderr).toMatch(/ttlMs/);
    expect((await sigplane(['subscription', 'settings', '--subscription', id, '--patch', 'ttl=5'])).code).toBe(2);
    expect((await okJson(['subscription', 'settings', '--subscription', id])).overrides).toEqual({ ttlMs: 30000, maxDeviationPips: 25 });

  });

  it('token issue --role master and token list', async () => {
    const master = await okJson(['token', 'issue', '--subscription', id, '--role', 'master', '--json']);
    expect(master.token).toMatch(/^spm_/);
    // A master token lives a year unless --ttl-days says otherwise (a receiver license 30 days).
    expect(Date.parse(master.expiresAt)).toBeGreaterThan(Date.now() + 364 * 24 * 3600 * 1000);
    const tokens = await okJson(['token', 'list', '--subscription', id]);
    expect(tokens.map((x: { tokenId: string; role: string }) => [x.tokenId, x.role])).toEqual([
      [created.masterTokenId, 'master'],
      [master.tokenId, 'master'],
    ]);
    expect((await sigplane(['token', 'issue', '--subscription', id, '--role', 'admin'])).code).toBe(2);

  });

  it('ip list, expire and remove', async () => {
    await ok(['ip', 'allow', '--subscription', id, '--ip', '192.0.2.0/24']);
    await ok(['ip', 'allow', '--subscription', id, '--ip', '198.51.100.9']);
    expect(await ok(['ip', 'expire', '--subscription', id, '--ip', '192.0.2.0/24', '--at', '2030-01-01T00:00:00Z'])).toContain('2030-01-01T00:00:00.000Z');
    expect(await ok(['ip', 'remove', '--subscription', id, '--ip', '198.51.100.9'])).toContain('removed');
    expect((await sigplane(['ip', 'remove', '--subscription', id, '--ip', '198.51.100.9'])).code).toBe(1);
    expect(await okJson(['ip', 'list', '--subscription', id])).toEqual([
      expect.objectContaining({ ipAddress: '192.0.2.0/24', expiresAt: '2030-01-01T00:00:00.000Z' }),
    ]);

  });

  it('billing read, user find/export/erase, audit query', async () => {
    const found = await okJson(['user', 'find', '--email', 'pat@example.com']);
    // Ledger rows of pat and of someone else (written as the superuser that owns this test database).
    const other = await database.pool.query<{ user_id: string }>(`INSERT INTO users (email, role) VALUES ('other@example.com', 'subscriber') RETURNING user_id`);
    await database.pool.query(
      `INSERT INTO billing_ledger (user_id, subscription_id, entry_type, amount_minor, currency) VALUES ($1, $2, 'FEE', 990, 'EUR'), ($3, NULL, 'CHARGE', 5, 'EUR')`,
      [found.userId, id, other.rows[0].user_id],
    );
    const billing = await okJson(['billing', 'read', '--user', found.userId]);
    expect(billing.items.map((e: { userId: string; amountMinor: string }) => [e.userId, e.amountMinor])).toEqual([[found.userId, '990']]);
    expect((await sigplane(['billing', 'read'])).code).toBe(2);
    const exported = await okJson(['user', 'export', '--user', found.userId]);
    expect(exported.user.email).toBe('pat@example.com');
    expect(exported.subscriptions.map((s: { subscription_id: string }) => s.subscription_id)).toEqual([id]);
    const outFile = path.join(tempDir, 'pat.json');
    await ok(['user', 'export', '--user', found.userId, '--out', outFile]);
    expect((fs.statSync(outFile).mode & 0o777).toString(8)).toBe('600');
    expect((await sigplane(['user', 'erase', '--user', found.userId])).code).toBe(2);
    const erased = await okJson(['user', 'erase', '--user', found.userId, '--reason', 'ticket 9']);
    expect(erased.userId).toBe(found.userId);
    expect((await sigplane(['user', 'find', '--email', 'pat@example.com'])).code).toBe(1);

    const audit = await okJson(['audit', 'query', '--event-type', 'GDPR', '--limit', '5']);
    expect(audit.items[0]).toMatchObject({ action: 'ERASE', resourceId: found.userId, metadata: expect.objectContaining({ via: 'cli', reason: 'ticket 9' }) });
    expect((await sigplane(['audit', 'query', '--from', 'yesterday'])).code).toBe(2);
    expect((await sigplane(['audit', 'query', '--event-type', 'gdpr'])).code).toBe(1);
  });
});
