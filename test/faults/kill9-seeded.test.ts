/**
 * Issue 6, scenario 1: `kill -9` at seeded random moments under load, ten
 * times in a row (fifty with SIGPLANE_SOAK=1). The server is a real child
 * process with two shards; two subscriptions, each with a master streaming
 * and two receivers executing. After each kill:
 *   - every sequence a master saw acked is in the dead server's journal
 *     (read directly from the SQLite files) and at or below the
 *     `Welcome.last_sequence` of the next start;
 *   - each journal holds a gap-free 1..n per subscription;
 *   - every receiver executed a gap-free, duplicate-free prefix (each
 *     Delivery it got was exactly its last executed + 1).
 * At the end every receiver resumes and converges on 1..last.
 *
 * The seed is printed; SIGPLANE_FAULT_SEED=<seed> replays the same kill
 * moments and burst sizes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journalPathOf } from '../../persistence/journal';
import type { ConfigStore } from '../../persistence/pg/config-store';
import { safeInteger } from '@sigplane/protocol';
import { Prng } from '../support/prng';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { openWelcomed, range, sleep } from '../support/e2e';
import {
  faultSeed,
  killHard,
  newKek,
  soak,
  startServerProcess,
  stopGracefully,
  storeFor,
  until,
  type ServerProcess,
} from '../support/fault-server-process';
import { subscribeFrame, v1Fields, v1Frame } from '../support/signals';
import { WireClient } from '../support/wire-client';

const rounds = soak ? 50 : 10;
const shards = 2;

let database: TestDatabase;
let dataDir: string;
const kek = newKek();
let server: ServerProcess | null = null;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-kill9-'));
});
afterAll(async () => {
  if (server !== null) await killHard(server);
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Stream {
  subscriptionId: string;
  masterToken: string;
  key: string;
  receiverTokens: string[];
  acked: Set<number>;
  /** Per receiver: what it executed, across all its sessions. */
  executed: number[][];
  /** Deliveries that were not exactly last executed + 1 (must stay empty). */
  violations: string[];
}

async function createStream(store: ConfigStore, name: string): Promise<Stream> {
  const created = await store.createSubscription({ name });
  await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  // Load, not a rate-limit test: the bucket must not refuse the stream.
  await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 });
  const receiverTokens: string[] = [];
  for (let i = 0; i < 2; i++) receiverTokens.push((await store.issueReceiverToken(created.subscriptionId, {})).token);
  return {
    subscriptionId: created.subscriptionId,
    masterToken: created.masterToken,
    key: created.macSecretHex,
    receiverTokens,
    acked: new Set(),
    executed: receiverTokens.map(() => []),
    violations: [],
  };
}

function lastOf(list: number[]): number {
  return list.length === 0 ? 0 : list[list.length - 1]!;
}

/** A receiver that executes a Delivery only when it is exactly the next sequence; anything else is a violation. */
async function openExecutingReceiver(url: string, stream: Stream, index: number): Promise<WireClient> {
  const receiver = await WireClient.open(url, stream.receiverTokens[index]!);
  const executed = stream.executed[index]!;
  let seen = 0;
  receiver.ws.on('message', () => {
    for (; seen < receiver.frames.length; seen++) {
      const f = receiver.frames[seen]!;
      if (f.kind === 'snapshot') stream.violations.push(`receiver ${index} got a snapshot at ${safeInteger(f.snapshot.sequenceNumber)}`);
      if (f.kind !== 'delivery') continue;
      const seq = safeInteger(f.delivery.sequenceNumber)!;
      if (seq !== lastOf(executed) + 1) stream.violations.push(`receiver ${index} got ${seq} after executing ${lastOf(executed)}`);
      else executed.push(seq);
    }
  });
  receiver.send(subscribeFrame(lastOf(executed)));
  await receiver.waitFor((f) => f.kind === 'welcome');
  return receiver;
}

/** Sequences per subscription in every shard journal of the (dead) server. */
function journalSequences(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let shard = 0; shard < shards; shard++) {
    const file = journalPathOf(dataDir, shard);
    if (!fs.existsSync(file)) continue;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare<[], { sub: string; seq: number }>('SELECT subscription_id AS sub, sequence AS seq FROM signals ORDER BY subscription_id, sequence')
        .all();
      for (const row of rows) {
        const list = out.get(row.sub) ?? [];
        list.push(row.seq);
        out.set(row.sub, list);
      }
    } finally {
      db.close();
    }
  }
  return out;
}

