/**
 * kill -9 under load, then restart: every signal the master saw acked is
 * still there, the sequence continues where it stopped, and a receiver that
 * resumes gets each signal exactly once, in order.
 *
 * The server runs as a real child process (`node dist/cli/main.js serve`),
 * killed with SIGKILL at a seeded random moment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../persistence/pg/config-store';
import { SecretBox } from '../persistence/pg/secret-box';
import { safeInteger } from '@sigplane/protocol';
import { createTestDatabase } from './support/database';
import { deliveredSequences, openWelcomed, range, sleep } from './support/e2e';
import { subscribeFrame, v1Fields, v1Frame } from './support/signals';
import { WireClient } from './support/wire-client';
import { cliPath, listeningPort } from './support/cli-process';
import { Prng } from './support/prng';

const cli = cliPath;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
const kek = crypto.randomBytes(32).toString('base64');

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-crash-'));
});
afterAll(async () => {
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--shards', '1'], {
    env: { ...process.env, DATABASE_URL: database.url, SIGPLANE_KEK: kek },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await listeningPort(child, () => stderr);
  return { child, port };
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('kill -9', () => {
  it('loses no acked signal and delivers none twice, across three hard kills', async () => {
    const store = new ConfigStore(database.pool, SecretBox.fromEnvironment({ SIGPLANE_KEK: kek }, { dataDir, allowGenerate: false }));
    const created = await store.createSubscription({ name: 'crash' });
    await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
    // Load, not a rate-limit test: the bucket must not refuse the stream.
    await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 });
    const receiverToken = (await store.issueReceiverToken(created.subscriptionId, {})).token;
    const key = created.macSecretHex; // v1: the secret's text is the HMAC key
    const random = new Prng(20261128);

    const acked = new Set<number>();
    const executed: number[] = []; // what the receiver executed, across all sessions
    let nextSequence = 1;

    for (let round = 0; round < 3; round++) {
      const { child, port } = await startServer();
      const master = await openWelcomed(`ws://127.0.0.1:${port}/v1/master`, created.masterToken);
      const welcome = await master.waitFor((f) => f.kind === 'welcome');
      const last = welcome.kind === 'welcome' ? safeInteger(welcome.welcome.lastSequence)! : -1;
      // Everything acked before the crash survived it.
      for (const seq of acked) expect(seq).toBeLessThanOrEqual(last);
      nextSequence = last + 1;

      const receiver = await WireClient.open(`ws://127.0.0.1:${port}/v1/receiver`, receiverToken);
      const lastExecuted = executed.length === 0 ? 0 : executed[executed.length - 1]!;
      receiver.send(subscribeFrame(lastExecuted));
      let executedThisRound = 0;
      receiver.ws.on('message', () => {
        // Execution is recorded as frames arrive (decoded by WireClient already).
        const seqs = deliveredSequences(receiver);
        while (seqs.length > 0 && executedThisRound < seqs.length) {
          executed.push(seqs[executedThisRound]!);
          executedThisRound++;
        }
      });

      master.ws.on('message', () => {
        for (const f of master.ofKind('ack')) acked.add(safeInteger(f.ack.sequenceNumber)!);
      });
      const ackedBeforeRound = acked.size;
      // Send steadily; kill at a seeded moment while signals are in flight.
      const killAfterMs = 150 + Math.floor(random.next() * 400);
      const started = Date.now();
      while (Date.now() - started < killAfterMs) {
        for (let i = 0; i < 20; i++) master.send(v1Frame(key, v1Fields(created.subscriptionId, nextSequence++)));
        await sleep(5);
      }
      // On a loaded machine the server may not have answered yet: the kill
      // must come after this round acked something, or it proves nothing.
      const ackDeadline = Date.now() + 15_000;
      while (acked.size === ackedBeforeRound && Date.now() < ackDeadline) await sleep(10);
      // A last burst, still in flight when the kill lands.
      for (let i = 0; i < 200; i++) master.send(v1Frame(key, v1Fields(created.subscriptionId, nextSequence++)));
      await killHard(child);
      await Promise.all([master.waitForClose(), receiver.waitForClose()]);
      expect(acked.size, `round ${round} acked nothing`).toBeGreaterThan(ackedBeforeRound);
    }

    // A last start: everything acked is there, and a receiver from 0 sees it all once, in order.
    const { child, port } = await startServer();
    const master = await openWelcomed(`ws://127.0.0.1:${port}/v1/master`, created.masterToken);
    const welcome = await master.waitFor((f) => f.kind === 'welcome');
    const last = welcome.kind === 'welcome' ? safeInteger(welcome.welcome.lastSequence)! : -1;
    expect(acked.size).toBeGreaterThan(100);
    expect(master.ofKind('reject')).toEqual([]);
    expect(Math.max(...acked)).toBeLessThanOrEqual(last);
    const fresh = await WireClient.open(`ws://127.0.0.1:${port}/v1/receiver`, receiverToken);
    fresh.send(subscribeFrame(0));
    const deadline = Date.now() + 15_000;
    while (deliveredSequences(fresh).length < last && Date.now() < deadline) await sleep(20);
    expect(deliveredSequences(fresh)).toEqual(range(1, last));
    // The resuming receiver executed a gap-free, duplicate-free prefix.
    expect(executed).toEqual(range(1, executed.length));
    await Promise.all([master.close(), fresh.close()]);
    await killHard(child);
  });
});
