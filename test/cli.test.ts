/**
 * The `sigplane` command as a real process (`node dist/cli/main.js`):
 * help and usage errors, the operator commands against a fresh database
 * (what they print, and that only hashes and ciphertext are stored), the
 * credentials they print working against `sigplane serve`, and the demo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterClient, ReceiverClient } from '@sigplane/client';
import { ConfigStore } from '../persistence/pg/config-store';
import { SecretBox } from '../persistence/pg/secret-box';
import { cliPath, listeningPort, runCli, type CliRun } from './support/cli-process';
import { createTestDatabase, type TestDatabase } from './support/database';

const cli = cliPath;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const dayMs = 24 * 60 * 60 * 1000;

let database: TestDatabase;
let tempDir: string;
let dataDir: string;
const kek = crypto.randomBytes(32).toString('base64');

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-cli-'));
  dataDir = path.join(tempDir, 'data');
});

afterAll(async () => {
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

type Run = CliRun;

/** The environment of every run: nothing of the caller's sigplane settings leaks in. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete env[name];
  return { ...env, ...extra };
}

/** With the test database and the KEK. */
function dbEnv(): NodeJS.ProcessEnv {
  return baseEnv({ DATABASE_URL: database.url, SIGPLANE_KEK: kek });
}

/** No database reachable: anything that tries to use one fails. */
function noDbEnv(): NodeJS.ProcessEnv {
  return baseEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', SIGPLANE_KEK: kek });
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Run> {
  return runCli(args, { env, cwd: tempDir, timeoutMs });
}

function json<T>(r: Run): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface CreatedJson {
  subscriptionId: string;
  masterToken: string;
  macKeyId: string;
  macSecretHex: string;
}

interface IssuedJson {
  token: string;
  tokenId: string;
  expiresAt: string;
}

async function createSubscription(name: string): Promise<CreatedJson> {
  return json<CreatedJson>(await run(['subscription', 'create', '--name', name, '--json', '--data', dataDir], dbEnv()));
}

/** The 32 random bytes a token carries, and what the database should keep of them. */
function tokenSecret(token: string): { hex: string; sha256: string } {
  const match = /^sp[mr]_([0-9a-f]{64})_[0-9a-f]{8}$/.exec(token);
  if (match === null) throw new Error(`not a token: ${token}`);
  return { hex: match[1]!, sha256: crypto.createHash('sha256').update(Buffer.from(match[1]!, 'hex')).digest('hex') };
}

/** Every row of every table in the database, as Postgres' row text (bytea shows as \x + hex). */
async function everyRowText(): Promise<string[]> {
  const { rows: tables } = await database.pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  expect(tables.map((x) => x.table_name)).toEqual(expect.arrayContaining(['subscriptions', 'license_tokens', 'mac_keys', 'allowed_ips']));
  const out: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await database.pool.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    for (const r of rows) out.push(`${table_name}: ${r.row.toLowerCase()}`);
  }
  return out;
}