it(`loses no acked signal and executes none twice across ${rounds} seeded kill -9s under load`, async () => {
  const seed = faultSeed('kill9-seeded');
  const random = new Prng(seed);
  const store = storeFor(database.pool, dataDir, kek);
  const streams = [await createStream(store, 'kill9-a'), await createStream(store, 'kill9-b')];
  const killMoments: number[] = [];

  for (let round = 0; round < rounds; round++) {
    server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: kek, shards });
    const masters: WireClient[] = [];
    const receivers: WireClient[] = [];
    const nextSequence: number[] = [];
    for (const stream of streams) {
      const master = await openWelcomed(server.masterUrl, stream.masterToken);
      const welcome = await master.waitFor((f) => f.kind === 'welcome');
      const last = welcome.kind === 'welcome' ? safeInteger(welcome.welcome.lastSequence)! : -1;
      // Everything acked before the last kill survived it.
      const lost = [...stream.acked].filter((seq) => seq > last);
      expect(lost, `round ${round} (seed ${seed}): acked but gone after restart`).toEqual([]);
      nextSequence.push(last + 1);
      masters.push(master);
      for (let i = 0; i < stream.receiverTokens.length; i++) receivers.push(await openExecutingReceiver(server.receiverUrl, stream, i));
    }

    // Seeded load: bursts of 5..30 signals per subscription every ~5 ms (at
    // most about 3,500 a second: under the per-subscription limit, so that
    // nothing is refused RATE_LIMITED and every sent signal can be acked). The
    // kill lands 0..500 ms (seeded) after every master saw its first ack of
    // the round: a freshly started server under a loaded machine can take a
    // while to answer, and a kill before any ack proves nothing.
    const killAfterMs = random.int(0, 500);
    killMoments.push(killAfterMs);
    const flowingDeadline = Date.now() + 20_000;
    let flowingAt: number | null = null;
    while (flowingAt === null || Date.now() - flowingAt < killAfterMs) {
      for (const [i, stream] of streams.entries()) {
        const burst = random.int(5, 30);
        for (let k = 0; k < burst; k++) masters[i]!.send(v1Frame(stream.key, v1Fields(stream.subscriptionId, nextSequence[i]!++)));
      }
      await sleep(5);
      if (flowingAt === null && masters.every((m) => m.ofKind('ack').length > 0)) flowingAt = Date.now();
      if (flowingAt === null && Date.now() > flowingDeadline) throw new Error(`round ${round}: no ack within 20 s: ${server.stderr()}`);
    }
    // A last burst still in flight when the kill lands.
    for (const [i, stream] of streams.entries()) {
      const burst = random.int(0, 300);
      for (let k = 0; k < burst; k++) masters[i]!.send(v1Frame(stream.key, v1Fields(stream.subscriptionId, nextSequence[i]!++)));
    }
    await killHard(server);
    await Promise.all([...masters, ...receivers].map((c) => c.waitForClose()));
    server = null;

    const journal = journalSequences();
    for (const [i, stream] of streams.entries()) {
      const ackedBefore = stream.acked.size;
      for (const f of masters[i]!.ofKind('ack')) stream.acked.add(safeInteger(f.ack.sequenceNumber)!);
      expect(masters[i]!.ofKind('reject').map((f) => f.reject.message), `round ${round}`).toEqual([]);
      expect(stream.acked.size, `round ${round} (seed ${seed}) acked nothing new`).toBeGreaterThan(ackedBefore);
      const journaled = journal.get(stream.subscriptionId) ?? [];
      // The journal: 1..n, no gap, no duplicate, and it holds every ack.
      expect(journaled, `round ${round} (seed ${seed})`).toEqual(range(1, journaled.length));
      expect(Math.max(...stream.acked), `round ${round} (seed ${seed}): an acked signal is not in the journal`).toBeLessThanOrEqual(journaled.length);
      expect(stream.violations, `round ${round} (seed ${seed})`).toEqual([]);
      for (const executed of stream.executed) expect(lastOf(executed)).toBeLessThanOrEqual(journaled.length);
    }
  }

  // A last start: every receiver converges on 1..last, once each, in order.
  server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: kek, shards });
  const clients: WireClient[] = [];
  for (const stream of streams) {
    const master = await openWelcomed(server.masterUrl, stream.masterToken);
    const welcome = await master.waitFor((f) => f.kind === 'welcome');
    const last = welcome.kind === 'welcome' ? safeInteger(welcome.welcome.lastSequence)! : -1;
    expect(Math.max(...stream.acked)).toBeLessThanOrEqual(last);
    clients.push(master);
    for (let i = 0; i < stream.receiverTokens.length; i++) clients.push(await openExecutingReceiver(server.receiverUrl, stream, i));
    await until(`receivers of ${stream.subscriptionId} to reach ${last}`, () => stream.executed.every((e) => lastOf(e) === last), 20_000, () =>
      JSON.stringify(stream.executed.map(lastOf)),
    );
    for (const executed of stream.executed) expect(executed).toEqual(range(1, last));
    expect(stream.violations).toEqual([]);
    console.log(`[kill9-seeded] ${stream.subscriptionId}: ${stream.acked.size} acked, ${last} journaled, receivers at ${stream.executed.map(lastOf).join(', ')}`);
  }
  console.log(`[kill9-seeded] seed ${seed}: kills after ${killMoments.join(', ')} ms`);
  await Promise.all(clients.map((c) => c.close()));
  await stopGracefully(server);
  server = null;
}, soak ? 900_000 : 240_000);
