/**
 * A taken port is a start-up failure: `sigplane serve` and `sigplane demo`
 * exit non-zero with one line naming the port and what to do, whether it is
 * the public port, the admin API's or the embedded Postgres's; and the
 * embedded Postgres of a new data folder takes another port when its
 * default one is taken, so a demo runs beside a server. Real processes,
 * real ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postgresLimits } from '@sigplane/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindError, freeLocalPort } from '../persistence/pg/free-port';
import { awaitStdout, cliPath, operatorEnv, runCli } from './support/cli-process';
import { holdPort, releasePort } from './support/hold-port';
import { createTestDatabase, type TestDatabase } from './support/database';

const kek = crypto.randomBytes(32).toString('base64');
let database: TestDatabase;
let tempDir: string;

beforeAll(async () => {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-ports-'));
  // As root, the embedded Postgres runs as the OS user postgres: let it cross this folder, so its clusters stay in it.
  fs.chmodSync(tempDir, 0o711);
});

afterAll(async () => {
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

/** An operator's environment with the run's key-encryption key. */
const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => operatorEnv({ SIGPLANE_KEK: kek, ...extra });

const newDataDir = (): string => path.join(tempDir, crypto.randomUUID());

/** The error lines (JSON logs at level error) of a run's stderr. */
const errorLines = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: string; msg: string })
    .filter((l) => l.level === 'error')
    .map((l) => l.msg);


async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('two servers on one port', () => {
  let first: ChildProcess;
  let publicPort: number;
  let adminPort: number;

  beforeAll(async () => {
    // Ports given, as an operator gives them (a port the kernel picked for port 0 is not shared even without the fix).
    publicPort = await freeLocalPort();
    adminPort = await freeLocalPort();
    const args = ['serve', '--host', '127.0.0.1', '--port', String(publicPort), '--admin-port', String(adminPort), '--shards', '1', '--data', newDataDir()];
    first = spawn(process.execPath, [cliPath, ...args], { env: env({ DATABASE_URL: database.url }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    first.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await awaitStdout(first, (stdout) => (stdout.includes(`admin API listening on 127.0.0.1 port ${adminPort}`) ? true : null), () => stderr);
  }, 60_000);

  afterAll(async () => {
    if (first) expect(await stopChild(first)).toBe(0);
  });

  it('the second exits 1 naming the taken port and the setting, and the first keeps it alone', async () => {
    const second = await runCli(['serve', '--host', '127.0.0.1', '--port', String(publicPort), '--shards', '1', '--data', newDataDir()], {
      env: env({ DATABASE_URL: database.url }),
      timeoutMs: 30_000,
    });
    expect(second.code).toBe(1);
    expect(errorLines(second.stderr)).toEqual([
      `sigplane cannot listen on 127.0.0.1:${publicPort}: port ${publicPort} is already in use (another sigplane server, or another program); stop it, or choose another port with --port (SIGPLANE_PORT)`,
    ]);
    expect(second.stdout).not.toContain('listening');
    // The first still serves.
    for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${publicPort}/healthz`)).status).toBe(200);
  }, 60_000);

  it('a taken admin port is the same error for the admin API', async () => {
    const second = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--admin-port', String(adminPort), '--shards', '1', '--data', newDataDir()], {
      env: env({ DATABASE_URL: database.url }),
      timeoutMs: 30_000,
    });
    expect(second.code).toBe(1);
    expect(errorLines(second.stderr)).toEqual([
      `the admin API cannot listen on 127.0.0.1:${adminPort}: port ${adminPort} is already in use (another sigplane server, or another program); stop it, or choose another port with --admin-port (SIGPLANE_ADMIN_PORT)`,
    ]);
  }, 60_000);
});

describe('two servers on one data folder', () => {
  it('the second exits 1 naming the folder and the process that holds it', async () => {
    const dataDir = newDataDir();
    const first = spawn(process.execPath, [cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--data', dataDir], {
      env: env({ DATABASE_URL: database.url }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    first.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await awaitStdout(first, (stdout) => (/listening on port \d+/.test(stdout) ? true : null), () => stderr);
      const second = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--data', dataDir], {
        env: env({ DATABASE_URL: database.url }),
        timeoutMs: 30_000,
      });
      expect(second.code).toBe(1);
      expect(errorLines(second.stderr)).toEqual([
        `sigplane serve: the data folder ${dataDir} is in use by process ${first.pid} (another sigplane server); stop it, or give this one another folder with --data (SIGPLANE_DATA_DIR). ` +
          `If process ${first.pid} is not sigplane, delete ${path.join(dataDir, 'serve.pid')}`,
      ]);
    } finally {
      expect(await stopChild(first)).toBe(0);
    }
    // Stopped, it let the folder go: the next server starts on it.
    expect(fs.existsSync(path.join(dataDir, 'serve.pid'))).toBe(false);
  }, 90_000);
});

describe('the embedded Postgres port', () => {
  it('taken: serve exits 1 naming the port and the setting', async () => {
    const port = await freeLocalPort();
    const holder = await holdPort(port);
    try {
      const dataDir = newDataDir();
      const run = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--data', dataDir], {
        env: env({ SIGPLANE_EMBEDDED_PG_PORT: String(port) }),
        timeoutMs: 60_000,
      });
      expect(run.code).toBe(1);
      expect(errorLines(run.stderr)).toEqual([
        `embedded Postgres: start failed (data ${path.join(dataDir, 'pg')}, port ${port}): port ${port} on 127.0.0.1 is taken (by another program, or another sigplane's Postgres): ` +
          'stop what uses it, or choose another port with SIGPLANE_EMBEDDED_PG_PORT',
      ]);
    } finally {
      await releasePort(holder);
    }
  }, 60_000);

  it('a setting that is not a port is a usage error (exit 2)', async () => {
    const run = await runCli(['migrate', '--data', newDataDir()], { env: env({ SIGPLANE_EMBEDDED_PG_PORT: '54x' }) });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('SIGPLANE_EMBEDDED_PG_PORT must be a port 1..65535, got "54x"');
  });

  it(`default ${postgresLimits.embeddedPortDefault} taken (a server runs): the demo takes another port and runs to the end`, async () => {
    // Hold the default port unless something (another sigplane) already does.
    const holder = (await bindError('127.0.0.1', postgresLimits.embeddedPortDefault)) === null ? await holdPort(postgresLimits.embeddedPortDefault) : null;
    try {
      const dataDir = newDataDir();
      const run = await runCli(['demo', '--signals', '4', '--interval-ms', '0', '--data', dataDir], { env: env({}), timeoutMs: 120_000 });
      expect({ code: run.code, errors: errorLines(run.stderr) }).toEqual({ code: 0, errors: [] });
      const port = Number(fs.readFileSync(path.join(dataDir, 'pg-port'), 'utf8'));
      expect(port).not.toBe(postgresLimits.embeddedPortDefault);
      expect(run.stderr).toContain(`Postgres ready on 127.0.0.1:${port}`);
      for (const name of ['alice', 'bob', 'carol']) expect(run.stdout).toContain(`${name}: holds the master's`);
    } finally {
      if (holder !== null) await releasePort(holder);
    }
  }, 150_000);
});
