/**
 * Journal retention (persistence/shipper/journal-pruner.ts) and the journal
 * disk budget, on real journal files, the real shipper thread and a real
 * Postgres database; the last part beside a running server whose shard
 * workers write the journal while the pruner deletes from it.
 *
 * The rule under test: a journal row goes only when it is shipped (at or
 * below the shipper's watermark) and the shard no longer needs it: recovery
 * from the journal rebuilds exactly the book a full replay gives, receivers
 * can still catch up on the newest signals, the latest state and every
 * cursor stay.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listPositions } from '../actors/positions-book';
import { createActor, restoreSignal, restoreSnapshot } from '../actors/subscription-actor';
import type { Position, SignalRecord } from '@sigplane/protocol';
import { Journal, type JournalBatch } from '../persistence/journal';
import { parseByteSize } from '../persistence/byte-size';
import { JournalPruner, checkRetentionLimits, retainedSignalsMin, retentionLimits } from '../persistence/shipper/journal-pruner';
import { journalPathOf } from '../persistence/shipper/journal-reader';
import type { ShipTableName } from '../persistence/shipper/journal-rows';
import { startShipper, type Shipper, type ShipperStatus } from '../persistence/shipper/shipper';
import { journalDiskLevel } from '../persistence/shipper/shipper-status';
import { createTestDatabase, type TestDatabase } from './support/database';
import { deliveryAckFrame, v1Fields, v1Frame } from './support/signals';
import { openMaster, openReceiver, send, waitForDeliveries } from './support/e2e';
import { startTestServer } from './support/test-server';

const keep = retainedSignalsMin;

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-retention-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openJournal(shard = 0): Journal {
  const j = Journal.open(journalPathOf(dir, shard), { sync: 'normal' });
  cleanups.push(() => j.close());
  return j;
}

/** A v1 market order (netting book): always replays, BUY and SELL alternating on two symbols. */
function signalOf(subscriptionId: string, sequence: number, nowMs: number): SignalRecord {
  return {
    subscriptionId,
    sequence,
    generatedAtMs: nowMs,
    symbol: sequence % 3 === 0 ? 'XAUUSD' : 'EURUSD',
    orderType: sequence % 2,
    volume: 0.01 * ((sequence % 7) + 1),
    price: 1.08 + (sequence % 100) / 10_000,
    action: 0,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: Uint8Array.from({ length: 24 }, (_, i) => (i * 7 + sequence) & 0xff),
    receivedAtMs: nowMs,
  };
}

const receivers = new Map<string, string>();
/** One receiver (license token id: a UUID) per subscription. */
function receiverOf(sub: string): string {
  let r = receivers.get(sub);
  if (r === undefined) receivers.set(sub, (r = randomUUID()));
  return r;
}

/** `perSub` signals for each subscription in commits of `chunk`, plus a state change, a cursor and security events per commit. */
function writeHistory(j: Journal, subs: string[], perSub: number, chunk = 500): void {
  const nowMs = Date.now();
  for (let from = 1; from <= perSub; from += chunk) {
    const batch: JournalBatch = { signals: [], snapshots: [], cursors: [], states: [], securityEvents: [] };
    const to = Math.min(perSub, from + chunk - 1);
    for (const sub of subs) {
      for (let seq = from; seq <= to; seq++) batch.signals.push(signalOf(sub, seq, nowMs));
      batch.states.push({ subscriptionId: sub, state: from % 2 === 1 ? 'DEGRADED' : 'ACTIVE', sequence: to, reason: `round ${from}`, atMs: nowMs });
      batch.cursors.push({ subscriptionId: sub, receiverId: receiverOf(sub), sequence: to - 1 });
    }
    batch.securityEvents.push({ atMs: nowMs, code: 'UNKNOWN_TOKEN', subscriptionId: null, role: null, remoteAddress: '203.0.113.9', sequence: null, detail: `x${from}` });
    j.commit(batch);
  }
}

