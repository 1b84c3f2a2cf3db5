import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { postgresLimits } from '@sigplane/protocol';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { redactUrl, startEmbeddedPostgres } from '../persistence/pg/embedded';
import { bindError, freeLocalPort } from '../persistence/pg/free-port';
import { holdPort, releasePort } from './support/hold-port';

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

describe('the port of the embedded Postgres', () => {
  it(`takes another port when ${postgresLimits.embeddedPortDefault} is taken, records it, and names that record when it is taken in turn`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-embedded-'));
    dirs.push(dataDir);
    // Hold the default port unless something (another sigplane) already does.
    const holder = (await bindError('127.0.0.1', postgresLimits.embeddedPortDefault)) === null ? await holdPort(postgresLimits.embeddedPortDefault) : null;
    let port: number;
    try {
      const pg = await startEmbeddedPostgres(dataDir);
      port = Number(fs.readFileSync(path.join(dataDir, 'pg-port'), 'utf8'));
      try {
        expect(port).not.toBe(postgresLimits.embeddedPortDefault);
        expect(new URL(pg.url).port).toBe(String(port));
      } finally {
        await pg.stop();
      }
    } finally {
      if (holder !== null) await releasePort(holder);
    }
    const other = await holdPort(port);
    try {
      await expect(startEmbeddedPostgres(dataDir)).rejects.toThrow(
        `embedded Postgres: start failed (data ${path.join(dataDir, 'pg')}, port ${port}): port ${port} on 127.0.0.1 is taken (by another program, or another sigplane's Postgres): ` +
          `it was chosen for this cluster (${path.join(dataDir, 'pg-port')}); stop what uses it, delete that file to let sigplane choose a free port, or set SIGPLANE_EMBEDDED_PG_PORT`,
      );
    } finally {
      await releasePort(other);
    }
    // Free again: it starts on its recorded port.
    const again = await startEmbeddedPostgres(dataDir);
    expect(new URL(again.url).port).toBe(String(port));
    await again.stop();
  });
});

describe('a Postgres that does not start', () => {
  it('is an error with its last words, not a wait that never ends', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-embedded-'));
    dirs.push(dataDir);
    const port = await freeLocalPort();
    await (await startEmbeddedPostgres(dataDir, { port })).stop();
    fs.appendFileSync(path.join(dataDir, 'pg', 'postgresql.conf'), "\nshared_buffers = 'plenty'\n");
    const error = await startEmbeddedPostgres(dataDir, { port }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^embedded Postgres: start failed \\(data ${path.join(dataDir, 'pg')}, port ${port}\\): Postgres exited with 1 before it was ready\n--- last Postgres output ---\n`));
    expect(message).toContain('invalid value for parameter "shared_buffers": "plenty"');
  });
});

describe('when sigplane ends', () => {
  /** A node process that starts an embedded Postgres, prints its postmaster's pid, then runs `then`. */
  function startInChild(dataDir: string, port: number, then: string): { child: ChildProcess; pid: Promise<number> } {
    const embedded = path.resolve(__dirname, '../dist/persistence/pg/embedded.js');
    const script =
      `require(${JSON.stringify(embedded)}).startEmbeddedPostgres(${JSON.stringify(dataDir)}, { port: ${port} }).then(() => {` +
      `const pid = require('fs').readFileSync(${JSON.stringify(path.join(dataDir, 'pg', 'postmaster.pid'))}, 'utf8').split('\\n')[0];` +
      `process.stdout.write(pid + '\\n'); ${then} });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before printing the postmaster pid`)));
    });
    return { child, pid };
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  async function gone(pid: number): Promise<boolean> {
    for (let i = 0; i < 600 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return !alive(pid);
  }
  const exitCode = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => child.once('exit', (code) => resolve(code)));

  it('its Postgres stops when it exits, and when a signal it does not handle ends it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-embedded-'));
    dirs.push(dataDir);
    const port = await freeLocalPort();

    const exiting = startInChild(dataDir, port, 'process.exit(3);');
    const exited = exitCode(exiting.child);
    const first = await exiting.pid;
    expect(await exited).toBe(3);
    expect(await gone(first)).toBe(true);

    const waiting = startInChild(dataDir, port, 'setInterval(() => undefined, 1000);');
    const second = await waiting.pid;
    const ended = exitCode(waiting.child);
    waiting.child.kill('SIGTERM');
    expect(await ended).toBe(128 + os.constants.signals.SIGTERM);
    expect(await gone(second)).toBe(true);
  });
});
