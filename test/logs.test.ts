/**
 * Logs: `sigplane serve` and the operator commands write one JSON object
 * per line (pino), upgrades carry a request id and the connection id they
 * got; and no token, MAC key, KEK or signature ever appears in any line,
 * while the test drives auth failures, forged and valid signatures, token
 * issue, credential rotation and revocation through the real processes.
 * The redaction guards themselves are tested by logging secrets on purpose.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signV1 } from '@sigplane/protocol';
import { crc32 } from '../persistence/crc32';
import { createTestDatabase, type TestDatabase } from './support/database';
import { v1Fields, v1Frame } from './support/signals';
import { openWelcomed } from './support/e2e';
import { WireClient } from './support/wire-client';
import { cliPath, listeningPort } from './support/cli-process';

const cli = cliPath;
let database: TestDatabase;
let tempDir: string;
let dataDir: string;
const kek = crypto.randomBytes(32).toString('base64');
/** Every line any process of this test wrote, stdout and stderr, with where it came from. */
const lines: { from: string; stream: 'stdout' | 'stderr'; line: string }[] = [];
/** Every secret the test used or was shown. */
const secrets = new Set<string>([kek]);
let server: ChildProcess | null = null;
let port = 0;

function env(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(out)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL' || name === 'REDIS_URL') delete out[name];
  return { ...out, DATABASE_URL: database.url, SIGPLANE_KEK: kek };
}

function capture(from: string, stream: 'stdout' | 'stderr', text: string): void {
  for (const line of text.split('\n')) if (line !== '') lines.push({ from, stream, line });
}

/** Run a CLI command; its output is captured; returns stdout. */
function cliRun(args: string[]): string {
  const r = spawnSync(process.execPath, [cli, ...args, '--data', dataDir], { env: env(), cwd: tempDir, encoding: 'utf8', timeout: 60_000 });
  capture(args.slice(0, 2).join(' '), 'stdout', r.stdout);
  capture(args.slice(0, 2).join(' '), 'stderr', r.stderr);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Every credential-like value of a command's JSON answer becomes a secret to look for. */
function collectSecrets(json: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(json)) {
    if (typeof value === 'string' && /token$|secret/i.test(key) && !/id$/i.test(key)) secrets.add(value);
  }
}

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-logs-'));
  dataDir = path.join(tempDir, 'data');
  cliRun(['migrate']);
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--data', dataDir], {
    env: env(),
    cwd: tempDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  child.stderr!.on('data', (chunk: Buffer) => capture('serve', 'stderr', chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => capture('serve', 'stdout', chunk.toString()));
  port = await listeningPort(child, () => JSON.stringify(lines));
});

