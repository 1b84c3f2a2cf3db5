/**
 * `sigplane serve` says so when it listens in clear where others can reach
 * it (docs/security.md, gap 7): one warn line per listener on a
 * non-loopback address without --tls-cert; none on loopback.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../cli/serve-command';
import { cliPath, listeningPort } from './support/cli-process';
import { createTestDatabase, type TestDatabase } from './support/database';

const kek = crypto.randomBytes(32).toString('base64');
let database: TestDatabase;
let tempDir: string;

beforeAll(async () => {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-tls-warning-'));
});

afterAll(async () => {
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

/** Starts serve with `args`, waits until it listens, stops it; its stderr lines as JSON. */
async function serveLines(args: string[]): Promise<Record<string, unknown>[]> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete env[name];
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0', '--shards', '1', '--data', path.join(tempDir, crypto.randomUUID()), ...args], {
    env: { ...env, DATABASE_URL: database.url, SIGPLANE_KEK: kek },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await listeningPort(child, () => stderr);
    // The warnings follow the listening lines: wait for the startup summary after them.
    const deadline = Date.now() + 10_000;
    while (!stderr.includes('sigplane serving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const inClear = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level === 'warn' && String(l.msg).startsWith('listening without TLS'));

describe('serve without TLS', () => {
  it('warns for each listener on a non-loopback address, and not on loopback', async () => {
    const open = await serveLines(['--host', '0.0.0.0', '--admin-port', '0', '--admin-host', '0.0.0.0']);
    expect(inClear(open).map((l) => [l.listener, l.host])).toEqual([
      ['public', '0.0.0.0'],
      ['admin', '0.0.0.0'],
    ]);
    const local = await serveLines(['--host', '127.0.0.1', '--admin-port', '0']);
    expect(local.some((l) => l.msg === 'sigplane serving')).toBe(true);
    expect(inClear(local)).toEqual([]);
  }, 60_000);

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.1.example', 'example.com', undefined]) expect(isLoopbackHost(host), String(host)).toBe(false);
  });
});
