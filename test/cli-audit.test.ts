/**
 * Configuration changes made with the `sigplane` CLI are audited (the
 * seed's complete audit trail; docs/security.md): each change and its
 * audit_log row are one transaction, the row names the OS user and host
 * (metadata.via = "cli"), and never holds a secret or an email. A command
 * that fails changes nothing and writes no row.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, runCli, type CliRun } from './support/cli-process';
import { createTestDatabase, type TestDatabase } from './support/database';

const kek = crypto.randomBytes(32).toString('base64');
let database: TestDatabase;
let tempDir: string;
let dataDir: string;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(e)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete e[name];
  return { ...e, DATABASE_URL: database.url, SIGPLANE_KEK: kek };
}

function sigplane(args: string[]): Promise<CliRun> {
  return runCli([...args, '--data', dataDir], { env: env(), cwd: tempDir });
}

async function ok(args: string[]): Promise<string> {
  const r = await sigplane(args);
  expect(r.code, `sigplane ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

interface Row {
  event_type: string;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  user_id: string | null;
  metadata: Record<string, unknown>;
}

/** Rows written at or after `since` (the CLI runs on this machine's clock), oldest first. */
async function rowsSince(since: Date): Promise<Row[]> {
  const { rows } = await database.pool.query<Row>(
    `SELECT event_type, action, resource_type, resource_id, user_id, metadata FROM audit_log
      WHERE event_time >= $1 AND event_type IN ('CONFIG', 'CREDENTIAL') ORDER BY event_time`,
    [since],
  );
  return rows;
}

beforeAll(async () => {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-cli-audit-'));
  dataDir = path.join(tempDir, 'data');
});

afterAll(async () => {
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

describe('the CLI audits every configuration change', () => {
  it('subscription create, settings, token issue, ip allow/expire/remove, kek rotate and audit-log maintain each write one row', async () => {
    const floor = new Date();
    const created = JSON.parse(await ok(['subscription', 'create', '--name', 'audited', '--owner-email', 'owner@example.com', '--json'])) as {
      subscriptionId: string;
      masterToken: string;
      macSecretHex: string;
    };
    const id = created.subscriptionId;
    await ok(['subscription', 'settings', '--subscription', id, '--patch', '{"ttlMs":30000}']);
    const issued = JSON.parse(await ok(['token', 'issue', '--subscription', id, '--label', 'alice', '--json'])) as { token: string; tokenId: string };
    await ok(['ip', 'allow', '--subscription', id, '--ip', '198.51.100.0/24']);
    await ok(['ip', 'expire', '--subscription', id, '--ip', '198.51.100.0/24']);
    await ok(['ip', 'remove', '--subscription', id, '--ip', '198.51.100.0/24']);
    await ok(['kek', 'rotate']);
    await ok(['audit-log', 'maintain']);

    const rows = await rowsSince(floor);
    expect(rows.map((r) => `${r.event_type} ${r.action}`)).toEqual([
      'CONFIG CREATE_SUBSCRIPTION',
      'CONFIG UPDATE_SETTINGS',
      'CREDENTIAL ISSUE',
      'CONFIG ALLOW_IP',
      'CONFIG EXPIRE_IP',
      'CONFIG REMOVE_IP',
      'CONFIG ROTATE_KEK',
      'CONFIG AUDIT_LOG_MAINTAIN',
    ]);
    for (const r of rows) {
      expect(r.metadata, `${r.action}`).toMatchObject({ via: 'cli', host: os.hostname() });
      expect(r.user_id).toBeNull();
    }
    expect(rows[0]).toMatchObject({ resource_type: 'subscription', resource_id: id, metadata: { name: 'audited' } });
    expect(rows[1]).toMatchObject({ resource_id: id, metadata: { patch: { ttlMs: 30000 } } });
    expect(rows[2]).toMatchObject({ resource_type: 'license_token', resource_id: issued.tokenId, metadata: { subscriptionId: id, role: 'receiver', label: 'alice' } });
    expect(rows[3]).toMatchObject({ resource_id: id, metadata: { ip: '198.51.100.0/24', expiresAt: null } });
    expect(rows[5]).toMatchObject({ resource_id: id, metadata: { ip: '198.51.100.0/24' } });
    // No secret and no personal data in the trail.
    const text = JSON.stringify(rows);
    for (const secret of [created.masterToken, created.masterToken.slice(4, 40), created.macSecretHex, issued.token, kek, 'owner@example.com']) {
      expect(text).not.toContain(secret);
    }
  });

  it('a command that fails changes nothing and writes no row', async () => {
    const floor = new Date();
    const unknown = crypto.randomUUID();
    expect((await sigplane(['token', 'issue', '--subscription', unknown])).code).not.toBe(0);
    expect((await sigplane(['ip', 'allow', '--subscription', unknown, '--ip', '203.0.113.9'])).code).not.toBe(0);
    expect((await sigplane(['ip', 'remove', '--subscription', unknown, '--ip', '203.0.113.9'])).code).not.toBe(0);
    expect((await sigplane(['subscription', 'settings', '--subscription', unknown, '--patch', '{"ttlMs":30000}'])).code).not.toBe(0);
    expect(await rowsSince(floor)).toEqual([]);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM allowed_ips WHERE subscription_id = $1', [unknown]);
    expect(rows[0].n).toBe(0);
  });
});
