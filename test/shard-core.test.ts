/**
 * The shard's logic without its thread (engine/shard-core.ts): a real
 * Journal on a temporary SQLite file, a clock the test moves, the outbound
 * records taken through the ring's codec and checked, as each leaves, to
 * announce only what a second SQLite connection already reads as committed
 * (test/support/shard-core.ts).
 *
 * - a batch is committed once, then its frames leave, in order;
 * - a failed commit (a held write lock; a full disk) sends nothing of the
 *   batch but BUSY answers to the connections it answered, and the core
 *   refuses to go on; a new one recovers exactly what was committed;
 * - the shard's own refusals are journaled before they leave, naming who
 *   was refused; a storm is counted within its budget, every refusal
 *   accounted for;
 * - timers, execution reports, cursors, recovery, the window budget.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Action,
  OrderType,
  rejectCodeName,
  safeInteger,
  securityEvents as securityEventLimits,
  stateName,
  type SecurityEvent,
} from '@sigplane/protocol';
import { isOutOfSpace } from '../persistence/journal';
import { Audience, type ShardOutbound } from '../engine/shard-protocol';
import { ShardCoreHarness } from './support/shard-core';
import { mountTmpfs, type Tmpfs } from './support/tmpfs';
import { SUB, report, signal, v2 } from './actors/fixtures';

const OTHER = 'a6f1b0d2-0000-4000-8000-000000000002';
const MASTER = 1;
const masterAddress = '203.0.113.5';

const harnesses: ShardCoreHarness[] = [];
const mounts: Tmpfs[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
  for (const m of mounts.splice(0)) m.unmount();
});

function open(options: ConstructorParameters<typeof ShardCoreHarness>[0] = {}): ShardCoreHarness {
  const h = new ShardCoreHarness(options);
  harnesses.push(h);
  return h;
}

/** Alternating BUY / SELL of 0.1 EURUSD: the netting book stays flat. */
function inOrder(sequence: number, subscriptionId = SUB) {
  return signal(sequence, { subscriptionId, orderType: sequence % 2 === 1 ? OrderType.BUY : OrderType.SELL });
}

function sendSignal(h: ShardCoreHarness, sequence: number, subscriptionId = SUB, t0?: number): void {
  h.event(subscriptionId, { kind: 'signal', connId: MASTER, record: inOrder(sequence, subscriptionId) }, t0 === undefined ? {} : { t0 });
}

function attachMaster(h: ShardCoreHarness, sub = SUB, connId = MASTER, remoteAddress = masterAddress): void {
  h.event(sub, { kind: 'masterAttach', connId }, { remoteAddress });
}

const audience = (m: Extract<ShardOutbound, { t: 'send' }>): string =>
  m.to === Audience.CONN ? `@${m.conn}` : m.to === Audience.RECEIVERS ? 'receivers' : m.to === Audience.MASTERS ? 'masters' : 'all';

/** A compact, comparable form of what the shard sent. */
function brief(m: ShardOutbound): string {
  switch (m.t) {
    case 'send': {
      const f = ShardCoreHarness.frames([m])[0]!.decoded;
      const to = audience(m);
      switch (f.kind) {
        case 'ack': return `${to} ack ${safeInteger(f.ack.sequenceNumber)} ${f.ack.status === 2 ? 'DUPLICATE' : 'ACCEPTED'}`;
        case 'reject': return `${to} reject ${safeInteger(f.reject.sequenceNumber)} ${rejectCodeName(f.reject.code)}`;
        case 'delivery': return `${to} delivery ${safeInteger(f.delivery.sequenceNumber)}`;
        case 'snapshot': return `${to} snapshot ${safeInteger(f.snapshot.sequenceNumber)}`;
        case 'stateChange': return `${to} state ${stateName(f.stateChange.state)} ${safeInteger(f.stateChange.sequenceNumber)}`;
        case 'syncRequest': return `${to} sync ${safeInteger(f.syncRequest.fromSequence)}-${safeInteger(f.syncRequest.toSequence)}${f.syncRequest.full ? ' full' : ''}`;
        case 'welcome': return `${to} welcome ${f.welcome.role} ${stateName(f.welcome.state)} ${safeInteger(f.welcome.lastSequence)}`;
        case 'executionReportAck': return `${to} reportAck ${safeInteger(f.executionReportAck.sequenceNumber)} ${f.executionReportAck.masterPositionId}`;
        default: return `${to} ${f.kind}`;
      }
    }
    case 'live': return `live @${m.conn}`;
    case 'state': return `state-record ${m.state} ${m.seq}`;
    case 'security': return `security ${m.ev.code} ${m.ev.sequence}`;
    case 'ready': return `ready ${m.subscriptions} ${m.signals}`;
    case 'stats': return 'stats';
  }
}

