/**
 * The journal -> Postgres shipper (persistence/shipper/) end to end: real
 * journal files written by persistence/journal.ts, the real shipper thread,
 * a real Postgres database per test.
 *
 * "Exactly once" is checked twice: the tables hold exactly the journal's
 * rows with their values, and the shipper's counters show that no committed
 * batch carried a row Postgres already had (insertedRows === shippedRows).
 * The second check matters because the tables' unique keys would otherwise
 * hide a replay as a silent conflict.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionReportRecord, SecurityEvent, SignalRecord, SubscriptionState } from '@sigplane/protocol';
import { Journal, type JournalBatch } from '../persistence/journal';
import { journalPathOf } from '../persistence/shipper/journal-reader';
import { loadOrCreateNodeId } from '../persistence/shipper/node-id';
import { ShipError, isConnectionError } from '../persistence/shipper/ship-errors';
import { startShipper, type ShipFaultSpec, type Shipper, type ShipperStatus } from '../persistence/shipper/shipper';
import type { ShipperLimits } from '../persistence/shipper/shipper-limits';
import { createTestDatabase, type TestDatabase } from './support/database';

/** Small batches (several per table), quick passes and retries. */
const testLimits: Partial<ShipperLimits> = {
  shipBatchRowsMax: 400,
  shipIntervalMs: 20,
  shipRetryInitialMs: 50,
  shipRetryMaxMs: 400,
  shipReconnectMaxMs: 400,
  shipStatusIntervalMs: 30,
};

const nastyText = [
  'tab\there',
  'line\nbreak\r\n',
  'back\\slash \\N \\.',
  'unicode é 中文 🚀 👨‍👩‍👧‍👦',
  "quote ' \" ; DROP TABLE signals; --",
  '',
];