describe('help and usage', () => {
  it('top-level --help (and no command) prints usage listing every command and exits 0', async () => {
    for (const args of [['--help'], ['-h'], []]) {
      const r = await run(args, noDbEnv());
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^usage: sigplane <command> \[options\]/);
      for (const command of ['serve', 'subscription', 'token', 'ip', 'migrate', 'demo']) {
        expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
      }
      expect(r.stderr).toBe('');
    }
  });

  it('--help on each subcommand prints its usage and options, exits 0 and touches neither database nor data folder', async () => {
    const untouched = path.join(tempDir, 'never-created');
    const cases: [string[], string, string[]][] = [
      [['serve'], 'usage: sigplane serve', ['--host', '--port', '--shards', '--journal-sync', '--data']],
      [['subscription', 'create'], 'usage: sigplane subscription create --name NAME', ['--name', '--owner-email', '--json']],
      [['token', 'issue'], 'usage: sigplane token issue --subscription ID', ['--subscription', '--label', '--ttl-days', '--json']],
      [['token', 'revoke'], 'usage: sigplane token revoke --token-id ID', ['--token-id', '--reason', '--json']],
      [['subscription', 'isolate'], 'usage: sigplane subscription isolate --subscription ID --reason TEXT', ['--subscription', '--reason', '--json']],
      [['subscription', 'lift'], 'usage: sigplane subscription lift --subscription ID --reason TEXT', ['--subscription', '--reason', '--json']],
      [
        ['subscription', 'rotate-credentials'],
        'usage: sigplane subscription rotate-credentials --subscription ID',
        ['--subscription', '--overlap-minutes', '--reason', '--json'],
      ],
      [['ip', 'allow'], 'usage: sigplane ip allow --subscription ID --ip ADDRESS', ['--subscription', '--ip', '--expires']],
      [['migrate'], 'usage: sigplane migrate', ['--data']],
      [['demo'], 'usage: sigplane demo', ['--signals', '--interval-ms', '--data']],
    ];
    for (const [command, usage, options] of cases) {
      const r = await run([...command, '--help', '--data', untouched], noDbEnv());
      expect(r.code, command.join(' ')).toBe(0);
      expect(r.stdout.startsWith(usage), r.stdout).toBe(true);
      for (const option of [...options, '--help']) expect(r.stdout, `${command.join(' ')} ${option}`).toContain(`  ${option}`);
      expect(r.stderr).toBe('');
    }
    expect(fs.existsSync(untouched)).toBe(false);
  });

  it('an unknown command exits 2 with a clear message and the command list', async () => {
    const r = await run(['frobnicate'], noDbEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^unknown command "frobnicate"/);
    expect(r.stderr).toContain('usage: sigplane <command>');
    expect(r.stdout).toBe('');
  });

  it('an unknown option, an unknown action or a missing required option exits 2 naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--frobnicate'], /Unknown option '--frobnicate'[\s\S]*usage: sigplane serve/],
      [['subscription', 'create', '--name', 'x', '--verbose'], /Unknown option '--verbose'[\s\S]*usage: sigplane subscription create/],
      [['migrate', 'extra'], /Unexpected argument 'extra'|positional/i],
      [['subscription', 'delete'], /^unknown action "delete"/],
      [['token', 'rename'], /^unknown action "rename"/],
      [['token', 'revoke'], /^--token-id is required/],
      [['token', 'revoke', '--token-id', 'abc'], /^--token-id must be a UUID/],
      [['subscription', 'isolate', '--subscription', crypto.randomUUID()], /^--reason is required/],
      [['subscription', 'lift', '--reason', 'x'], /^--subscription is required/],
      [['subscription', 'rotate-credentials', '--subscription', crypto.randomUUID(), '--overlap-minutes', '1.5'], /^--overlap-minutes must be a whole number/],
      [['ip', 'deny'], /^unknown action "deny"/],
      [['token', 'issue'], /^--subscription is required/],
      [['subscription', 'create'], /^--name is required/],
      [['ip', 'allow', '--subscription', crypto.randomUUID()], /^--ip is required/],
      [['serve', '--port', '70000'], /^--port must be 0\.\.65535/],
      [['serve', '--journal-sync', 'sometimes'], /^--journal-sync must be full or normal/],
      [['demo', '--signals', '0'], /^--signals must be 1\.\.100000/],
      [['subscription'], /^an action is required/],
      [['token'], /^an action is required/],
      [['token', 'issue', '--subscription', crypto.randomUUID(), '--ttl-days', '0.5'], /^--ttl-days must be a whole number from 1 to 3650/],
      [['ip', 'allow', '--subscription', crypto.randomUUID(), '--ip', '127.0.0.1/99'], /^--ip must be an address or CIDR/],
      [['ip', 'allow', '--subscription', crypto.randomUUID(), '--ip', '::1/129'], /^--ip must be an address or CIDR/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args, noDbEnv());
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('operator commands on a fresh database', () => {
  it('subscription create --json prints the id, the master token and the MAC key id and secret', async () => {
    const created = await createSubscription('x');
    expect(created.subscriptionId).toMatch(uuidPattern);
    expect(created.masterToken).toMatch(/^spm_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(created.macKeyId).toMatch(/^k1-[0-9a-f]{8}$/);
    expect(created.macSecretHex).toMatch(/^[0-9a-f]{64}$/);
    const { rows } = await database.pool.query('SELECT name, state FROM subscriptions WHERE subscription_id = $1', [created.subscriptionId]);
    expect(rows).toEqual([{ name: 'x', state: 'ACTIVE' }]);
  });

  it('subscription create without --json prints the same four values and the warning', async () => {
    const r = await run(['subscription', 'create', '--name', 'text output', '--data', dataDir], dbEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^subscription_id: [0-9a-f-]{36}$/m);
    expect(r.stdout).toMatch(/^master_token: +spm_[0-9a-f]{64}_[0-9a-f]{8}$/m);
    expect(r.stdout).toMatch(/^mac_key_id: +k1-[0-9a-f]{8}$/m);
    expect(r.stdout).toMatch(/^mac_secret: +[0-9a-f]{64}$/m);
    expect(r.stdout).toContain('shown only now');
  });

  it('token issue --json prints a receiver token that expires about 30 days ahead', async () => {
    const created = await createSubscription('tokens');
    const before = Date.now();
    const issued = json<IssuedJson>(await run(['token', 'issue', '--subscription', created.subscriptionId, '--label', 'alice', '--json', '--data', dataDir], dbEnv()));
    expect(issued.token).toMatch(/^spr_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(issued.tokenId).toMatch(uuidPattern);
    const expiresAtMs = Date.parse(issued.expiresAt);
    expect(expiresAtMs).toBeGreaterThan(before + 30 * dayMs - 60 * 60 * 1000);
    expect(expiresAtMs).toBeLessThan(Date.now() + 30 * dayMs + 60 * 60 * 1000);
    const { rows } = await database.pool.query('SELECT subscription_id, role, label FROM license_tokens WHERE token_id = $1', [issued.tokenId]);
    expect(rows).toEqual([{ subscription_id: created.subscriptionId, role: 'receiver', label: 'alice' }]);
  });

  it('token issue for a subscription that does not exist fails and stores nothing', async () => {
    const missing = crypto.randomUUID();
    const r = await run(['token', 'issue', '--subscription', missing, '--json', '--data', dataDir], dbEnv());
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(missing);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM license_tokens WHERE subscription_id = $1', [missing]);
    expect(rows[0].n).toBe(0);
  });

  it('ip allow accepts an address and a CIDR network, and refuses "notanip" with exit 2 storing nothing', async () => {
    const created = await createSubscription('ips');
    const ok = await run(['ip', 'allow', '--subscription', created.subscriptionId, '--ip', '127.0.0.1', '--data', dataDir], dbEnv());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`allowed 127.0.0.1 for ${created.subscriptionId}\n`);
    const network = await run(['ip', 'allow', '--subscription', created.subscriptionId, '--ip', '2001:db8::/32', '--data', dataDir], dbEnv());
    expect(network.code, network.stderr).toBe(0);

    const bad = await run(['ip', 'allow', '--subscription', created.subscriptionId, '--ip', 'notanip', '--data', dataDir], dbEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^--ip must be an address or CIDR, got notanip/);
    const { rows } = await database.pool.query<{ ip: string }>(
      'SELECT ip_address::text AS ip FROM allowed_ips WHERE subscription_id = $1 ORDER BY ip_address',
      [created.subscriptionId],
    );
    expect(rows.map((x) => x.ip)).toEqual(['127.0.0.1/32', '2001:db8::/32']);
  });

  it('the database holds only the SHA-256 of each token and only ciphertext of the MAC secret', async () => {
    const created = await createSubscription('secrets');
    const issued = json<IssuedJson>(await run(['token', 'issue', '--subscription', created.subscriptionId, '--json', '--data', dataDir], dbEnv()));
    const master = tokenSecret(created.masterToken);
    const receiver = tokenSecret(issued.token);

    const { rows: tokens } = await database.pool.query<{ role: string; token_hash: string; token_prefix: string }>(
      'SELECT role, token_hash, token_prefix FROM license_tokens WHERE subscription_id = $1 ORDER BY role',
      [created.subscriptionId],
    );
    expect(tokens).toEqual([
      { role: 'master', token_hash: master.sha256, token_prefix: created.masterToken.slice(0, 12) },
      { role: 'receiver', token_hash: receiver.sha256, token_prefix: issued.token.slice(0, 12) },
    ]);

    const { rows: keys } = await database.pool.query<{ key_id: string; ciphertext: Buffer }>(
      'SELECT key_id, ciphertext FROM mac_keys WHERE subscription_id = $1',
      [created.subscriptionId],
    );
    expect(keys.map((k) => k.key_id)).toEqual([created.macKeyId]);
    const secretBytes = Buffer.from(created.macSecretHex, 'hex');
    expect(keys[0]!.ciphertext.equals(secretBytes)).toBe(false);

    // Neither secret appears anywhere: not as text, not as raw bytes, not as the bytes of its hex.
    const forbidden = [
      master.hex,
      receiver.hex,
      created.macSecretHex,
      Buffer.from(created.macSecretHex, 'utf8').toString('hex'),
      Buffer.from(master.hex, 'utf8').toString('hex'),
      Buffer.from(receiver.hex, 'utf8').toString('hex'),
    ];
    const rows = await everyRowText();
    expect(rows.some((row) => row.includes(master.sha256))).toBe(true); // the scan does see the hashes
    for (const secret of forbidden) {
      expect(rows.filter((row) => row.includes(secret))).toEqual([]);
    }

    // And the ciphertext is that secret, sealed under the KEK the commands were given.
    const store = new ConfigStore(database.pool, SecretBox.fromEnvironment({ SIGPLANE_KEK: kek }, { allowGenerate: false }));
    const loaded = await store.loadMacKeys(created.subscriptionId);
    expect(loaded.map((k) => [k.keyId, k.secret.toString('hex')])).toEqual([[created.macKeyId, created.macSecretHex]]);
  });

  it('migrate applies and is safe to run again', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await run(['migrate', '--data', dataDir], dbEnv());
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('migrations applied\n');
    }
  });
});

