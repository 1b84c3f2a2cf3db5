/**
 * Secrets at rest, on a real Postgres 15 started for this file alone (the
 * local packages' binaries, /usr/lib/postgresql/15/bin), because the checks
 * need server settings a shared server does not have:
 *   shared_preload_libraries = pg_stat_statements   (what pg_stat_statements saw)
 *   log_statement = all                             (every statement and its parameters, in the server log)
 * and pg_dump of the same major version.
 *
 * Checked: KEK rotation re-wraps every MAC key (same secrets, new
 * ciphertext and version, the old KEK no longer needed); the AAD binds
 * table, row, column and KEK version (a ciphertext copied to another row
 * does not open); neither KEK, nor a MAC key, nor a token ever appears in
 * SQL text, the server log, pg_stat_statements or pg_stat_activity; and a
 * pg_dump of the database holds no usable credential.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../persistence/pg/config-store';
import { rewrapSecrets, sealedVersions } from '../persistence/pg/kek-rotation';
import { migrate } from '../persistence/pg/migrate';
import { createPool } from '../persistence/pg/pool';
import { SecretBox } from '../persistence/pg/secret-box';
import { freeLocalPort } from '../persistence/pg/free-port';

const pgBin = '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

/** Runs a Postgres binary, as the OS user `postgres` when we are root (Postgres refuses root). */
function pg(binary: string, args: string[]): string {
  const file = path.join(pgBin, binary);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: this test needs the local Postgres 15 binaries`);
  return asRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    : execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let root: string;
let dataDir: string;
let logFile: string;
let port: number;
let pool: Pool;
const database = 'sigplane_secrets';
let url: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-pg15-'));
  fs.chmodSync(root, 0o755);
  dataDir = path.join(root, 'data');
  logFile = path.join(root, 'server.log');
  if (asRoot) execFileSync('chown', ['postgres', root]);
  port = await freeLocalPort();
  pg('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  pg('pg_ctl', [
    '-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start', '-o',
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_stat_statements -c log_statement=all -c pg_stat_statements.track=all`,
  ]);
  const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  url = `postgres://postgres@127.0.0.1:${port}/${database}`;
  pool = createPool(url, { max: 3 });
  await migrate(pool);
  await pool.query('CREATE EXTENSION pg_stat_statements');
}, 120_000);

