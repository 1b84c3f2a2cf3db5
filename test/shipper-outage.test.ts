/**
 * The shipper when Postgres is not there: refused connections, connections
 * cut mid-stream, a network that swallows bytes. The shipper talks to the
 * test's Postgres through a TCP proxy on 127.0.0.1 that the test closes,
 * cuts and black-holes; the journal meanwhile keeps growing. Afterwards
 * every journal row is in Postgres exactly once.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignalRecord } from '@sigplane/protocol';
import { Journal } from '../persistence/journal';
import { journalPathOf } from '../persistence/shipper/journal-reader';
import { shipTableNames } from '../persistence/shipper/journal-rows';
import { startShipper, type Shipper, type ShipperStatus } from '../persistence/shipper/shipper';
import type { ShipperLimits } from '../persistence/shipper/shipper-limits';
import { createTestDatabase, type TestDatabase } from './support/database';
import { TcpProxy } from './support/tcp-proxy';
import { freeLocalPort } from '../persistence/pg/free-port';

const testLimits: Partial<ShipperLimits> = {
  shipBatchRowsMax: 400,
  shipIntervalMs: 20,
  shipRetryInitialMs: 50,
  shipRetryMaxMs: 300,
  shipReconnectMaxMs: 300,
  shipStatusIntervalMs: 30,
  shipConnectTimeoutMs: 500,
  shipBatchTimeoutMs: 1_000,
};

let dir: string;
let db: TestDatabase;
let proxy: TcpProxy;
let proxiedUrl: string;
let journal: Journal;
let shipper: Shipper | null;
const subs = [randomUUID(), randomUUID()];
let nextSequence: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-shipper-outage-'));
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = new TcpProxy(await freeLocalPort(), { host: target.hostname, port: Number(target.port || 5432) });
  target.port = String(proxy.port);
  proxiedUrl = target.toString();
  journal = Journal.open(journalPathOf(dir, 0), { sync: 'normal' });
  shipper = null;
  nextSequence = 1;
});
afterEach(async () => {
  await shipper?.stop();
  await proxy.close();
  journal.close();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function signal(subscriptionId: string, sequence: number, receivedAtMs: number): SignalRecord {
  return {
    subscriptionId,
    sequence,
    generatedAtMs: receivedAtMs - 3,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    action: 0,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: Buffer.from(`${subscriptionId}|${sequence}|tab\there`),
    receivedAtMs,
  };
}

/** `perSub` signals of each subscription, a state change and a security event, in one commit. */
function commitRound(perSub: number, receivedAtMs = Date.now()): void {
  const from = nextSequence;
  nextSequence += perSub;
  const signals: SignalRecord[] = [];
  for (const sub of subs) for (let seq = from; seq < nextSequence; seq++) signals.push(signal(sub, seq, receivedAtMs));
  journal.commit({
    signals,
    snapshots: [],
    cursors: subs.map((sub) => ({ subscriptionId: sub, receiverId: subs[0], sequence: nextSequence - 1 })),
    states: [{ subscriptionId: subs[0], state: 'ACTIVE', sequence: nextSequence - 1, reason: 'round', atMs: receivedAtMs }],
    securityEvents: [{ atMs: receivedAtMs, code: 'STALE', subscriptionId: subs[1], role: 'master', remoteAddress: '127.0.0.1', sequence: from, detail: 'stale' }],
  });
}

