/**
 * Per-subscriber copy settings end to end: the store (real Postgres:
 * defaults, merge, revision, audit, refusals that change nothing), the
 * server sending them on subscribe before the welcome, and resending them
 * to live sessions of that license only when an operator changes them
 * (NOTIFY on the control channel), and the CLI that sets them.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiverClient, type ReceiverSettingsMessage } from '@sigplane/client';
import { SettingsError } from '@sigplane/protocol';
import { ReceiverSettingsStore, ReceiverSettingsStoreError } from '../persistence/pg/receiver-settings-store';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';

let t: TestServer;
let store: ReceiverSettingsStore;
let sub: TestSubscription;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestServer({ control: true, receiverSettings: true });
  const { createPool } = await import('../persistence/pg/pool');
  const pool = createPool(t.databaseUrl, { max: 2 });
  closers.push(() => pool.end());
  store = new ReceiverSettingsStore(pool);
  sub = await t.subscription();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await t?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SettingsError || error instanceof ReceiverSettingsStoreError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

/** A receiver that records what it is sent, in order. */
async function connect(token: string): Promise<{ client: ReceiverClient; events: string[]; settings: ReceiverSettingsMessage[] }> {
  const client = new ReceiverClient();
  const events: string[] = [];
  const settings: ReceiverSettingsMessage[] = [];
  client.on('welcome', () => events.push('welcome'));
  await client.connect(t.receiverUrl, token, {
    reconnect: false,
    onSignal: () => undefined,
    onSnapshot: () => undefined,
    onSettings: (s) => {
      events.push(`settings:${s.revision}`);
      settings.push(s);
    },
  });
  closers.push(() => client.close());
  return { client, events, settings };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the store', () => {
  it('loads defaults, merges patches, counts revisions, audits, and refuses bad input without a change', async () => {
    const fresh = await t.receiverToken(sub.subscriptionId);
    const initial = await store.load(fresh.tokenId);
    expect(initial).toMatchObject({ revision: 0, overrides: {}, subscriptionId: sub.subscriptionId });
    expect(initial.settings.lotMode).toBe('MULTIPLIER');

    const first = await store.update(fresh.tokenId, { lotMode: 'FIXED', lotValue: 0.3, symbolSuffix: '.m' });
    expect(first.revision).toBe(1);
    expect(first.settings).toMatchObject({ lotMode: 'FIXED', lotValue: 0.3, symbolSuffix: '.m', reverse: false });
    const second = await store.update(fresh.tokenId, { reverse: true, symbolSuffix: null });
    expect(second.revision).toBe(2);
    expect(second.overrides).toEqual({ lotMode: 'FIXED', lotValue: 0.3, reverse: true });

    expect(await codeOf(store.update(fresh.tokenId, { lotMode: 'EQUITY_RATIO' }))).toBe('SETTINGS_MASTER_EQUITY_REQUIRED');
    expect(await codeOf(store.update(fresh.tokenId, { lots: 2 }))).toBe('SETTINGS_UNKNOWN_FIELD');
    expect(await codeOf(store.update(fresh.tokenId, { symbolMap: { 'EUR USD': 'X' } }))).toBe('SETTINGS_INVALID_SYMBOL');
    expect(await store.load(fresh.tokenId)).toMatchObject({ revision: 2, overrides: second.overrides });

    expect(await codeOf(store.load('00000000-0000-4000-8000-000000000000'))).toBe('UNKNOWN_RECEIVER_TOKEN');
    expect(await codeOf(store.load('not-a-uuid'))).toBe('UNKNOWN_RECEIVER_TOKEN');

    const reset = await store.reset(fresh.tokenId, { metadata: { via: 'test' } });
    expect(reset).toMatchObject({ revision: 3, overrides: {} });

    const { createPool } = await import('../persistence/pg/pool');
    const pool = createPool(t.databaseUrl, { max: 1 });
    try {
      const { rows } = await pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM audit_log WHERE action = 'RECEIVER_SETTINGS' AND resource_id = $1`,
        [fresh.tokenId],
      );
      expect(rows[0].n).toBe('3');
      const masterRow = await pool.query<{ token_id: string }>(`SELECT token_id FROM license_tokens WHERE subscription_id = $1 AND role = 'master'`, [
        sub.subscriptionId,
      ]);
      expect(await codeOf(store.update(masterRow.rows[0].token_id, { reverse: true }))).toBe('UNKNOWN_RECEIVER_TOKEN');
    } finally {
      await pool.end();
    }
  });
});

describe('the server', () => {
  it('sends a license its settings before the welcome, and again to its live sessions only when they change', async () => {
    const a = await t.receiverToken(sub.subscriptionId);
    const b = await t.receiverToken(sub.subscriptionId);
    await store.update(a.tokenId, { lotMode: 'MULTIPLIER', lotValue: 2 });
    const ra = await connect(a.token);
    const rb = await connect(b.token);
    expect(ra.events).toEqual(['settings:1', 'welcome']);
    expect(ra.settings[0].settings.lotValue).toBe(2);
    expect(ra.settings[0].subscriptionId).toBe(sub.subscriptionId);
    expect(rb.events).toEqual(['settings:0', 'welcome']);

    await store.update(a.tokenId, { lotValue: 3, symbolMap: { XAUUSD: 'GOLD' } });
    await until(() => ra.settings.length === 2, 'the changed settings');
    expect(ra.settings[1]).toMatchObject({ revision: 2, settings: { lotValue: 3, symbolMap: { XAUUSD: 'GOLD' } } });
    // b's license did not change: nothing for it (a later change of a proves the channel is flowing).
    await store.update(a.tokenId, { reverse: true });
    await until(() => ra.settings.length === 3, 'the third revision');
    expect(rb.settings).toHaveLength(1);
  });
});

describe('settings that cannot be read', () => {
  it('are never sent half: the receiver is told BUSY, closed with 1013, and gets no welcome or delivery', async () => {
    const r = await t.receiverToken(sub.subscriptionId);
    await store.update(r.tokenId, { lotValue: 2 });
    // A row edited by hand past the rules: the server must not copy with it.
    const { createPool } = await import('../persistence/pg/pool');
    const pool = createPool(t.databaseUrl, { max: 1 });
    try {
      await pool.query(`UPDATE receiver_settings SET settings = '{"lotValue": -1}'::jsonb WHERE token_id = $1`, [r.tokenId]);
    } finally {
      await pool.end();
    }
    const client = new ReceiverClient();
    closers.push(() => client.close());
    const rejects: string[] = [];
    const closes: number[] = [];
    const seen: string[] = [];
    client.on('reject', (e: { code: string }) => rejects.push(e.code));
    client.on('close', (code: number) => closes.push(code));
    const outcome = await client
      .connect(t.receiverUrl, r.token, {
        reconnect: false,
        onSignal: () => void seen.push('signal'),
        onSnapshot: () => void seen.push('snapshot'),
        onSettings: () => void seen.push('settings'),
      })
      .then(
        () => 'welcomed',
        (error: { code: string }) => error.code,
      );
    expect(outcome).toBe('DISCONNECTED');
    expect(rejects).toEqual(['BUSY']);
    expect(closes).toEqual([1013]);
    expect(seen).toEqual([]);
  });
});

describe('the CLI', () => {
  const cli = path.resolve(__dirname, '../dist/cli/main.js');

  function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: t.databaseUrl, SIGPLANE_KEK: t.kekBase64 };
      const child = spawn(process.execPath, [cli, ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('sets, shows and refuses with the stable code (exit 2)', async () => {
    const r = await t.receiverToken(sub.subscriptionId);
    const set = await run(['receiver-settings', 'set', '--token-id', r.tokenId, '--settings', '{"symbolSuffix":".pro","lotMode":"RISK_PERCENT","lotValue":1.5}', '--json']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ revision: 1, settings: { symbolSuffix: '.pro', lotMode: 'RISK_PERCENT', lotValue: 1.5 } });
    const bad = await run(['receiver-settings', 'set', '--token-id', r.tokenId, '--settings', '{"lotMin":5,"lotMax":1}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SETTINGS_LOT_RANGE_EMPTY');
    const notJson = await run(['receiver-settings', 'set', '--token-id', r.tokenId, '--settings', '{lot']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('SETTINGS_NOT_AN_OBJECT');
    const show = await run(['receiver-settings', 'show', '--token-id', r.tokenId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('revision 1');
    expect(show.stdout).toMatch(/symbolSuffix\s+"\.pro"\n/);
    expect(show.stdout).toMatch(/reverse\s+false\s+\(default\)/);
  });
});