afterAll(async () => {
  await pool?.end();
  if (dataDir !== undefined && fs.existsSync(dataDir)) {
    try {
      pg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  }
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
});

const kekV1 = randomBytes(32);
const kekV2 = randomBytes(32);
/** Every secret this file makes: none may be found where it must not be. */
const secrets: string[] = [];
function forms(key: Buffer): string[] {
  return [key.toString('base64'), key.toString('hex'), key.toString('base64url')];
}

interface Issued {
  subscriptionId: string;
  macKeyId: string;
  macSecretHex: string;
  masterToken: string;
  receiverToken: string;
}
const issued: Issued[] = [];

describe('KEK rotation', () => {
  it('re-wraps every MAC key under the new KEK: same secrets, new ciphertext and version, the old KEK no longer needed', async () => {
    secrets.push(...forms(kekV1), ...forms(kekV2));
    const storeV1 = new ConfigStore(pool, SecretBox.fromKey(kekV1, 1));
    for (let i = 0; i < 7; i++) {
      const s = await storeV1.createSubscription({ name: `provider ${i}`, ownerEmail: `p${i}@example.com` });
      const r = await storeV1.issueReceiverToken(s.subscriptionId);
      issued.push({ subscriptionId: s.subscriptionId, macKeyId: s.macKeyId, macSecretHex: s.macSecretHex, masterToken: s.masterToken, receiverToken: r.token });
      secrets.push(s.macSecretHex, Buffer.from(s.macSecretHex, 'hex').toString('base64'), s.masterToken, r.token);
    }
    // A second (rotated) MAC key on one subscription: rows with not_after are re-wrapped too.
    const rotated = await storeV1.rotateMacKey(issued[0]!.subscriptionId, { overlapMs: 3_600_000 });
    secrets.push(rotated.secretHex);
    const before = await pool.query<{ key_id: string; ciphertext: Buffer }>('SELECT key_id, ciphertext FROM mac_keys ORDER BY key_id');
    expect(await sealedVersions(pool)).toEqual(new Map([[1, 8]]));

    // The new KEK alone cannot open v1 rows: the rotation refuses before changing anything.
    await expect(rewrapSecrets(pool, SecretBox.fromKey(kekV2, 2))).rejects.toMatchObject({ code: 'KEK_VERSION_UNKNOWN' });
    expect(await sealedVersions(pool)).toEqual(new Map([[1, 8]]));

    // The environment of step 1 (new KEK current, old one previous), as the CLI reads it.
    const both = SecretBox.fromEnvironment({
      SIGPLANE_KEK: kekV2.toString('base64'),
      SIGPLANE_KEK_VERSION: '2',
      SIGPLANE_KEK_PREVIOUS: kekV1.toString('base64'),
      SIGPLANE_KEK_PREVIOUS_VERSION: '1',
    });
    expect(both.versions()).toEqual([1, 2]);
    const progress: number[] = [];
    const result = await rewrapSecrets(pool, both, { batchRows: 3, onProgress: (p) => progress.push(p.rewrapped) });
    expect(result).toEqual({ rewrapped: 8, remaining: 0, kekVersion: 2 });
    expect(progress).toEqual([3, 6, 8]);
    expect(await sealedVersions(pool)).toEqual(new Map([[2, 8]]));
    const after = await pool.query<{ key_id: string; ciphertext: Buffer }>('SELECT key_id, ciphertext FROM mac_keys ORDER BY key_id');
    after.rows.forEach((r, i) => expect(r.ciphertext.equals(before.rows[i]!.ciphertext)).toBe(false));

    // Only the new KEK now: every secret opens and is unchanged.
    const storeV2 = new ConfigStore(pool, SecretBox.fromKey(kekV2, 2));
    for (const s of issued) {
      const keys = await storeV2.loadMacKeys(s.subscriptionId);
      expect(keys.map((k) => k.secret.toString('hex'))).toContain(s.macSecretHex);
    }
    // Running it again changes nothing.
    expect(await rewrapSecrets(pool, both)).toEqual({ rewrapped: 0, remaining: 0, kekVersion: 2 });
    // The old KEK alone no longer opens anything.
    await expect(new ConfigStore(pool, SecretBox.fromKey(kekV1, 1)).loadMacKeys(issued[1]!.subscriptionId)).rejects.toThrow(/version 2/);
  });

  it('refuses a previous KEK without its version, or with the current one', () => {
    expect(() => SecretBox.fromEnvironment({ SIGPLANE_KEK: kekV2.toString('base64'), SIGPLANE_KEK_PREVIOUS: kekV1.toString('base64') })).toThrow(
      /SIGPLANE_KEK_PREVIOUS_VERSION/,
    );
    expect(() =>
      SecretBox.fromEnvironment({ SIGPLANE_KEK: kekV2.toString('base64'), SIGPLANE_KEK_PREVIOUS: kekV1.toString('base64'), SIGPLANE_KEK_PREVIOUS_VERSION: '1' }),
    ).toThrow(/must differ/);
  });
});

describe('associated data binds each ciphertext to its row', () => {
  it('a ciphertext copied to another row, or to another key of the same subscription, does not open', async () => {
    const store = new ConfigStore(pool, SecretBox.fromKey(kekV2, 2));
    const [a, b] = [issued[1]!, issued[2]!];
    // Copy a's sealed key over b's (what an attacker with write access to the table could do).
    await pool.query(
      `UPDATE mac_keys dst SET ciphertext = src.ciphertext, nonce = src.nonce, auth_tag = src.auth_tag, kek_version = src.kek_version
         FROM mac_keys src WHERE src.subscription_id = $1 AND dst.subscription_id = $2`,
      [a.subscriptionId, b.subscriptionId],
    );
    await expect(store.loadMacKeys(b.subscriptionId)).rejects.toThrow(/authentication failed for mac_keys/);
    expect((await store.loadMacKeys(a.subscriptionId))[0]!.secret.toString('hex')).toBe(a.macSecretHex);
    // Within one subscription: the rotated-out key's ciphertext copied over the current key's.
    const s = issued[0]!;
    await pool.query(
      `UPDATE mac_keys dst SET ciphertext = src.ciphertext, nonce = src.nonce, auth_tag = src.auth_tag
         FROM mac_keys src WHERE src.subscription_id = $1 AND dst.subscription_id = $1 AND src.key_id = $2 AND dst.key_id <> $2`,
      [s.subscriptionId, s.macKeyId],
    );
    await expect(store.loadMacKeys(s.subscriptionId)).rejects.toThrow(/authentication failed/);
    // A row whose version was changed (without re-sealing) does not open either: the version is in the AAD.
    const c = issued[3]!;
    await pool.query('UPDATE mac_keys SET kek_version = 1 WHERE subscription_id = $1', [c.subscriptionId]);
    await expect(new ConfigStore(pool, SecretBox.fromKey(kekV2, 2, new Map([[1, kekV2]]))).loadMacKeys(c.subscriptionId)).rejects.toThrow(
      /authentication failed/,
    );
  });
});

describe('no secret in SQL text, logs, pg_stat_statements, pg_stat_activity or a dump', () => {
  function leaks(text: string): string[] {
    return secrets.filter((secret) => text.includes(secret));
  }

  it('the server log (log_statement = all, parameters included) holds no KEK, MAC key or token', () => {
    const log = fs.readFileSync(logFile, 'utf8');
    // The log did capture the statements and their parameters: the check can fail.
    expect(log).toMatch(/INSERT INTO mac_keys/);
    expect(log).toMatch(/UPDATE mac_keys SET ciphertext/);
    expect(log).toMatch(/parameters: \$1 = /);
    expect(leaks(log)).toEqual([]);
  });

  it('pg_stat_statements and pg_stat_activity hold none either', async () => {
    const { rows } = await pool.query<{ query: string }>('SELECT query FROM pg_stat_statements');
    const text = rows.map((r) => r.query).join('\n');
    expect(text).toMatch(/mac_keys/);
    expect(text).toMatch(/license_tokens/);
    expect(leaks(text)).toEqual([]);
    const activity = await pool.query<{ query: string }>('SELECT query FROM pg_stat_activity');
    expect(leaks(activity.rows.map((r) => r.query ?? '').join('\n'))).toEqual([]);
  });

  it('a pg_dump of the database contains no usable credential (tokens as hashes, MAC keys sealed, no KEK)', () => {
    const dump = pg('pg_dump', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '--no-password', database]);
    // The dump has the rows: the token hashes and the sealed MAC keys are in it.
    expect(dump).toMatch(/COPY public\.license_tokens/);
    expect(dump).toMatch(/COPY public\.mac_keys/);
    expect(leaks(dump)).toEqual([]);
    // Nor any 32-byte value in the forms a MAC key is shown in (64 hex) other than the stored SHA-256 token hashes.
    const hex64 = new Set(dump.match(/\b[0-9a-f]{64}\b/g) ?? []);
    for (const s of issued) expect(hex64.has(s.macSecretHex)).toBe(false);
  });
});