/** The book a full replay of every signal gives (what the shard had before any pruning). */
function fullReplay(sub: string, perSub: number): Position[] {
  const actor = createActor(sub, 0);
  const nowMs = Date.now();
  for (let seq = 1; seq <= perSub; seq++) restoreSignal(actor, signalOf(sub, seq, nowMs));
  return listPositions(actor.book);
}

/** What the shard's recovery rebuilds from the journal file now (a fresh connection, as after a restart). */
function recovered(shard = 0): Map<string, { positions: Position[]; lastSequence: number; state: string | null; cursors: number; signalsReplayed: number }> {
  const j = Journal.open(journalPathOf(dir, shard), { sync: 'normal' });
  const out = new Map<string, { positions: Position[]; lastSequence: number; state: string | null; cursors: number; signalsReplayed: number }>();
  try {
    j.recover((r, signals) => {
      const actor = createActor(r.subscriptionId, 0);
      if (r.snapshot !== null) restoreSnapshot(actor, r.snapshot);
      let n = 0;
      for (const s of signals) {
        restoreSignal(actor, s);
        n++;
      }
      out.set(r.subscriptionId, { positions: listPositions(actor.book), lastSequence: r.lastSequence, state: r.state?.state ?? null, cursors: r.cursors.length, signalsReplayed: n });
    });
  } finally {
    j.close();
  }
  return out;
}

function rawCount(sql: string, shard = 0, ...params: unknown[]): number {
  return rawCountIn(dir, sql, shard, ...params);
}

function rawCountIn(dataDir: string, sql: string, shard = 0, ...params: unknown[]): number {
  const raw = new Database(journalPathOf(dataDir, shard), { readonly: true, fileMustExist: true });
  try {
    return raw.prepare(sql).pluck().get(...params) as number;
  } finally {
    raw.close();
  }
}