afterAll(async () => {
  if (server !== null && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

describe('log lines of a real server and the operator commands', () => {
  it('drive: token issue, auth failures, forged and valid signals, rotation, revocation', async () => {
    const created = JSON.parse(cliRun(['subscription', 'create', '--name', 'logs', '--json'])) as Record<string, string>;
    collectSecrets(created);
    const subscriptionId = created.subscriptionId!;
    cliRun(['ip', 'allow', '--subscription', subscriptionId, '--ip', '127.0.0.1']);
    const issued = JSON.parse(cliRun(['token', 'issue', '--subscription', subscriptionId, '--json'])) as Record<string, string>;
    collectSecrets(issued);
    expect(secrets.size).toBeGreaterThanOrEqual(4); // KEK, master token, MAC secret, receiver token

    const masterUrl = `ws://127.0.0.1:${port}/v1/master`;
    const receiverUrl = `ws://127.0.0.1:${port}/v1/receiver`;
    // A well-formed token nobody issued, a malformed one, one in the URL, one for the wrong role.
    const body = crypto.randomBytes(32).toString('hex');
    const unknown = `spm_${body}_${crc32Hex(`spm_${body}`)}`;
    secrets.add(unknown);
    const refusals = [
      await WireClient.connect(masterUrl, unknown),
      await WireClient.connect(masterUrl, `spm_${'ab'.repeat(32)}_00000000`),
      await WireClient.connect(`${masterUrl}?token=${issued.token}`, null),
      await WireClient.connect(receiverUrl, created.masterToken!),
    ];
    expect(refusals.map((r) => (r instanceof WireClient ? 'open' : r.status))).toEqual([401, 401, 400, 403]);

    const master = await openWelcomed(masterUrl, created.masterToken!);
    await master.waitFor((f) => f.kind === 'welcome');
    const fields = v1Fields(subscriptionId, 1);
    const goodSignature = signV1(created.macSecretHex!, { ...fields, sequence: String(fields.sequence), generatedAt: String(fields.generatedAt) });
    const forgedSignature = signV1('a key that is not the key', { ...fields, sequence: String(fields.sequence), generatedAt: String(fields.generatedAt) });
    secrets.add(goodSignature);
    secrets.add(forgedSignature);
    master.send(v1Frame(created.macSecretHex!, fields, fields, forgedSignature));
    await master.waitFor((f) => f.kind === 'reject');
    master.send(v1Frame(created.macSecretHex!, fields, fields, goodSignature));
    await master.waitFor((f) => f.kind === 'ack');

    const rotated = JSON.parse(cliRun(['subscription', 'rotate-credentials', '--subscription', subscriptionId, '--json'])) as Record<string, string>;
    collectSecrets(rotated);
    expect(await master.waitForClose()).toBe(4004); // its token was revoked by the rotation
    cliRun(['token', 'revoke', '--token-id', issued.tokenId!]);
    const revoked = await WireClient.connect(receiverUrl, issued.token!);
    expect(revoked instanceof WireClient ? 'open' : revoked.status).toBe(401);
    // The journal's security events are written by the server: give the log a moment to catch up.
    await new Promise((r) => setTimeout(r, 300));
  });

  it('the server writes one JSON object per stderr line, with level, time and message', () => {
    const serverLines = lines.filter((l) => l.from === 'serve' && l.stream === 'stderr');
    expect(serverLines.length).toBeGreaterThan(5);
    for (const { line } of serverLines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      expect(parsed).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String) });
      expect(Number.isNaN(Date.parse(parsed.time as string))).toBe(false);
    }
  });

  it('upgrades carry a request id; accepted ones their connection id; refusals their reason', () => {
    const parsed = lines.filter((l) => l.from === 'serve' && l.stream === 'stderr').map((l) => JSON.parse(l.line) as Record<string, unknown>);
    const refused = parsed.filter((p) => p.msg === 'upgrade refused');
    expect(refused.map((p) => p.reason)).toEqual(expect.arrayContaining(['UNKNOWN_TOKEN', 'MALFORMED_TOKEN', 'CREDENTIAL_IN_URL', 'WRONG_ROLE', 'REVOKED']));
    for (const p of refused) expect(p.reqId).toMatch(/^[0-9a-f-]{36}$/);
    const accepted = parsed.filter((p) => p.msg === 'upgrade accepted');
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    for (const p of accepted) expect(p).toMatchObject({ reqId: expect.stringMatching(/^[0-9a-f-]{36}$/), connId: expect.any(Number) });
    expect(new Set(parsed.filter((p) => typeof p.reqId === 'string').map((p) => p.reqId)).size).toBe(refused.length + accepted.length);
    expect(parsed.some((p) => p.msg === 'security event' && p.code === 'SIGNATURE_INVALID')).toBe(true);
  });

  it('no line of any process holds a token, a MAC key, the KEK or a signature (only the CLI output meant for the operator)', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(8);
    const leaks: string[] = [];
    for (const { from, stream, line } of lines) {
      // The one place a secret is printed on purpose: a command's answer on stdout (shown once to the operator).
      if (from !== 'serve' && stream === 'stdout') continue;
      for (const secret of secrets) {
        const fragment = secret.length > 24 ? secret.slice(0, 24) : secret; // a prefix catches truncated leaks too
        if (line.includes(fragment) || line.toLowerCase().includes(fragment.toLowerCase())) leaks.push(`${from} ${stream}: ${line}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});

describe("the same `sigplane serve` process's /metrics", () => {
  it('passes promtool check metrics with the shipper series (journal and shipping lag) present', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of ['sigplane_shipper_lag_rows', 'sigplane_shipper_lag_seconds', 'sigplane_shipper_postgres_up', 'sigplane_shipper_rows_shipped_total', 'sigplane_control_listener_up']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
    if (promtool === '') throw new Error('promtool is missing: run scripts/ci-system-packages.sh (Debian package prometheus)');
    const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: result.status, out: `${result.stdout}${result.stderr}` }).toEqual({ status: 0, out: '' });
  });
});

describe('the redaction guards', () => {
  it('redact secret-named fields and secret-shaped text, and keep the rest', () => {
    const token = `spr_${crypto.randomBytes(32).toString('hex')}_0a1b2c3d`;
    const macHex = crypto.randomBytes(32).toString('hex');
    const keyB64 = crypto.randomBytes(32).toString('base64');
    const script = `
      const { log, logWith } = require(${JSON.stringify(path.resolve(__dirname, '../dist/cli/log.js'))});
      log('warn', 'failed for ${token} with Bearer ${token}', { token: 'plain-named', nested: { secret: 'nested-named', authorization: 'x', deeper: { passphrase: 'deep-named' } }, detail: 'key ${macHex} kek ${keyB64} at postgres://sigplane:url-password@db.example:5432/x', 'tls-key-passphrase': 'flag-named', subscriptionId: 'keep-me' });
      logWith({ reqId: 'req-1' })('info', 'child line', { macSecretHex: '${macHex}' });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toHaveLength(2);
    for (const secret of [token, token.slice(4, 40), macHex, keyB64, 'plain-named', 'nested-named', 'deep-named', 'flag-named', 'url-password']) expect(r.stderr).not.toContain(secret);
    expect(out[0]).toMatchObject({
      level: 'warn',
      token: '[Redacted]',
      nested: { secret: '[Redacted]', authorization: '[Redacted]', deeper: { passphrase: '[Redacted]' } },
      'tls-key-passphrase': '[Redacted]',
      subscriptionId: 'keep-me',
    });
    expect(out[0]!.detail).toContain('postgres://sigplane:[Redacted]@db.example:5432/x');
    expect(out[0]!.msg).toBe('failed for spr_[Redacted] with Bearer [Redacted]');
    expect(out[1]).toMatchObject({ level: 'info', reqId: 'req-1', macSecretHex: '[Redacted]', msg: 'child line' });
  });
});

/** The token checksum, so the unknown token is well-formed and reaches the store. */
function crc32Hex(text: string): string {
  return crc32(Buffer.from(text, 'ascii')).toString(16).padStart(8, '0');
}