describe('the printed credentials work against `sigplane serve`', () => {
  let server: ChildProcess | null = null;

  afterAll(() => {
    if (server !== null && server.exitCode === null) server.kill('SIGKILL');
  });

  it('a master signs with the printed key, a receiver connects with the issued token from the allowed address', async () => {
    const created = await createSubscription('live');
    const issued = json<IssuedJson>(await run(['token', 'issue', '--subscription', created.subscriptionId, '--json', '--data', dataDir], dbEnv()));
    expect((await run(['ip', 'allow', '--subscription', created.subscriptionId, '--ip', '127.0.0.1', '--data', dataDir], dbEnv())).code).toBe(0);

    const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1', '--data', dataDir], {
      env: dbEnv(),
      cwd: tempDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const port = await listeningPort(child, () => stderr);

    const executed: { sequence: number; positionId: string }[] = [];
    const receiver = new ReceiverClient();
    const master = new MasterClient();
    try {
      await receiver.connect(`ws://127.0.0.1:${port}/v1/receiver`, issued.token, {
        lastSequence: 0,
        reconnect: false,
        onSignal: (d) => void executed.push({ sequence: d.sequenceNumber, positionId: d.signal.positionId }),
        onSnapshot: () => undefined,
      });
      await master.connect(`ws://127.0.0.1:${port}/v1/master`, created.masterToken, {
        reconnect: false,
        signing: { version: 2, keyId: created.macKeyId, key: Buffer.from(created.macSecretHex, 'hex') },
      });
      expect(await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765, action: 1, positionId: 42 })).toEqual({
        sequence: 1,
        status: 'ACCEPTED',
      });
      await receiver.waitFor(1, 10_000);
      expect(executed).toEqual([{ sequence: 1, positionId: '42' }]);
    } finally {
      await master.close();
      await receiver.close();
    }

    // SIGTERM stops it cleanly.
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('demo', () => {
  it('runs a server, a master and three copying receivers; each account ends holding the master positions under its settings, none opened twice', async () => {
    const r = await run(['demo', '--signals', '12', '--interval-ms', '0', '--data', path.join(tempDir, 'demo')], dbEnv(), 60_000);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^master #12 [A-Z_]+ .* -> ACCEPTED$/m);
    // Every execution is printed as it happens: symbol (mapped by each account's settings), side, volume, price, slippage.
    expect(out).toMatch(/^ {2}alice +# *\d+ open +EURUSD\.m BUY \d+\.\d\d @ [\d.]+, slippage -?\d+\.\d pips$/m);
    expect(out).toMatch(/^ {2}bob +# *\d+ open +EURUSD SELL 0\.10 @ [\d.]+, slippage -?\d+\.\d pips$/m);
    expect(out).toMatch(/^ {2}bob +# *\d+ open +GOLD SELL 0\.10 @ [\d.]+, slippage/m);
    expect(out).toMatch(/^ {2}carol +# *\d+ (reduce|close) +\S+ \w+ \d+\.\d\d @ [\d.]+, slippage -?\d+\.\d pips, profit -?\d+\.\d\d USD$/m);
    // Bob drops out and resumes from his position map.
    const resumed = /^ {2}\(bob reconnects and resumes after #(\d+), the last signal his account executed\)$/m.exec(out);
    expect(out).toContain('(bob disconnects)');
    expect(resumed).not.toBeNull();
    // ... executing what he missed once: his executions, in order of sequence, with none repeated.
    const bobSequences = [...out.matchAll(/^ {2}bob +# *(\d+) (open|close|reduce|modify|adopt|skip) /gm)].map((m) => Number(m[1]));
    expect(bobSequences.some((s) => s > Number(resumed![1]))).toBe(true);
    // The table and the verdict per account.
    const held = /^master holds (\d+) position\(s\):$/m.exec(out);
    expect(held).not.toBeNull();
    for (const name of ['alice', 'bob', 'carol']) {
      expect(out).toMatch(new RegExp(`^${name}: holds the master's ${held![1]} position\\(s\\) under its settings: yes; no master position opened twice: yes$`, 'm'));
    }
    expect(out).not.toMatch(/: NO/);
    expect(out).toMatch(/^execution reports acked by the server: alice [1-9]\d*, bob [1-9]\d*, carol [1-9]\d*/m);
  });
});