function highestIds(shard = 0): Record<ShipTableName, number> {
  const raw = new Database(journalPathOf(dir, shard), { readonly: true, fileMustExist: true });
  try {
    const ids = { signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 };
    for (const row of raw.prepare<[], { name: keyof typeof ids; seq: number }>('SELECT name, seq FROM sqlite_sequence').all()) ids[row.name] = row.seq;
    return ids;
  } finally {
    raw.close();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, describeState: () => unknown = () => '', timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(describeState())}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('retention limits', () => {
  it('keeps at least what receivers can catch up on, and checks its limits', () => {
    expect(retentionLimits.retainedSignalsPerSubscription).toBeGreaterThanOrEqual(retainedSignalsMin);
    expect(() => checkRetentionLimits({ ...retentionLimits, retainedSignalsPerSubscription: retainedSignalsMin - 1 })).toThrow(RangeError);
    expect(() => checkRetentionLimits({ ...retentionLimits, pruneIntervalMs: 0 })).toThrow(RangeError);
  });

  it('parses byte sizes as operators write them', () => {
    expect(parseByteSize('8GiB')).toBe(8 * 1024 ** 3);
    expect(parseByteSize('500MB')).toBe(500e6);
    expect(parseByteSize('4096')).toBe(4096);
    expect(parseByteSize('1.5kib')).toBe(1536);
    for (const bad of ['', '0', '-1', '8 GiBs', 'GiB', '1e3', '9'.repeat(30)]) expect(parseByteSize(bad)).toBeNull();
  });

  it('reports the disk level: ok, warning from the ratio, over past the budget', () => {
    expect(journalDiskLevel(0.5, 0.8)).toBe('ok');
    expect(journalDiskLevel(0.8, 0.8)).toBe('warning');
    expect(journalDiskLevel(1, 0.8)).toBe('warning');
    expect(journalDiskLevel(1.01, 0.8)).toBe('over');
  });
});

describe('JournalPruner on a journal file', () => {
  it('deletes only shipped rows: nothing above a watermark, recovery unchanged, latest state and cursors kept', () => {
    const subs = [randomUUID(), randomUUID()];
    const perSub = keep + 3000;
    const j = openJournal();
    writeHistory(j, subs, perSub);
    const before = recovered();
    const ids = highestIds();
    // Half of everything shipped.
    const watermark = { signals: Math.floor(ids.signals / 2), states: Math.floor(ids.states / 2), cursors: ids.cursors, security_events: Math.floor(ids.security_events / 2), execution_reports: 0 };
    const pruner = new JournalPruner(journalPathOf(dir, 0), { ...retentionLimits, retainedSignalsPerSubscription: keep, checkpointReplaySignalsMax: 1000 });
    cleanups.push(() => pruner.close());

    let checkpoints = 0;
    for (let pass = 0; pass < 30; pass++) checkpoints += pruner.prune(watermark).checkpoints;
    expect(checkpoints).toBeGreaterThan(1); // the backlog was checkpointed over several passes (1000 signals each)

    // Every row above its table's watermark is still there.
    expect(rawCount('SELECT count(*) FROM signals WHERE journal_id > ?', 0, watermark.signals)).toBe(ids.signals - watermark.signals);
    expect(rawCount('SELECT count(*) FROM states WHERE journal_id > ?', 0, watermark.states)).toBe(ids.states - watermark.states);
    expect(rawCount('SELECT count(*) FROM security_events WHERE journal_id > ?', 0, watermark.security_events)).toBe(ids.security_events - watermark.security_events);
    // Something at or below the watermarks did go.
    expect(rawCount('SELECT count(*) FROM signals WHERE journal_id <= ?', 0, watermark.signals)).toBeLessThan(watermark.signals);
    expect(rawCount('SELECT count(*) FROM security_events')).toBe(ids.security_events - watermark.security_events);

    const after = recovered();
    for (const sub of subs) {
      expect(after.get(sub)!.positions).toEqual(before.get(sub)!.positions);
      expect(after.get(sub)!.positions).toEqual(fullReplay(sub, perSub));
      expect(after.get(sub)!.lastSequence).toBe(perSub);
      expect(after.get(sub)!.state).toBe(before.get(sub)!.state);
      expect(after.get(sub)!.cursors).toBe(1);
      expect(after.get(sub)!.signalsReplayed).toBeLessThan(perSub);
    }
  });

  it('with everything shipped keeps exactly the newest signals, one state per subscription, no security events', () => {
    const subs = [randomUUID(), randomUUID(), randomUUID()];
    const perSub = keep + 2500;
    const j = openJournal();
    writeHistory(j, subs, perSub, 700);
    const pruner = new JournalPruner(journalPathOf(dir, 0), { ...retentionLimits, retainedSignalsPerSubscription: keep });
    cleanups.push(() => pruner.close());
    const all = highestIds();
    const total = { signals: 0, states: 0, securityEvents: 0, checkpoints: 0 };
    for (let pass = 0; pass < 10; pass++) {
      const c = pruner.prune(all);
      total.signals += c.signals;
      total.states += c.states;
      total.securityEvents += c.securityEvents;
      total.checkpoints += c.checkpoints;
    }
    expect(total.signals).toBe(subs.length * (perSub - keep));
    expect(total.securityEvents).toBe(all.security_events);
    expect(rawCount('SELECT count(*) FROM states')).toBe(subs.length);
    for (const sub of subs) {
      expect(rawCount('SELECT count(*) FROM signals WHERE subscription_id = ?', 0, sub)).toBe(keep);
      expect(rawCount('SELECT min(sequence) FROM signals WHERE subscription_id = ?', 0, sub)).toBe(perSub - keep + 1);
      expect(rawCount('SELECT count(*) FROM snapshots WHERE subscription_id = ?', 0, sub)).toBe(1);
    }
    const after = recovered();
    for (const sub of subs) expect(after.get(sub)!.positions).toEqual(fullReplay(sub, perSub));
    // The shard keeps appending after pruning (the checkpoint is below every new sequence).
    j.commit({ signals: subs.map((s) => signalOf(s, perSub + 1, Date.now())), snapshots: [], cursors: [], states: [], securityEvents: [] });
    expect(recovered().get(subs[0]!)!.lastSequence).toBe(perSub + 1);
  });

  it('a subscription within its retained signals is left alone (no checkpoint, no delete)', () => {
    const sub = randomUUID();
    const j = openJournal();
    writeHistory(j, [sub], keep);
    const pruner = new JournalPruner(journalPathOf(dir, 0), { ...retentionLimits, retainedSignalsPerSubscription: keep });
    cleanups.push(() => pruner.close());
    const c = pruner.prune(highestIds());
    expect(c.signals).toBe(0);
    expect(c.checkpoints).toBe(0);
    expect(rawCount('SELECT count(*) FROM signals')).toBe(keep);
    expect(rawCount('SELECT count(*) FROM snapshots')).toBe(0);
  });
});

describe('the shipper prunes what it shipped', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
    cleanups.push(() => db.drop());
  });

  function ship(options: { databaseUrl?: string; journalBudgetBytes?: number; logs?: string[] } = {}): Shipper {
    const shipper = startShipper({
      databaseUrl: options.databaseUrl ?? db.url,
      dataDir: dir,
      shardCount: 1,
      nodeId: 'node-r',
      journalBudgetBytes: options.journalBudgetBytes,
      limits: { shipBatchRowsMax: 2000, shipIntervalMs: 20, shipRetryInitialMs: 50, shipRetryMaxMs: 200, shipReconnectMaxMs: 200, shipStatusIntervalMs: 30 },
      retention: { pruneIntervalMs: 50, retainedSignalsPerSubscription: keep, checkpointReplaySignalsMax: 2000 },
      log: (level, message) => options.logs?.push(`${level} ${message}`),
    });
    cleanups.push(() => shipper.stop());
    return shipper;
  }

  it('every row reaches Postgres exactly once, then the journal keeps only what the shard needs', async () => {
    const subs = [randomUUID(), randomUUID()];
    const perSub = keep + 1500;
    const j = openJournal();
    writeHistory(j, subs, perSub);
    const ids = highestIds();
    const shipper = ship();
    const expectedPruned = subs.length * (perSub - keep);
    await until('shipped and pruned', () => {
      const s = shipper.status();
      return s.lagRows === 0 && s.pruned.signals === expectedPruned && s.pruned.securityEvents === ids.security_events;
    }, () => shipper.status());

    const { rows } = await db.pool.query<{ n: number; distinct_n: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT (subscription_id, sequence))::int AS distinct_n FROM signals',
    );
    expect(rows[0]).toEqual({ n: subs.length * perSub, distinct_n: subs.length * perSub });
    const events = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM security_events');
    expect(events.rows[0]!.n).toBe(ids.security_events);
    const states = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_states');
    expect(states.rows[0]!.n).toBe(ids.states);

    expect(rawCount('SELECT count(*) FROM signals')).toBe(subs.length * keep);
    expect(rawCount('SELECT count(*) FROM security_events')).toBe(0);
    const status = shipper.status();
    expect(status.pruneError).toBeNull();
    expect(status.shards[0]!.journalBytes).toBeGreaterThan(0);
    expect(status.journalDisk.bytes).toBe(status.shards[0]!.journalBytes);
    expect(status.journalDisk.level).toBe('ok');
    const after = recovered();
    for (const sub of subs) expect(after.get(sub)!.positions).toEqual(fullReplay(sub, perSub));
  });

  it('Postgres unreachable: nothing is pruned, the journal keeps committing, and the disk budget warns when exceeded', async () => {
    const sub = randomUUID();
    const j = openJournal();
    writeHistory(j, [sub], keep + 1000);
    const logs: string[] = [];
    // Port 1: nothing listens there.
    const shipper = ship({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', journalBudgetBytes: 64 * 1024, logs });
    await until('over budget', () => shipper.status().journalDisk.level === 'over', () => shipper.status());
    const status: ShipperStatus = shipper.status();
    expect(status.postgresUp).toBe(false);
    expect(status.journalDisk.bytes).toBeGreaterThan(64 * 1024);
    expect(status.journalDisk.fillRatio).toBeGreaterThan(1);
    expect(logs.some((l) => l.startsWith('error journal is over its disk budget'))).toBe(true);
    // The signal path's journal still accepts (acks go on), and nothing was deleted.
    j.commit({ signals: [signalOf(sub, keep + 1001, Date.now())], snapshots: [], cursors: [], states: [], securityEvents: [] });
    await new Promise((r) => setTimeout(r, 300));
    expect(shipper.status().pruned).toEqual({ signals: 0, states: 0, securityEvents: 0, executionReports: 0, checkpoints: 0 });
    expect(rawCount('SELECT count(*) FROM signals')).toBe(keep + 1001);
    expect(rawCount('SELECT count(*) FROM security_events')).toBe(highestIds().security_events);
  });
});