function start(): Shipper {
  shipper = startShipper({ databaseUrl: proxiedUrl, dataDir: dir, shardCount: 1, nodeId: 'node-outage', limits: testLimits });
  return shipper;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(shipper?.status())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function highestIds(): Record<string, number> {
  const raw = new Database(journalPathOf(dir, 0), { readonly: true, fileMustExist: true });
  try {
    // A table that never had a row has no sqlite_sequence entry: its highest id is 0.
    const ids: Record<string, number> = Object.fromEntries(shipTableNames.map((name) => [name, 0]));
    for (const row of raw.prepare<[], { name: string; seq: number }>('SELECT name, seq FROM sqlite_sequence').all()) ids[row.name] = row.seq;
    return ids;
  } finally {
    raw.close();
  }
}

/** Postgres (asked directly, not through the proxy) holds every journal row once, and the shipper agrees. */
async function expectExactlyOnce(s: Shipper): Promise<ShipperStatus> {
  await until('the backlog to drain', async () => {
    const { rows } = await db.pool.query<{ table_name: string; w: string }>(
      "SELECT table_name, shipped_journal_id::text AS w FROM journal_watermarks WHERE node_id = 'node-outage' AND shard = 0",
    );
    const marks = new Map(rows.map((r) => [r.table_name, Number(r.w)]));
    const done = Object.entries(highestIds()).every(([table, id]) => marks.get(table) === id);
    return done && s.status().lagRows === 0 && s.status().postgresUp;
  });
  const signals = await db.pool.query<{ sub: string; seq: string; content: Buffer }>(
    'SELECT subscription_id::text AS sub, sequence::text AS seq, content FROM signals ORDER BY subscription_id, sequence',
  );
  const want: string[] = [];
  for (const sub of [...subs].sort()) for (let seq = 1; seq < nextSequence; seq++) want.push(`${sub}|${seq}|tab\there`);
  expect(signals.rows.map((r) => r.content.toString())).toEqual(want);
  const counts = await db.pool.query<{ states: number; events: number; cursors: number }>(
    `SELECT (SELECT count(*)::int FROM subscription_states) AS states, (SELECT count(*)::int FROM security_events) AS events,
            (SELECT count(*)::int FROM receiver_cursors WHERE sequence = $1) AS cursors`,
    [nextSequence - 1],
  );
  const ids = highestIds();
  expect(counts.rows[0]).toEqual({ states: ids.states, events: ids.security_events, cursors: 2 });
  // No committed batch carried a row Postgres already had (cursors here only ever rise).
  const status = s.status();
  expect(status.insertedRows).toBe(status.shippedRows);
  return status;
}

describe('shipper: Postgres unreachable', () => {
  it('reports postgresUp false and a growing lag while Postgres is away, then drains the backlog by itself', async () => {
    const oldMs = Date.now() - 5_000;
    commitRound(300, oldMs);
    const s = start();
    await until('postgresUp false with the journal counted as lag', () => {
      const st = s.status();
      return st.running && !st.postgresUp && st.lagRows === 600 + 4 && st.lastError !== null;
    });
    const first = s.status();
    expect(first.watermarksKnown).toBe(false);
    expect(first.lastError?.code).toMatch(/ECONNREFUSED|SHIP_POSTGRES_UNREACHABLE/);
    expect(first.lagSeconds).toBeGreaterThanOrEqual(5);
    expect(s.shippedWatermark(0)).toBeNull();

    for (let r = 0; r < 5; r++) commitRound(200);
    await until('the lag to grow', () => s.status().lagRows === 604 + 5 * (400 + 2)); // cursors are replaced, not added
    expect(s.status().postgresUp).toBe(false);
    expect(s.status().lagSeconds).toBeGreaterThanOrEqual(first.lagSeconds);

    await proxy.listen();
    const status = await expectExactlyOnce(s);
    expect(status.postgresUp).toBe(true);
    expect(status.lagSeconds).toBe(0);
    expect(status.restarts).toBe(0);
    expect(s.shippedWatermark(0)).toEqual(highestIds());
  });

  it('loses Postgres mid-stream three times while the shard keeps writing: every row once', async () => {
    await proxy.listen();
    for (let r = 0; r < 20; r++) commitRound(250);
    const s = start();
    const downs: boolean[] = [];
    for (let outage = 0; outage < 3; outage++) {
      const shippedBefore = s.status().shippedRows;
      await until('some batches to ship', () => s.status().shippedRows > shippedBefore + 800);
      await proxy.close();
      commitRound(100);
      await until('the shipper to notice', () => !s.status().postgresUp);
      downs.push(s.status().postgresUp);
      commitRound(100);
      await new Promise((r) => setTimeout(r, 150));
      await proxy.listen();
      commitRound(100);
    }
    expect(downs).toEqual([false, false, false]);
    const status = await expectExactlyOnce(s);
    expect(status.restarts).toBe(0);
  });

  it('a network that swallows bytes: the batch watchdog and connect timeout fire, then it drains', async () => {
    await proxy.listen();
    for (let r = 0; r < 10; r++) commitRound(250);
    const s = start();
    await until('some batches to ship', () => s.status().shippedRows > 800);
    proxy.blackhole = true;
    commitRound(100);
    await until('the shipper to give up on the silent connection', () => !s.status().postgresUp, 10_000);
    const code = s.status().lastError?.code;
    expect(['SHIP_BATCH_TIMEOUT', 'SHIP_POSTGRES_UNREACHABLE']).toContain(code);
    await new Promise((r) => setTimeout(r, 700)); // at least one connect attempt times out too
    proxy.blackhole = false;
    proxy.cut(); // the swallowed connections end; Postgres rolls their transactions back
    commitRound(100);
    await expectExactlyOnce(s);
  });
});