let dir: string;
let db: TestDatabase;
let journals: Journal[];
let shippers: Shipper[];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-shipper-'));
  db = await createTestDatabase();
  journals = [];
  shippers = [];
});
afterEach(async () => {
  await Promise.all(shippers.map((s) => s.stop()));
  for (const j of journals) j.close();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------ journals

interface ExpectedState {
  shard: number;
  journalId: number;
  subscriptionId: string;
  state: SubscriptionState;
  sequence: number;
  reason: string;
  atMs: number;
}
interface ExpectedEvent {
  shard: number;
  journalId: number;
  event: SecurityEvent;
}

/** What the journals hold, as Postgres must end up holding it. */
class Expected {
  signals: SignalRecord[] = [];
  cursors = new Map<string, number>();
  states: ExpectedState[] = [];
  events: ExpectedEvent[] = [];
  /** By key (receiver, sequence, master position, kind): a resent report is the same row. */
  reports = new Map<string, ExecutionReportRecord>();
}

/** One shard's journal and deterministic rounds of every kind of row. */
class ShardWriter {
  readonly journal: Journal;
  readonly subs = [randomUUID(), randomUUID()];
  readonly receivers = [randomUUID(), randomUUID()];
  private nextSequence = 1;
  private stateIds = 0;
  private eventIds = 0;

  constructor(
    readonly shard: number,
    private readonly expected: Expected,
  ) {
    this.journal = Journal.open(journalPathOf(dir, shard), { sync: 'normal' });
    journals.push(this.journal);
  }

  /** `signalsPerSub` signals for each subscription, with cursors, a state change and security events, in one commit. */
  round(signalsPerSub: number, options: { cursors?: boolean } = {}): void {
    const batch: JournalBatch & { executionReports: ExecutionReportRecord[] } = {
      signals: [],
      snapshots: [],
      cursors: [],
      states: [],
      securityEvents: [],
      executionReports: [],
    };
    const from = this.nextSequence;
    this.nextSequence += signalsPerSub;
    const nowMs = Date.now();
    for (const sub of this.subs) {
      for (let seq = from; seq < this.nextSequence; seq++) batch.signals.push(signalOf(sub, seq, nowMs));
      if (options.cursors !== false) this.receivers.forEach((receiverId, i) => {
        const sequence = Math.max(0, this.nextSequence - 1 - i * 3);
        batch.cursors.push({ subscriptionId: sub, receiverId, sequence });
      });
      const reason = nastyText[this.stateIds % nastyText.length];
      const state: SubscriptionState = this.stateIds % 2 === 0 ? 'DEGRADED' : 'ACTIVE';
      batch.states.push({ subscriptionId: sub, state, sequence: this.nextSequence - 1, reason, atMs: nowMs - 1000 });
    }
    for (let i = 0; i < 3; i++) {
      batch.securityEvents.push({
        atMs: nowMs - 2000 + i,
        code: i === 0 ? 'SIGNATURE_INVALID' : 'UNKNOWN_TOKEN',
        subscriptionId: i === 2 ? null : `forged\t${i}\\${nastyText[i]}`,
        role: i === 2 ? null : i === 0 ? 'master' : 'receiver',
        remoteAddress: i === 1 ? '2001:db8::1' : '203.0.113.7',
        sequence: i === 2 ? null : from + i,
        detail: `${nastyText[(this.eventIds + i) % nastyText.length]} #${this.eventIds + i}`,
      });
    }
    // Execution reports: one per subscription and receiver, sent twice in the batch, and the previous round's again.
    for (const [i, sub] of this.subs.entries()) {
      const receiverId = this.receivers[i];
      for (const sequence of from > 1 ? [from - 1, from] : [from]) {
        const report = reportOf(sub, receiverId, sequence, nowMs);
        batch.executionReports.push(report, { ...report, volume: 99 }); // the second is the same key: ignored
      }
    }
    this.journal.commit(batch);
    for (const r of batch.executionReports) {
      const key = `${r.receiverId}|${r.sequence}|${r.masterPositionId}|${r.kind}`;
      if (!this.expected.reports.has(key)) this.expected.reports.set(key, r);
    }
    this.expected.signals.push(...batch.signals);
    for (const c of batch.cursors) {
      const key = `${c.subscriptionId}/${c.receiverId}`;
      this.expected.cursors.set(key, Math.max(this.expected.cursors.get(key) ?? 0, c.sequence));
    }
    for (const s of batch.states) this.expected.states.push({ shard: this.shard, journalId: ++this.stateIds, ...s });
    for (const event of batch.securityEvents) this.expected.events.push({ shard: this.shard, journalId: ++this.eventIds, event });
  }
}

function signalOf(subscriptionId: string, sequence: number, nowMs: number): SignalRecord {
  const v2 = sequence % 2 === 0;
  return {
    subscriptionId,
    sequence,
    generatedAtMs: nowMs - 500 + (sequence % 100),
    symbol: sequence % 3 === 0 ? 'XAUUSD' : 'EURUSD',
    orderType: sequence % 9,
    volume: 0.01 * ((sequence % 100) + 1),
    price: 1.08 + (sequence % 1000) / 100_000,
    action: v2 ? 1 + (sequence % 4) : 0,
    positionId: v2 ? (10n ** 19n + BigInt(sequence)).toString() : '',
    stopLoss: v2 ? 1.05 : 0,
    takeProfit: v2 ? 1.2 + sequence / 1e9 : 0,
    magic: v2 ? '18446744073709551615' : '',
    signingVersion: v2 ? 2 : 1,
    content: Uint8Array.from({ length: 40 + (sequence % 50) }, (_, i) => (i * 31 + sequence) & 0xff),
    receivedAtMs: nowMs - 400 + (sequence % 100),
  };
}

function reportOf(subscriptionId: string, receiverId: string, sequence: number, nowMs: number): ExecutionReportRecord {
  const skip = sequence % 4 === 0;
  const close = sequence % 4 === 1;
  return {
    subscriptionId,
    receiverId,
    sequence,
    masterPositionId: `v1:EURUSD.${sequence % 7}`,
    kind: skip ? 'skip' : close ? 'close' : 'open',
    outcome: skip ? 'rejected' : sequence % 3 === 0 ? 'partially_filled' : 'filled',
    ticket: skip ? null : `t-${sequence}`,
    requestedVolume: 0.5,
    volume: skip ? 0 : 0.5,
    price: skip ? null : 1.08 + sequence / 1e6,
    slippagePips: skip ? null : (sequence % 11) / 10 - 0.3,
    delayMs: skip ? null : sequence % 500,
    profit: close ? -12.345678 + sequence : null,
    currency: close ? 'EUR' : null,
    reason: skip ? 'BROKER_REJECTED:REQUOTE' : null,
    executedAtMs: nowMs - 300,
    receivedAtMs: nowMs - 200,
  };
}

/** Highest journal_id ever given per table (sqlite_sequence), read beside the writer. */
function highestIds(shard: number): Record<string, number> {
  const raw = new Database(journalPathOf(dir, shard), { readonly: true, fileMustExist: true });
  try {
    const ids: Record<string, number> = { signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 };
    for (const row of raw.prepare<[], { name: string; seq: number }>('SELECT name, seq FROM sqlite_sequence').all()) ids[row.name] = row.seq;
    return ids;
  } finally {
    raw.close();
  }
}

// ------------------------------------------------------------ shipper and waiting

function ship(
  options: { nodeId?: string; shardCount?: number; fault?: ShipFaultSpec; databaseUrl?: string; limits?: Partial<ShipperLimits>; retention?: false } = {},
): Shipper {
  const shipper = startShipper({
    databaseUrl: options.databaseUrl ?? db.url,
    dataDir: dir,
    shardCount: options.shardCount ?? 2,
    nodeId: options.nodeId ?? 'node-a',
    limits: { ...testLimits, ...options.limits },
    retention: options.retention,
    fault: options.fault,
  });
  shippers.push(shipper);
  return shipper;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, describeState: () => unknown = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(describeState())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function watermarksInPostgres(nodeId = 'node-a'): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ shard: number; table_name: string; w: string }>(
    'SELECT shard, table_name, shipped_journal_id::text AS w FROM journal_watermarks WHERE node_id = $1',
    [nodeId],
  );
  return new Map(rows.map((r) => [`${r.shard}/${r.table_name}`, Number(r.w)]));
}

/** Every table of every shard shipped up to the journal's highest id, and the status agrees. */
async function drained(shipper: Shipper, shards: number[], nodeId = 'node-a'): Promise<ShipperStatus> {
  await until(
    'the backlog to drain',
    async () => {
      const marks = await watermarksInPostgres(nodeId);
      for (const shard of shards) {
        for (const [table, id] of Object.entries(highestIds(shard))) if ((marks.get(`${shard}/${table}`) ?? 0) !== id) return false;
      }
      const s = shipper.status();
      return s.postgresUp && s.watermarksKnown && s.lagRows === 0;
    },
    30_000,
    () => shipper.status(),
  );
  return shipper.status();
}

// ------------------------------------------------------------ verifying Postgres

const epochMs = (column: string): string => `(extract(epoch from ${column}) * 1000)::float8`;

async function expectPostgresToHold(expected: Expected, nodeId = 'node-a'): Promise<void> {
  const signals = await db.pool.query(
    `SELECT subscription_id::text AS sub, sequence::float8 AS seq, ${epochMs('generated_at')} AS gen, symbol, order_type, volume, price,
            action, position_id::text AS position_id, stop_loss, take_profit, magic, signing_version, content, ${epochMs('received_at')} AS recv
     FROM signals ORDER BY subscription_id, sequence`,
  );
  const want = [...expected.signals].sort((a, b) => (a.subscriptionId === b.subscriptionId ? a.sequence - b.sequence : a.subscriptionId < b.subscriptionId ? -1 : 1));
  expect(signals.rows).toHaveLength(want.length);
  signals.rows.forEach((row, i) => {
    const r = want[i];
    expect({
      sub: row.sub,
      seq: row.seq,
      gen: row.gen,
      symbol: row.symbol,
      orderType: row.order_type,
      volume: row.volume,
      price: row.price,
      action: row.action,
      positionId: row.position_id,
      stopLoss: row.stop_loss,
      takeProfit: row.take_profit,
      magic: row.magic,
      signingVersion: row.signing_version,
      content: [...(row.content as Buffer)],
      recv: row.recv,
    }).toEqual({
      sub: r.subscriptionId,
      seq: r.sequence,
      gen: r.generatedAtMs,
      symbol: r.symbol,
      orderType: r.orderType,
      volume: r.volume,
      price: r.price,
      action: r.action,
      positionId: r.positionId === '' ? null : r.positionId,
      stopLoss: r.stopLoss,
      takeProfit: r.takeProfit,
      magic: r.magic,
      signingVersion: r.signingVersion,
      content: [...r.content],
      recv: r.receivedAtMs,
    });
  });

  const cursors = await db.pool.query<{ k: string; sequence: string }>(
    "SELECT subscription_id::text || '/' || receiver_id::text AS k, sequence::text FROM receiver_cursors",
  );
  expect(new Map(cursors.rows.map((r) => [r.k, Number(r.sequence)]))).toEqual(expected.cursors);

  const states = await db.pool.query(
    `SELECT shard, journal_id::float8 AS journal_id, subscription_id::text AS sub, state, sequence::float8 AS sequence, reason, ${epochMs('changed_at')} AS at
     FROM subscription_states WHERE node_id = $1 ORDER BY shard, journal_id`,
    [nodeId],
  );
  const wantStates = [...expected.states].sort((a, b) => a.shard - b.shard || a.journalId - b.journalId);
  expect(states.rows).toEqual(
    wantStates.map((s) => ({ shard: s.shard, journal_id: s.journalId, sub: s.subscriptionId, state: s.state, sequence: s.sequence, reason: s.reason, at: s.atMs })),
  );

  const events = await db.pool.query(
    `SELECT shard, journal_id::float8 AS journal_id, ${epochMs('event_time')} AS at, code, subscription_id, role, remote_address,
            sequence::float8 AS sequence, detail
     FROM security_events WHERE node_id = $1 ORDER BY shard, journal_id`,
    [nodeId],
  );
  const wantEvents = [...expected.events].sort((a, b) => a.shard - b.shard || a.journalId - b.journalId);
  expect(events.rows).toEqual(
    wantEvents.map(({ shard, journalId, event: e }) => ({
      shard,
      journal_id: journalId,
      at: e.atMs,
      code: e.code,
      subscription_id: e.subscriptionId,
      role: e.role,
      remote_address: e.remoteAddress,
      sequence: e.sequence,
      detail: e.detail,
    })),
  );
}

/** A digest of every shipped table (shipped_at left out), to show a rerun changed nothing. */
async function digest(): Promise<string> {
  const { rows } = await db.pool.query<{ d: string }>(
    `SELECT concat_ws('|',
       (SELECT md5(string_agg(concat_ws(',', subscription_id, sequence, generated_at, symbol, volume, price, position_id, magic, encode(content, 'hex'), received_at), ';' ORDER BY subscription_id, sequence)) FROM signals),
       (SELECT md5(string_agg(concat_ws(',', subscription_id, receiver_id, sequence), ';' ORDER BY subscription_id, receiver_id)) FROM receiver_cursors),
       (SELECT md5(string_agg(concat_ws(',', node_id, shard, journal_id, subscription_id, state, sequence, reason, changed_at), ';' ORDER BY node_id, shard, journal_id)) FROM subscription_states),
       (SELECT md5(string_agg(concat_ws(',', node_id, shard, journal_id, code, subscription_id, detail), ';' ORDER BY node_id, shard, journal_id)) FROM security_events),
       (SELECT count(*) FROM signals), (SELECT count(*) FROM security_events)) AS d`,
  );
  return rows[0].d;
}

// ------------------------------------------------------------ tests

describe('shipper: exactly once', () => {
  it('ships rows of every kind from every shard once, with their values, while the shards keep writing', async () => {
    const expected = new Expected();
    const writers = [new ShardWriter(0, expected), new ShardWriter(1, expected)];
    for (let r = 0; r < 3; r++) for (const w of writers) w.round(150);
    const shipper = ship();
    // The shards go on committing while the shipper reads beside them.
    for (let r = 0; r < 12; r++) {
      for (const w of writers) w.round(60);
      await new Promise((res) => setTimeout(res, 5));
    }
    const status = await drained(shipper, [0, 1]);
    await expectPostgresToHold(expected);
    expect(status.shippedRows).toBeGreaterThan(expected.signals.length);
    expect(status.insertedRows).toBe(status.shippedRows);
    expect(status.conflictingRows).toBe(0);
    expect(status.lastError).toBeNull();
    expect(status.lagSeconds).toBe(0);
    // More than one batch per table: the row bound held.
    expect(status.batches).toBeGreaterThan(expected.signals.length / testLimits.shipBatchRowsMax!);
    for (const shard of [0, 1]) expect(shipper.shippedWatermark(shard)).toEqual(highestIds(shard));
    // Execution reports: each key once, with its values (the journal ignored the resent ones).
    const { rows: reports } = await db.pool.query(
      `SELECT subscription_id, receiver_id, sequence::int, master_position_id, kind, outcome, ticket, requested_volume, volume, price,
              slippage_pips, delay_ms::int, profit, currency, reason,
              extract(epoch FROM executed_at) * 1000 AS executed_at_ms, extract(epoch FROM received_at) * 1000 AS received_at_ms
         FROM execution_reports ORDER BY receiver_id, sequence, master_position_id, kind`,
    );
    const want = [...expected.reports.values()].sort((a, b) =>
      a.receiverId < b.receiverId ? -1 : a.receiverId > b.receiverId ? 1 : a.sequence - b.sequence,
    );
    expect(reports).toHaveLength(want.length);
    reports.forEach((row, i) => {
      const r = want[i];
      expect(row).toMatchObject({
        subscription_id: r.subscriptionId,
        receiver_id: r.receiverId,
        sequence: r.sequence,
        master_position_id: r.masterPositionId,
        kind: r.kind,
        outcome: r.outcome,
        ticket: r.ticket,
        requested_volume: r.requestedVolume,
        volume: r.volume,
        price: r.price,
        slippage_pips: r.slippagePips,
        delay_ms: r.delayMs,
        profit: r.profit,
        currency: r.currency,
        reason: r.reason,
      });
      expect(Number(row.executed_at_ms)).toBeCloseTo(r.executedAtMs, 0);
      expect(Number(row.received_at_ms)).toBeCloseTo(r.receivedAtMs, 0);
    });
  });

  it('a second run ships nothing new', async () => {
    const expected = new Expected();
    const w = new ShardWriter(0, expected);
    for (let r = 0; r < 4; r++) w.round(200);
    const first = ship({ shardCount: 1 });
    await drained(first, [0]);
    await first.stop();
    const before = await digest();

    const second = ship({ shardCount: 1 });
    await until('the second shipper to connect and look', () => second.status().postgresUp && second.status().watermarksKnown);
    await new Promise((r) => setTimeout(r, 300)); // many passes
    const s = second.status();
    expect(s).toMatchObject({ batches: 0, shippedRows: 0, insertedRows: 0, lagRows: 0 });
    expect(await digest()).toBe(before);
    await expectPostgresToHold(expected);
  });

  it.each<[ShipFaultSpec['point'], boolean]>([
    ['afterCopy', true],
    ['beforeCommit', true],
    ['afterCommit', false],
  ])('a shipper thread killed at %s of a batch is restarted and neither loses nor duplicates a row', async (point, countsExact) => {
    const expected = new Expected();
    const writers = [new ShardWriter(0, expected), new ShardWriter(1, expected)];
    // No cursor rows: a cursor replaced before it shipped is never read, so only the
    // append-only tables give an exact count of rows to compare with.
    for (let r = 0; r < 5; r++) for (const w of writers) w.round(200, { cursors: false });
    // The 2nd signals batch of shard 1 dies mid-way: the thread exits, its connection drops without ROLLBACK.
    const shipper = ship({ fault: { point, mode: 'exit', table: 'signals', shard: 1, onHit: 2 } });
    await until('the thread to die and come back', () => shipper.status().restarts === 1, 30_000, () => shipper.status());
    for (const w of writers) w.round(50, { cursors: false });
    const status = await drained(shipper, [0, 1]);
    await expectPostgresToHold(expected);
    expect(status.restarts).toBe(1);
    expect(status.insertedRows).toBe(status.shippedRows);
    if (countsExact) {
      // Every journal row was in exactly one committed batch.
      const total = [0, 1].reduce((n, shard) => n + Object.values(highestIds(shard)).reduce((a, b) => a + b, 0), 0);
      expect(status.shippedRows).toBe(total);
    }
    // The killed transaction left no session behind holding locks.
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'sigplane-shipper' AND state LIKE 'idle in transaction%'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('a batch that fails before COMMIT is rolled back and retried; nothing is lost or doubled', async () => {
    const expected = new Expected();
    const w = new ShardWriter(0, expected);
    for (let r = 0; r < 4; r++) w.round(150);
    const errors: string[] = [];
    const shipper = startShipper({
      databaseUrl: db.url,
      dataDir: dir,
      shardCount: 1,
      nodeId: 'node-a',
      limits: testLimits,
      fault: { point: 'beforeCommit', mode: 'throw', table: 'security_events' },
      onStatus: (s) => {
        const code = s.shards[0].tables.security_events.error?.code;
        if (code !== undefined) errors.push(code);
      },
    });
    shippers.push(shipper);
    const status = await drained(shipper, [0]);
    expect(errors).toContain('SHIP_FAULT_INJECTED');
    expect(status.restarts).toBe(0);
    expect(status.insertedRows).toBe(status.shippedRows);
    expect(status.shards[0].tables.security_events.error).toBeNull();
    await expectPostgresToHold(expected);
  });

  it('a replay is harmless: with every watermark reset to 0 the rows ship again and nothing changes', async () => {
    const expected = new Expected();
    const w = new ShardWriter(0, expected);
    for (let r = 0; r < 3; r++) w.round(300);
    // No pruning here: a replay from 0 needs every row still in the journal (pruning deletes shipped rows).
    const first = ship({ shardCount: 1, retention: false });
    await drained(first, [0]);
    await first.stop();
    const before = await digest();

    await db.pool.query('UPDATE journal_watermarks SET shipped_journal_id = 0');
    const replay = ship({ shardCount: 1, retention: false });
    const status = await drained(replay, [0]);
    expect(status.shippedRows).toBeGreaterThan(expected.signals.length);
    expect(status.insertedRows).toBe(0);
    expect(status.conflictingRows).toBe(0);
    expect(await digest()).toBe(before);
    await expectPostgresToHold(expected);
  });

  it('a signal whose key is already in Postgres with other content is kept as it was and counted', async () => {
    const expected = new Expected();
    const w = new ShardWriter(0, expected);
    w.round(20);
    const clash = expected.signals[5];
    await db.pool.query(
      `INSERT INTO signals (subscription_id, sequence, generated_at, symbol, order_type, volume, price, action, stop_loss, take_profit, magic,
                            signing_version, content, received_at)
       VALUES ($1, $2, NOW(), 'EURUSD', 0, 1, 1, 0, 0, 0, '', 1, '\\x00'::bytea, NOW())`,
      [clash.subscriptionId, clash.sequence],
    );
    const shipper = ship({ shardCount: 1 });
    const status = await drained(shipper, [0]);
    expect(status.conflictingRows).toBe(1);
    expect(status.insertedRows).toBe(status.shippedRows - 1);
    const { rows } = await db.pool.query<{ content: Buffer }>('SELECT content FROM signals WHERE subscription_id = $1 AND sequence = $2', [
      clash.subscriptionId,
      clash.sequence,
    ]);
    expect([...rows[0].content]).toEqual([0]);
  });

  it('two shippers of the same node at once serialise on the watermark row: every row once, no replay', async () => {
    const expected = new Expected();
    const writers = [new ShardWriter(0, expected), new ShardWriter(1, expected)];
    for (let r = 0; r < 6; r++) for (const w of writers) w.round(200);
    const a = ship();
    const b = ship();
    await drained(a, [0, 1]);
    await until('the second shipper to catch up', () => b.status().lagRows === 0);
    await expectPostgresToHold(expected);
    const [sa, sb] = [a.status(), b.status()];
    expect(sa.insertedRows).toBe(sa.shippedRows);
    expect(sb.insertedRows).toBe(sb.shippedRows);
    const signalsShipped = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signals')).rows[0].n;
    expect(signalsShipped).toBe(expected.signals.length);
  });
  it('security event strings as long as the journal admits ship whole', async () => {
    const j = Journal.open(journalPathOf(dir, 0), { sync: 'normal' });
    journals.push(j);
    const event: SecurityEvent = {
      atMs: Date.now(),
      code: 'WRONG_SUBSCRIPTION',
      subscriptionId: `${'s\t'.repeat(5_000)}end`,
      role: 'master',
      remoteAddress: '::ffff:203.0.113.7',
      sequence: Number.MAX_SAFE_INTEGER,
      detail: `${nastyText.join('|').repeat(2_000)}\u0000nul`,
    };
    j.commit({ signals: [], snapshots: [], cursors: [], states: [], securityEvents: [event] });
    const shipper = ship({ shardCount: 1 });
    await drained(shipper, [0]);
    const { rows } = await db.pool.query<{ subscription_id: string; detail: string; sequence: string }>(
      'SELECT subscription_id, detail, sequence::text FROM security_events',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].subscription_id).toBe(event.subscriptionId);
    expect(rows[0].sequence).toBe(String(Number.MAX_SAFE_INTEGER));
    // NUL cannot be stored in Postgres text: it arrives as U+FFFD, everything else unchanged.
    expect(rows[0].detail).toBe(event.detail.replace('\u0000', '\uFFFD'));
  });
});

describe('shipper: bad journals stop where they are bad, and only there', () => {
  it('a corrupt signal: the rows before it ship, nothing after it, other tables and shards go on', async () => {
    const expected = new Expected();
    const writers = [new ShardWriter(0, expected), new ShardWriter(1, expected)];
    for (let r = 0; r < 3; r++) for (const w of writers) w.round(100);
    writers[0].journal.close();
    const corruptId = 250;
    const raw = new Database(journalPathOf(dir, 0));
    raw.prepare('UPDATE signals SET checksum = (checksum + 1) % 4294967296 WHERE journal_id = ?').run(corruptId);
    raw.close();

    const shipper = ship();
    await until('shard 0 signals to stop at the bad row', async () => {
      const s = shipper.status();
      return s.shards[0].tables.signals.error?.code === 'JOURNAL_CORRUPT' && (await watermarksInPostgres()).get('0/signals') === corruptId - 1;
    });
    const marks = await watermarksInPostgres();
    const ids0 = highestIds(0);
    expect(marks.get('0/states')).toBe(ids0.states);
    expect(marks.get('0/security_events')).toBe(ids0.security_events);
    for (const [table, id] of Object.entries(highestIds(1))) expect(marks.get(`1/${table}`)).toBe(id);
    const s = shipper.status();
    expect(s.postgresUp).toBe(true);
    expect(s.lagRows).toBe(ids0.signals - (corruptId - 1));
    expect(s.shards[0].tables.signals.error?.message).toMatch(/checksum mismatch/);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signals WHERE subscription_id = ANY($1::uuid[])', [writers[0].subs]);
    expect(rows[0].n).toBe(corruptId - 1);
  });

  it('a subscription id that is no UUID stops its table with SHIP_UNSHIPPABLE_ROW, not the shipper', async () => {
    const j = Journal.open(journalPathOf(dir, 0), { sync: 'normal' });
    journals.push(j);
    const good = randomUUID();
    j.commit({ signals: [signalOf(good, 1, Date.now())], snapshots: [], cursors: [], states: [], securityEvents: [] });
    j.commit({ signals: [signalOf('not-a-uuid', 1, Date.now())], snapshots: [], cursors: [], states: [], securityEvents: [] });
    j.commit({
      signals: [],
      snapshots: [],
      cursors: [],
      states: [{ subscriptionId: good, state: 'ISOLATED', sequence: 1, reason: 'test', atMs: Date.now() }],
      securityEvents: [],
    });
    const shipper = ship({ shardCount: 1 });
    await until('the signals table to report the row', () => shipper.status().shards[0].tables.signals.error?.code === 'SHIP_UNSHIPPABLE_ROW');
    await until('the states to ship anyway', async () => (await watermarksInPostgres()).get('0/states') === 1);
    expect((await watermarksInPostgres()).get('0/signals')).toBe(1);
    expect(shipper.status().lagRows).toBe(1);
  });

  it('a journal whose ids are behind the watermark (replaced file) is refused, not skipped', async () => {
    const expected = new Expected();
    const w = new ShardWriter(0, expected);
    for (let r = 0; r < 2; r++) w.round(100);
    const first = ship({ shardCount: 1 });
    await drained(first, [0]);
    await first.stop();
    w.journal.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(journalPathOf(dir, 0) + suffix, { force: true });
    const fresh = new ShardWriter(0, new Expected());
    fresh.round(10);

    const second = ship({ shardCount: 1 });
    await until('the replaced journal to be reported', () => second.status().shards[0].tables.signals.error?.code === 'SHIP_JOURNAL_BEHIND_WATERMARK');
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signals WHERE subscription_id = ANY($1::uuid[])', [fresh.subs]);
    expect(rows[0].n).toBe(0);
  });

  it('a shard journal created after the shipper started is picked up', async () => {
    const expected = new Expected();
    const w0 = new ShardWriter(0, expected);
    w0.round(30);
    const shipper = ship();
    await until('shard 0 to ship', async () => (await watermarksInPostgres()).get('0/signals') === 60);
    expect(shipper.status().shards[1].journal).toBe('missing');
    const w1 = new ShardWriter(1, expected);
    w1.round(30);
    await drained(shipper, [0, 1]);
    await expectPostgresToHold(expected);
  });
});

describe('node id', () => {
  it('is made once in the data folder and read back after', () => {
    const id = loadOrCreateNodeId(dir);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(loadOrCreateNodeId(dir)).toBe(id);
    expect(fs.readFileSync(path.join(dir, 'node-id'), 'utf8').trim()).toBe(id);
    fs.writeFileSync(path.join(dir, 'node-id'), 'bad id with spaces\n');
    expect(() => loadOrCreateNodeId(dir)).toThrow(/does not hold a node id/);
  });
});

describe('startShipper arguments', () => {
  it('refuses bad arguments at once, and knows no watermark before Postgres answered', async () => {
    expect(() => startShipper({ databaseUrl: '', dataDir: dir, shardCount: 1, nodeId: 'n' })).toThrow(/databaseUrl/);
    expect(() => startShipper({ databaseUrl: db.url, dataDir: dir, shardCount: 0, nodeId: 'n' })).toThrow(/shardCount/);
    expect(() => startShipper({ databaseUrl: db.url, dataDir: dir, shardCount: 1, nodeId: 'no spaces' })).toThrow(/nodeId/);
    expect(() => startShipper({ databaseUrl: db.url, dataDir: dir, shardCount: 1, nodeId: 'n', limits: { shipBatchRowsMax: 0 } })).toThrow(/shipBatchRowsMax/);
    const shipper = ship({ shardCount: 1 });
    expect(shipper.shippedWatermark(0)).toBeNull();
    expect(() => shipper.shippedWatermark(1)).toThrow(RangeError);
    await until('a watermark', () => shipper.shippedWatermark(0) !== null);
    expect(shipper.shippedWatermark(0)).toEqual({ signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 });
  });
});

describe('error classification', () => {
  it('tells a lost connection from a refused batch', () => {
    const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
    for (const e of [withCode('ECONNREFUSED'), withCode('ECONNRESET'), withCode('57P01'), withCode('08006'), withCode('3D000'), new Error('Connection terminated unexpectedly')]) {
      expect(isConnectionError(e)).toBe(true);
    }
    expect(isConnectionError(new ShipError('SHIP_BATCH_TIMEOUT', 'slow'))).toBe(true);
    for (const e of [withCode('23505'), withCode('22P02'), withCode('57014'), withCode('JOURNAL_CORRUPT'), withCode('SQLITE_BUSY'), new RangeError('bug')]) {
      expect(isConnectionError(e)).toBe(false);
    }
    expect(isConnectionError(new ShipError('SHIP_UNSHIPPABLE_ROW', 'row'))).toBe(false);
  });
});