describe('pruning beside a running server', () => {
  it('the shards keep acking while the pruner deletes; after a restart receivers catch up and resent signals are still duplicates', async () => {
    const t = await startTestServer({ shardCount: 1 });
    cleanups.push(() => t.close());
    const shipper = startShipper({
      databaseUrl: t.databaseUrl,
      dataDir: t.dataDir,
      shardCount: 1,
      nodeId: 'node-live',
      limits: { shipIntervalMs: 20, shipRetryInitialMs: 50, shipRetryMaxMs: 300, shipReconnectMaxMs: 300, shipStatusIntervalMs: 30 },
      retention: { pruneIntervalMs: 50, retainedSignalsPerSubscription: keep, checkpointReplaySignalsMax: 1000 },
    });
    cleanups.push(() => shipper.stop());
    const s = await t.subscription();
    const total = keep + 600;
    const sent = new Map<number, ReturnType<typeof v1Fields>>();
    let master = await openMaster(t, s);
    for (let seq = 1; seq <= total; seq++) {
      const fields = v1Fields(s.subscriptionId, seq, { symbol: seq % 2 === 0 ? 'XAUUSD' : 'EURUSD', price: 1.1 });
      sent.set(seq, fields);
      const answer = await send(master, v1Frame(s.macSecretHex, fields));
      expect(answer).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
    }
    await until('pruned', () => shipper.status().pruned.signals >= total - keep && shipper.status().lagRows === 0, () => shipper.status());
    const pg = new Client({ connectionString: t.databaseUrl });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ n: number; d: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT sequence)::int AS d FROM signals WHERE subscription_id = $1',
        [s.subscriptionId],
      );
      expect(rows[0]).toEqual({ n: total, d: total });
    } finally {
      await pg.end();
    }
    expect(rawCountIn(t.dataDir, 'SELECT count(*) FROM signals')).toBe(keep);

    await master.close();
    await t.restart();
    master = await openMaster(t, s);
    // A recent signal resent: recognised from the journal as the same one.
    const resent = await send(master, v1Frame(s.macSecretHex, sent.get(total - 5)!));
    expect(resent).toEqual({ kind: 'ack', status: 'DUPLICATE', sequence: total - 5 });
    // And the next one is accepted in order.
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, total + 1, { price: 1.1 })))).toEqual({
      kind: 'ack',
      status: 'ACCEPTED',
      sequence: total + 1,
    });
    // A receiver 20 behind catches up with deliveries from the (pruned) journal.
    const receiver = await openReceiver(t, s.receiverToken, total - 20);
    const delivered = await waitForDeliveries(receiver, 21);
    expect(delivered.slice(0, 21)).toEqual(Array.from({ length: 21 }, (_, i) => total - 19 + i));
    receiver.send(deliveryAckFrame(total + 1));
    await Promise.all([master.close(), receiver.close()]);
  });
});
