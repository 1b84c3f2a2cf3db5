/**
 * `sigplane serve` configuration: flags over environment over a JSON file
 * over defaults; every bad value stops the process with exit 2 and a
 * message naming the setting and where it came from (never a secret's
 * value); secrets have no default and are not accepted as flags. One real
 * start takes its TLS certificate and status token from a file, its port
 * from the environment and its host from a flag.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSchema } from '../cli/config-serve';
import { createTestDatabase, type TestDatabase } from './support/database';
import { cliPath, listeningPort } from './support/cli-process';

const cli = cliPath;
let dir: string;
let database: TestDatabase;
const kek = crypto.randomBytes(32).toString('base64');

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(out)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL' || name === 'REDIS_URL') delete out[name];
  // No database reachable: a run that got past validation would fail differently (exit 1).
  return { ...out, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', SIGPLANE_KEK: kek, ...extra };
}

function serve(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'serve', '--data', path.join(dir, 'data'), ...args], { env: env(extraEnv), cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stderr: r.stderr };
}

function writeJson(name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-config-'));
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.drop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('validation at startup', () => {
  it('exits 2 naming the offending setting and its source', () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--port', '70000'], {}, /^--port must be 0\.\.65535/],
      [[], { SIGPLANE_PORT: 'eighty' }, /^SIGPLANE_PORT \(setting port\) must be 0\.\.65535/],
      [[], { SIGPLANE_SHARDS: '0' }, /^SIGPLANE_SHARDS \(setting shards\) must be 1\.\.64/],
      [['--journal-sync', 'sometimes'], {}, /^--journal-sync must be full or normal/],
      [['--sub-rate=-5'], {}, /^--sub-rate must be a number > 0/],
      [['--upgrade-burst', '1.5'], {}, /^--upgrade-burst must be 1\.\.1000000/],
      [[], { SIGPLANE_LOG_LEVEL: 'loud' }, /^SIGPLANE_LOG_LEVEL \(setting log-level\) must be one of debug, info, warn, error/],
      [['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], {}, /^--tls-cert cannot read \/nonexistent\/cert\.pem: ENOENT/],
      [['--journal-budget', 'lots'], {}, /^--journal-budget must be a size such as 8GiB/],
      [[], { SIGPLANE_JOURNAL_DISK_RESERVE: '120%' }, /^SIGPLANE_JOURNAL_DISK_RESERVE \(setting journal-disk-reserve\) must be a size \(256MiB\), a percentage/],
    ];
    for (const [args, extra, message] of cases) {
      const r = serve(args, extra);
      expect(r.code, `${args.join(' ')} ${JSON.stringify(extra)}: ${r.stderr}`).toBe(2);
      expect(r.stderr, `${args.join(' ')} ${JSON.stringify(extra)}`).toMatch(message);
    }
  });

  it('checks the file: JSON object, known keys, values validated like the rest', () => {
    const cases: [string, unknown, RegExp][] = [
      ['not-json.json', '{ port: 1', /^file \S+not-json\.json \(setting config\) is not JSON/],
      ['array.json', [1, 2], /^file \S+array\.json \(setting config\) must be a JSON object/],
      ['unknown.json', { prot: 8080 }, /^file \S+unknown\.json \(setting prot\) is not a setting \(known: host, port/],
      ['bad-port.json', { port: 'x' }, /^file \S+bad-port\.json \(setting port\) must be 0\.\.65535/],
      ['nested.json', { host: { a: 1 } }, /^file \S+nested\.json \(setting host\) must be a string, number or boolean/],
    ];
    for (const [name, content, message] of cases) {
      const r = serve(['--config', writeJson(name, content)]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr, name).toMatch(message);
    }
    const missing = serve([], { SIGPLANE_CONFIG: path.join(dir, 'absent.json') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^file \S+absent\.json \(setting config\) cannot be read: ENOENT/);
  });

  it('checks rules between settings', () => {
    const cert = writeJson('cert.pem', 'not really a certificate');
    const r = serve(['--tls-cert', cert]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^setting tls-key is missing: tls-cert and tls-key go together/);
    const tokenFile = writeJson('status-token', 'x'.repeat(40));
    const both = serve(['--status-file', tokenFile], { SIGPLANE_STATUS_TOKEN: 'y'.repeat(40) });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^setting status-file conflicts with SIGPLANE_STATUS_TOKEN/);
  });

  it('never echoes a secret in an error, and takes no secret as a flag', () => {
    const shortToken = 'tooshort-secret-value';
    const r = serve([], { SIGPLANE_STATUS_TOKEN: shortToken });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^SIGPLANE_STATUS_TOKEN \(setting status-token\) must be at least 32 characters/);
    expect(r.stderr).not.toContain(shortToken);
    const redis = serve([], { REDIS_URL: 'http://:pa55word-secret@127.0.0.1:6379' });
    expect(redis.code).toBe(2);
    expect(redis.stderr).toMatch(/^REDIS_URL \(setting redis-url\) must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(redis.stderr).not.toContain('pa55word');
    for (const flag of ['--redis-url', '--status-token', '--tls-key-passphrase']) {
      const f = serve([flag, 'x']);
      expect(f.code, flag).toBe(2);
      expect(f.stderr, flag).toMatch(/Unknown option/);
    }
  });

  it('gives no secret a default', () => {
    const secrets = Object.entries(serveSchema).filter(([, s]) => 'secret' in s && s.secret === true);
    expect(secrets.map(([k]) => k).sort()).toEqual(['redis-url', 'status-token', 'tls-key-passphrase']);
    for (const [key, setting] of secrets) expect('default' in setting, key).toBe(false);
  });
});

describe('a real start from file, environment and flags', () => {
  it('flag over environment over file: TLS and the status token from the file, port from the environment, host from a flag', async () => {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'real-cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    const statusToken = crypto.randomBytes(32).toString('hex');
    const tokenFile = path.join(dir, 'status.token');
    fs.writeFileSync(tokenFile, `${statusToken}\n`, { mode: 0o600 });
    // The file's host and port would not work: the flag and the environment must win.
    const config = writeJson('sigplane.json', { host: '203.0.113.77', port: 1, shards: 1, 'tls-cert': certFile, 'tls-key': keyFile, 'status-file': tokenFile, 'log-level': 'warn' });
    const child = spawn(process.execPath, [cli, 'serve', '--config', config, '--host', '127.0.0.1', '--data', path.join(dir, 'data')], {
      env: { ...env({ SIGPLANE_PORT: '0' }), DATABASE_URL: database.url },
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const port = await listeningPort(child, () => stderr);
      const ca = fs.readFileSync(certFile, 'utf8');
      const get = (p: string, headers: Record<string, string> = {}): Promise<{ status: number; hsts: unknown }> =>
        new Promise((resolve, reject) => {
          https
            .get(`https://127.0.0.1:${port}${p}`, { ca, headers }, (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'] });
            })
            .on('error', reject);
        });
      expect(await get('/healthz')).toEqual({ status: 200, hsts: 'max-age=31536000; includeSubDomains' });
      expect((await get('/status/snapshot.json', { authorization: `Bearer ${statusToken}` })).status).toBe(200);
      expect((await get('/status/snapshot.json')).status).toBe(401);
      // log-level warn from the file: the info lines of a start are not written.
      expect(stderr).not.toMatch(/"level":"info"/);
      expect(stderr).not.toContain(statusToken);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