const briefs = (records: ShardOutbound[]): string[] => records.map(brief);

interface EventRow {
  code: string;
  subscription_id: string | null;
  role: string | null;
  remote_address: string;
  sequence: number | null;
  detail: string;
}

function securityRows(h: ShardCoreHarness, subscriptionId = SUB): EventRow[] {
  return h.rows<EventRow>('SELECT code, subscription_id, role, remote_address, sequence, detail FROM security_events WHERE subscription_id = ? ORDER BY journal_id', subscriptionId);
}

function journaledSequences(h: ShardCoreHarness, subscriptionId = SUB): number[] {
  return h.rows<{ sequence: number }>('SELECT sequence FROM signals WHERE subscription_id = ? ORDER BY sequence', subscriptionId).map((r) => r.sequence);
}

describe('a batch', () => {
  it('is committed once, then its frames leave in order; nothing leaves before', () => {
    const h = open();
    expect(briefs(h.start())).toEqual(['ready 0 0']);
    attachMaster(h);
    h.event(SUB, { kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    for (const sequence of [1, 2, 3]) sendSignal(h, sequence, SUB, 1000 + sequence);
    expect(h.sent).toHaveLength(1);
    expect(journaledSequences(h)).toEqual([]);

    const sent = h.flush();
    expect(briefs(sent)).toEqual([
      '@1 welcome master ACTIVE 0',
      '@20 welcome receiver ACTIVE 0',
      'live @20',
      '@1 ack 1 ACCEPTED',
      'receivers delivery 1',
      '@1 ack 2 ACCEPTED',
      'receivers delivery 2',
      '@1 ack 3 ACCEPTED',
      'receivers delivery 3',
    ]);
    expect(journaledSequences(h)).toEqual([1, 2, 3]);
    expect(h.core.stats).toMatchObject({ journalCommits: 1, journalRows: 3 });
    expect(h.notifies).toBe(2); // the ready record's flush, and this one
    // The ack and delivery of a signal carry its arrival time (latency metrics); nothing else does.
    expect(ShardCoreHarness.frames(sent).map((m) => m.t0)).toEqual([0, 0, 1001, 1001, 1002, 1002, 1003, 1003]);
    expect(h.flush()).toEqual([]);
    expect(h.core.stats.journalCommits).toBe(1);
  });

  it('keeps one cursor row per receiver, the highest it acked in the batch', () => {
    const h = open();
    h.start();
    for (const sequence of [1, 2, 3, 4]) sendSignal(h, sequence);
    h.flush();
    for (const sequence of [1, 3, 2]) h.event(SUB, { kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence });
    h.event(SUB, { kind: 'deliveryAck', connId: 21, receiverId: 'r2', sequence: 4 });
    expect(h.flush()).toEqual([]);
    expect(h.rows('SELECT receiver_id, sequence FROM cursors ORDER BY receiver_id')).toEqual([
      { receiver_id: 'r1', sequence: 3 },
      { receiver_id: 'r2', sequence: 4 },
    ]);
    expect(h.core.stats).toMatchObject({ journalCommits: 2, journalRows: 6 });
  });

  it("journals the I/O thread's security events with the batch, and sends nothing back for them", () => {
    const h = open();
    h.start();
    const ev: SecurityEvent = { atMs: h.nowMs, code: 'SIGNATURE_INVALID', subscriptionId: SUB, role: 'master', remoteAddress: '192.0.2.1', sequence: 9, detail: 'bad mac' };
    h.record({ t: 'security', ev });
    expect(h.flush()).toEqual([]);
    expect(securityRows(h)).toEqual([{ code: 'SIGNATURE_INVALID', subscription_id: SUB, role: 'master', remote_address: '192.0.2.1', sequence: 9, detail: 'bad mac' }]);
  });

  it('ends the loop on a stop record', () => {
    const h = open();
    h.start();
    expect(h.core.stopping).toBe(false);
    h.record({ t: 'stop' });
    expect(h.core.stopping).toBe(true);
  });
});

describe('a failed commit', () => {
  it('sends nothing of the batch but BUSY to each connection it answered, refuses to go on, and a new core recovers what was committed', () => {
    const h = open({ busyTimeoutMs: 0 });
    h.start();
    attachMaster(h);
    h.event(SUB, { kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    sendSignal(h, 1);
    sendSignal(h, 2);
    h.flush();

    // Another connection holds the write lock: the journal's next commit fails (SQLITE_BUSY, no wait).
    const locker = new Database(h.journalPath);
    locker.exec('BEGIN IMMEDIATE');
    try {
      sendSignal(h, 3); // ack + delivery
      h.event(SUB, { kind: 'signal', connId: MASTER, record: signal(2, { volume: 0.3 }) }); // REPLAY, and its security event
      h.report(SUB, 20, report(2, 'r1')); // journal the report, then its ack
      sendSignal(h, 6); // a gap: DEGRADED, a sync request
      h.event(SUB, { kind: 'receiverSubscribe', connId: 21, receiverId: 'r2', lastSequence: 0 }); // welcome, catch-up, live
      h.event(SUB, { kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 2 }); // a cursor
      const from = h.sent.length;
      h.checkDurability = false;
      let failure: unknown;
      try {
        h.core.flush();
      } catch (error) {
        failure = error;
      }
      expect((failure as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(isOutOfSpace(failure)).toBe(false);
      expect(briefs(h.sent.slice(from))).toEqual(['@1 reject 3 BUSY', '@1 reject 2 BUSY', '@20 reject 2 BUSY']);
      const busy = ShardCoreHarness.frames(h.sent.slice(from));
      expect(busy.every((m) => m.outcome === 'BUSY' && m.t0 === 0 && m.decoded.kind === 'reject' && m.decoded.reject.message === 'the journal write failed: resend')).toBe(true);
      // Its actors moved on past the journal: nothing more runs.
      expect(() => sendSignal(h, 4)).toThrow(/journal commit failed/);
      expect(() => h.core.flush()).toThrow(/journal commit failed/);
      expect(() => h.core.tick(h.nowMs)).toThrow(/journal commit failed/);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(journaledSequences(h)).toEqual([1, 2]);
    expect(h.rows('SELECT count(*) AS n FROM execution_reports')).toEqual([{ n: 0 }]);
    expect(h.rows('SELECT count(*) AS n FROM states')).toEqual([{ n: 0 }]);
    expect(securityRows(h)).toEqual([]);
    h.journal.close();

    // The worker's replacement: the journal as last committed, ACTIVE at 2.
    const again = open({ dir: h.dir });
    expect(briefs(again.start())).toEqual(['ready 1 2']);
    attachMaster(again);
    sendSignal(again, 3);
    expect(briefs(again.flush())).toEqual(['@1 welcome master ACTIVE 2', '@1 ack 3 ACCEPTED', 'receivers delivery 3']);
  });

  it('for want of space: the same BUSY answers, and an error the worker reads as out of space; every signal acked before is in the journal', () => {
    const disk = mountTmpfs(2 * 1024 * 1024, 'sigplane-shard-core-full-');
    mounts.push(disk);
    const h = open({ dir: disk.dir });
    h.start();
    attachMaster(h);
    h.flush();
    disk.fill(96 * 1024);
    const acked: number[] = [];
    const content = new Uint8Array(4096).fill(7);
    let sequence = 0;
    let failure: unknown = null;
    while (failure === null && sequence < 10_000) {
      const from = h.sent.length;
      for (let i = 0; i < 4; i++) {
        sequence++;
        h.event(SUB, { kind: 'signal', connId: MASTER, record: { ...inOrder(sequence), content } });
      }
      try {
        h.flush();
      } catch (error) {
        failure = error;
      }
      for (const m of ShardCoreHarness.frames(h.sent.slice(from))) {
        if (m.decoded.kind === 'ack') acked.push(safeInteger(m.decoded.ack.sequenceNumber)!);
      }
      if (failure !== null) {
        // The batch that found no room: four BUSY answers, nothing else.
        expect(briefs(h.sent.slice(from))).toEqual([sequence - 3, sequence - 2, sequence - 1, sequence].map((s) => `@1 reject ${s} BUSY`));
      }
    }
    expect(isOutOfSpace(failure)).toBe(true);
    expect(acked.length).toBeGreaterThan(0);
    expect(acked).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1));
    h.journal.close();

    disk.free();
    const again = open({ dir: disk.dir });
    expect(briefs(again.start())).toEqual([`ready 1 ${acked.length}`]);
    expect(journaledSequences(again)).toEqual(acked);
  });
});

describe("the shard's own refusals", () => {
  it('are journaled before they leave, under the code the client gets, naming the refused connection', () => {
    const h = open();
    h.start();
    attachMaster(h);
    h.event(SUB, { kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    sendSignal(h, 1);
    h.flush();

    h.event(SUB, { kind: 'signal', connId: MASTER, record: signal(1, { volume: 0.2 }) });
    h.event(SUB, { kind: 'signal', connId: MASTER, record: signal(2, { orderType: OrderType.SELL, price: 1.2 }) });
    h.event(SUB, { kind: 'signal', connId: MASTER, record: v2(2, Action.CLOSE, '424242') });
    h.event(SUB, { kind: 'staleSignal', connId: MASTER, record: inOrder(2), message: 'signal is older than 60000 ms' });
    h.report(SUB, 20, report(99, 'r1'), '198.51.100.2');
    const sent = h.flush();
    expect(briefs(sent)).toEqual([
      '@1 reject 1 REPLAY',
      'security REPLAY 1',
      '@1 reject 2 PRICE_DEVIATION',
      'security PRICE_DEVIATION 2',
      '@1 reject 2 POSITION_UNKNOWN',
      'security POSITION_UNKNOWN 2',
      '@1 reject 2 STALE',
      'security STALE 2',
      '@20 reject 99 REPORT_NOT_DELIVERED',
      'security REPORT_NOT_DELIVERED 99',
    ]);
    const rows = securityRows(h);
    expect(rows.map((r) => [r.code, r.role, r.remote_address, r.sequence])).toEqual([
      ['REPLAY', 'master', masterAddress, 1],
      ['PRICE_DEVIATION', 'master', masterAddress, 2],
      ['POSITION_UNKNOWN', 'master', masterAddress, 2],
      ['STALE', 'master', masterAddress, 2],
      ['REPORT_NOT_DELIVERED', 'receiver', '198.51.100.2', 99],
    ]);
    expect(rows.every((r) => r.detail.length > 0)).toBe(true);
    // The frames' codes are the journaled ones (metrics count them by outcome).
    expect(ShardCoreHarness.frames(sent).map((m) => m.outcome)).toEqual(['REPLAY', 'PRICE_DEVIATION', 'POSITION_UNKNOWN', 'STALE', 'REPORT_NOT_DELIVERED']);
  });

  it("name a master that has left (its held signal refused later) by the address it had", () => {
    const h = open();
    h.start();
    attachMaster(h, SUB, 7, '203.0.113.77');
    sendSignal(h, 1);
    h.event(SUB, { kind: 'signal', connId: 7, record: inOrder(3) }); // held
    h.event(SUB, { kind: 'masterDetach', connId: 7 });
    h.flush();
    // A snapshot at 3 supersedes the held 3: REPLAY to the connection that sent it.
    attachMaster(h, SUB, 8, '203.0.113.88');
    h.event(SUB, { kind: 'masterSnapshot', connId: 8, snapshot: { subscriptionId: SUB, sequence: 3, generatedAtMs: h.nowMs, positions: [] } });
    expect(briefs(h.flush())).toContain('@7 reject 3 REPLAY');
    expect(securityRows(h).map((r) => [r.code, r.remote_address, r.sequence])).toEqual([['REPLAY', '203.0.113.77', 3]]);
  });

  it('in a storm: one by one up to the budget, the rest counted and summarized once per interval; every refusal accounted for', () => {
    const budget = { ratePerSecond: 0.001, burst: 8 };
    const h = open({ refusalBudget: budget });
    h.start();
    attachMaster(h);
    sendSignal(h, 1);
    h.flush();
    h.core.tick(h.nowMs); // the first summary point: nothing to say
    expect(h.flush()).toEqual([]);

    const storm = 300;
    let answered = 0;
    for (let sent = 0; sent < storm; sent += 50) {
      for (let i = 0; i < 50; i++) h.event(SUB, { kind: 'signal', connId: MASTER, record: signal(1, { volume: 0.3 }) });
      answered += ShardCoreHarness.frames(h.flush()).filter((m) => m.outcome === 'REPLAY').length;
      h.core.tick(h.nowMs); // no summary before the interval
    }
    expect(answered).toBe(storm);
    expect(securityRows(h)).toHaveLength(budget.burst);

    h.nowMs += securityEventLimits.summaryIntervalMs;
    h.core.tick(h.nowMs);
    const summaries = h.flush();
    expect(briefs(summaries)).toEqual(['security REPLAY null']);

    const summary = /^(\d+) more (\w+) refusal\(s\)/;
    const rows = securityRows(h);
    const oneByOne = rows.filter((r) => !summary.test(r.detail));
    const summarized = rows.filter((r) => summary.test(r.detail));
    expect(oneByOne).toHaveLength(budget.burst);
    expect(summarized.reduce((n, r) => n + Number(summary.exec(r.detail)![1]), 0)).toBe(storm - budget.burst);
    for (const row of rows) expect(row).toMatchObject({ code: 'REPLAY', subscription_id: SUB, role: 'master', remote_address: masterAddress });
    expect(summarized.every((r) => r.sequence === null)).toBe(true);
    // Nothing more to summarize at the next interval.
    h.nowMs += securityEventLimits.summaryIntervalMs;
    h.core.tick(h.nowMs);
    expect(h.flush()).toEqual([]);
  });
});

describe('timers', () => {
  it('ask again for a gap every syncRetryMs, then escalate it to a full sync, each state journaled before it is told', () => {
    const h = open();
    h.start();
    attachMaster(h);
    sendSignal(h, 1);
    sendSignal(h, 3);
    expect(briefs(h.flush())).toEqual([
      '@1 welcome master ACTIVE 0',
      '@1 ack 1 ACCEPTED',
      'receivers delivery 1',
      'all state DEGRADED 1',
      'state-record DEGRADED 1',
      'masters sync 2-2',
    ]);
    expect(h.core.waitMs(h.nowMs, 50)).toBe(50);
    expect(h.core.waitMs(h.nowMs + 1_990, 50)).toBe(10);

    h.nowMs += 1_999;
    h.core.tick(h.nowMs);
    expect(h.flush()).toEqual([]);
    h.nowMs += 1;
    expect(h.core.waitMs(h.nowMs, 50)).toBe(0);
    h.core.tick(h.nowMs);
    expect(briefs(h.flush())).toEqual(['masters sync 2-2']);

    h.nowMs += 8_000; // 10 s since the gap opened
    h.core.tick(h.nowMs);
    expect(briefs(h.flush())).toEqual(['all state SYNCING 1', 'state-record SYNCING 1', 'masters sync 2-3 full']);
    expect(h.rows('SELECT state, sequence FROM states ORDER BY journal_id')).toEqual([
      { state: 'DEGRADED', sequence: 1 },
      { state: 'SYNCING', sequence: 1 },
    ]);
  });
});

describe('execution reports', () => {
  it('are journaled, then acked with what was reported; beyond what was delivered, or where no actor is, REPORT_NOT_DELIVERED', () => {
    const h = open();
    h.start();
    sendSignal(h, 1);
    sendSignal(h, 2);
    h.event(SUB, { kind: 'receiverSubscribe', connId: 20, receiverId: 'r1', lastSequence: 0 });
    h.flush();

    h.report(SUB, 20, report(2, 'r1', { delayMs: 12, slippagePips: null }));
    const sent = h.flush();
    expect(briefs(sent)).toEqual(['@20 reportAck 2 11']);
    const ack = ShardCoreHarness.frames(sent)[0]!;
    expect(ack.report).toEqual({ kind: 'skip', outcome: 'skipped', delayMs: 12, slippagePips: null });
    expect(ack.decoded.kind === 'executionReportAck' && ack.decoded.executionReportAck.kind).toBe(6);
    expect(h.rows('SELECT receiver_id, sequence, master_position_id, kind, delay_ms FROM execution_reports')).toEqual([
      { receiver_id: 'r1', sequence: 2, master_position_id: '11', kind: 'skip', delay_ms: 12 },
    ]);

    h.report(SUB, 20, report(3, 'r1'));
    h.report(OTHER, 30, report(1, 'r9', { subscriptionId: OTHER }), '198.51.100.30');
    expect(briefs(h.flush())).toEqual(['@20 reject 3 REPORT_NOT_DELIVERED', 'security REPORT_NOT_DELIVERED 3', '@30 reject 1 REPORT_NOT_DELIVERED', 'security REPORT_NOT_DELIVERED 1']);
    // A report makes no actor.
    expect(h.core.subscriptions).toBe(1);
    expect(securityRows(h, OTHER)).toMatchObject([{ role: 'receiver', remote_address: '198.51.100.30', sequence: 1 }]);
  });
});

describe('recovery', () => {
  it('rebuilds the actors from the journal: ready with the counts, each state that is not ACTIVE, and the timer of an open gap', () => {
    const first = open();
    first.start();
    attachMaster(first);
    for (const sequence of [1, 2, 3]) sendSignal(first, sequence);
    sendSignal(first, 5); // DEGRADED
    for (const sequence of [1, 2]) sendSignal(first, sequence, OTHER);
    first.event(OTHER, { kind: 'isolate', reason: 'operator' });
    first.flush();
    first.journal.close();

    const h = open({ dir: first.dir });
    h.nowMs = first.nowMs + 60_000;
    const sent = h.start();
    expect(briefs(sent).sort()).toEqual(['ready 2 5', `state-record DEGRADED 3`, `state-record ISOLATED 2`].sort());
    // The gap is still open: the recovered actor asks at once (no held signal survived: for 4 alone).
    expect(h.core.waitMs(h.nowMs, 50)).toBe(0);
    h.core.tick(h.nowMs);
    expect(briefs(h.flush())).toEqual(['masters sync 4-4']);
  });
});

describe('the window budget', () => {
  it("holds the shard's windows to it, and receivers of an emptied subscription still get every signal once, in order, from the journal", () => {
    const h = open({ windowRecordsMax: 3_000 });
    h.start();
    for (const sub of [SUB, OTHER]) {
      for (let sequence = 1; sequence <= 2_000; sequence++) {
        sendSignal(h, sequence, sub);
        if (sequence % 500 === 0) h.flush();
      }
    }
    // SUB's window (touched least recently) was emptied when OTHER's passed 1,000: OTHER's 2,000 are what is held.
    expect(h.core.windowRecords).toBe(2_000);
    for (const [connId, sub] of [[20, SUB], [21, OTHER]] as const) {
      h.event(sub, { kind: 'receiverSubscribe', connId, receiverId: 'r1', lastSequence: 1_500 });
      const deliveries = ShardCoreHarness.frames(h.flush()).filter((m) => m.decoded.kind === 'delivery');
      expect(deliveries.map((m) => `${audience(m)} ${m.seq}`)).toEqual(Array.from({ length: 500 }, (_, i) => `@${connId} ${1_501 + i}`));
    }
  });
});
