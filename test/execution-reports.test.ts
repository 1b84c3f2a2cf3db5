/**
 * Execution reports end to end (issue 7): real sockets, the real shard
 * workers and journal, the real shipper thread and a real Postgres.
 *
 * - a receiver copying with the Copier onto a PaperBroker reports every
 *   execution; the server journals and acks each; the shipper moves them to
 *   execution_reports, where each key is one row even when the same
 *   reports are resent (on a new session, and queued before its welcome);
 * - bad reports are refused with stable codes and nothing of them lands;
 * - the admin API's statistics return the percentiles Postgres defines
 *   (percentile_cont) for constructed rows, per subscription and per
 *   license, within the time range asked;
 * - /metrics counts reports by kind and outcome and has the histograms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { Copier, MasterClient, PaperBroker, ReceiverClient, type ExecutionReportInput } from '@sigplane/client';
import { AdminServer } from '../io/admin/admin-server';
import { AdminStore, type CreatedAdminUser } from '../persistence/pg/admin-store';
import { createPool } from '../persistence/pg/pool';
import { startShipper, type Shipper } from '../persistence/shipper/shipper';
import { encodeFrame, rejectCodeName, safeInteger, executionReportObject } from '@sigplane/protocol';
import { sleep } from './support/e2e';
import { subscribeFrame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import { WireClient } from './support/wire-client';
import { TcpProxy } from './support/tcp-proxy';
import { skipReport } from './support/reports';
import { freeLocalPort } from '../persistence/pg/free-port';

const fast = { minMs: 20, maxMs: 200 };

let t: TestServer;
let sub: TestSubscription;
let pool: Pool;
let shipper: Shipper;
let tempDir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1, receiverSettings: true });
  sub = await t.subscription();
  pool = createPool(t.databaseUrl, { max: 4 });
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-reports-'));
  shipper = startShipper({
    databaseUrl: t.databaseUrl,
    dataDir: t.dataDir,
    shardCount: 1,
    nodeId: 'reports-test',
    limits: { shipIntervalMs: 20, shipRetryInitialMs: 50, shipRetryMaxMs: 400, shipReconnectMaxMs: 400, shipStatusIntervalMs: 30 },
  });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await shipper?.stop();
  await pool?.end();
  await t?.close();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function rowsOf(receiverId: string): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(
    `SELECT sequence::int, master_position_id, kind, outcome, ticket, requested_volume, volume, price, slippage_pips,
            delay_ms::int, profit, currency, reason
       FROM execution_reports WHERE receiver_id = $1 ORDER BY sequence, master_position_id, kind`,
    [receiverId],
  );
  return rows;
}

/** Everything journaled so far is in Postgres: the execution_reports watermark reached the journal's highest id. */
async function shipped(): Promise<void> {
  await waitUntil('the shipper to catch up', () => {
    const s = shipper.status();
    const table = s.shards[0]?.tables.execution_reports;
    return table !== undefined && s.postgresUp && table.lagRows === 0 && table.watermark > 0;
  });
}

/** A v2 master of `subscription`, closed after the file. */
async function masterOf(subscription: TestSubscription): Promise<MasterClient> {
  const master = new MasterClient();
  closers.push(() => master.close());
  await master.connect(t.masterUrl, subscription.masterToken, { signing: { version: 2, keyId: subscription.macKeyId, key: subscription.macKey }, reconnect: fast });
  return master;
}

/** A paper account trading EURUSD at 1.1, fills in the middle of the slippage range. */
function eurusdAccount(): PaperBroker {
  const broker = new PaperBroker({
    symbols: [{ symbol: 'EURUSD', digits: 5, volumeMin: 0.01, volumeMax: 50, volumeStep: 0.01, tickSize: 0.00001, tickValue: 1, spreadPoints: 10 }],
    balance: 10_000,
    random: () => 0.5,
    slippagePointsMax: 2,
  });
  broker.setMid('EURUSD', 1.1);
  return broker;
}

describe('execution reports from the copier', () => {
  const reports: ExecutionReportInput[] = [];

  it('journals, acks and ships every execution once, even when resent', async () => {
    const master = await masterOf(sub);

    const broker = eurusdAccount();
    const copier = Copier.open({ broker, mapFile: path.join(tempDir, 'copier.json') });
    copier.on('report', (r: ExecutionReportInput) => reports.push(r));
    const receiver = new ReceiverClient();
    receiver.on('error', () => undefined);
    copier.reportTo(receiver);
    closers.push(() => receiver.close());
    await receiver.connect(t.receiverUrl, sub.receiverToken, { ...copier.receiverOptions(), reconnect: fast });

    // Each price move waits until the receiver executed what came before it.
    await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.1, action: 1, positionId: 11 });
    const skipped = await master.publish({ symbol: 'GBPUSD', orderType: 0, volume: 1, price: 1.3, action: 1, positionId: 12 }); // not at this broker
    await receiver.waitFor(skipped.sequence, 10_000);
    broker.setMid('EURUSD', 1.102);
    const reduced = await master.publish({ symbol: 'EURUSD', orderType: 1, volume: 0.4, price: 1.102, action: 4, positionId: 11 });
    await receiver.waitFor(reduced.sequence, 10_000);
    broker.setMid('EURUSD', 1.099);
    const last = await master.publish({ symbol: 'EURUSD', orderType: 1, volume: 0.6, price: 1.099, action: 3, positionId: 11 });
    await receiver.waitFor(last.sequence, 10_000);
    await waitUntil('every report acked', () => receiver.unackedReportCount === 0 && reports.length >= 4);

    expect(reports.map((r) => `${r.sequence}:${r.masterPositionId}:${r.kind}:${r.outcome}`)).toEqual([
      '1:11:open:filled',
      '2:12:skip:skipped',
      '3:11:reduce:filled',
      '4:11:close:filled',
    ]);
    await shipped();
    let rows = await rowsOf(sub.receiverTokenId);
    expect(rows).toHaveLength(4);

    // Resent, by a new session of the same license: queued before its welcome, then sent again after it.
    const again = new ReceiverClient();
    again.on('error', () => undefined);
    closers.push(() => again.close());
    for (const r of reports) again.sendExecutionReport(r);
    expect(again.unackedReportCount).toBe(4);
    await again.connect(t.receiverUrl, sub.receiverToken, { lastSequence: last.sequence, onSignal: () => undefined, onSnapshot: () => undefined, reconnect: false });
    await waitUntil('the resent reports acked', () => again.unackedReportCount === 0);
    expect(again.counters.reportsAcked).toBe(4);
    // ... and once more on the same session.
    for (const r of reports) again.sendExecutionReport(r);
    await waitUntil('the second resend acked', () => again.unackedReportCount === 0);
    await shipped();
    await sleep(200);
    rows = await rowsOf(sub.receiverTokenId);
    expect(rows).toHaveLength(4);

    const [open, skip, reduce, close] = rows;
    expect(open).toMatchObject({ sequence: 1, master_position_id: '11', kind: 'open', outcome: 'filled', requested_volume: 1, volume: 1, profit: null, reason: null });
    expect(open.price).toBeGreaterThan(1.09);
    expect(typeof open.slippage_pips).toBe('number');
    expect(open.delay_ms).toBeGreaterThanOrEqual(0);
    expect(skip).toMatchObject({ sequence: 2, master_position_id: '12', kind: 'skip', outcome: 'skipped', reason: 'SYMBOL_UNKNOWN', ticket: null, volume: 0, price: null });
    expect(reduce).toMatchObject({ sequence: 3, kind: 'reduce', outcome: 'filled', volume: 0.4, currency: 'USD' });
    expect(close).toMatchObject({ sequence: 4, kind: 'close', outcome: 'filled', volume: 0.6, currency: 'USD' });
    // Bought about 1.1, sold at about 1.102 and 1.099 (spread and slippage aside): a gain on the reduce, a loss on the close.
    expect(reduce.profit as number).toBeGreaterThan(0);
    expect(close.profit as number).toBeLessThan(0);
    // The journal forgot nothing it had not shipped, and the metric saw the reports.
    const metrics = await (await fetch(`http://127.0.0.1:${t.server.port}/metrics`)).text();
    expect(metrics).toMatch(/sigplane_execution_reports_total\{kind="open",outcome="filled"\} \d+/);
    expect(metrics).toMatch(/sigplane_execution_reports_total\{kind="skip",outcome="skipped"\} \d+/);
    expect(metrics).toMatch(/sigplane_copy_delay_seconds_count [1-9]/);
    expect(metrics).toMatch(/sigplane_copy_slippage_pips_count [1-9]/);
  });

  it('refuses bad reports with stable codes and changes nothing', async () => {
    const other = await t.receiverToken(sub.subscriptionId);
    const ws = await WireClient.open(t.receiverUrl, other.token);
    closers.push(() => ws.close());
    const good = skipReport(1, '11', { delayMs: 12 });
    const frameOf = (fields: Record<string, unknown>): Uint8Array => encodeFrame({ executionReport: { ...executionReportObject(good), ...fields } });
    const answer = async (frame: Uint8Array): Promise<string> => {
      const from = ws.frames.length;
      ws.send(frame);
      const f = await ws.waitFor((x) => x.kind === 'reject' || x.kind === 'executionReportAck', 10_000, from);
      return f.kind === 'reject' ? rejectCodeName(f.reject.code) : 'ACK';
    };

    expect(await answer(frameOf({}))).toBe('UNSUPPORTED'); // before subscribe
    ws.send(subscribeFrame(4));
    await ws.waitFor((f) => f.kind === 'welcome');

    // Every rule of checkExecutionReport, field by field: test/execution-report-check.test.ts. Here one of each
    // kind through the server (a wire enum, a double, an int64, the shard's own bound), refused and changing nothing.
    const cases: [string, Record<string, unknown>, string][] = [
      ['kind unknown', { kind: 0 }, 'REPORT_INVALID'],
      ['NaN volume', { kind: 1, outcome: 1, reason: '', ticket: 't1', volume: Number.NaN }, 'REPORT_INVALID'],
      ['sequence beyond 2^53-1', { sequenceNumber: '18446744073709551615' }, 'SEQUENCE_OUT_OF_RANGE'],
      ['a sequence never delivered', { sequenceNumber: 99 }, 'REPORT_NOT_DELIVERED'],
    ];
    for (const [name, fields, code] of cases) {
      expect(`${name}: ${await answer(frameOf(fields))}`).toBe(`${name}: ${code}`);
    }
    expect(await answer(frameOf({}))).toBe('ACK');
    // A receiver clock an hour ahead: the execution still happened, recorded at the server's time rather than lost.
    const sentAt = Date.now();
    expect(await answer(frameOf({ masterPositionId: '12', executedAt: sentAt + 3_600_000 }))).toBe('ACK');
    await waitUntil('both rows in Postgres', async () => (await rowsOf(other.tokenId)).length >= 2);
    await shipped();
    await sleep(200);
    const rows = await rowsOf(other.tokenId);
    expect(rows).toEqual([
      expect.objectContaining({ sequence: 1, master_position_id: '11', kind: 'skip', reason: 'SYMBOL_BLOCKED', delay_ms: 12 }),
      expect.objectContaining({ sequence: 1, master_position_id: '12', kind: 'skip' }),
    ]);
    const { rows: times } = await pool.query<{ executed_ms: string; received_ms: string }>(
      `SELECT (extract(epoch FROM executed_at) * 1000)::bigint AS executed_ms, (extract(epoch FROM received_at) * 1000)::bigint AS received_ms
         FROM execution_reports WHERE receiver_id = $1 AND master_position_id = '12'`,
      [other.tokenId],
    );
    expect(Number(times[0].executed_ms)).toBe(Number(times[0].received_ms));
    expect(Math.abs(Number(times[0].executed_ms) - sentAt)).toBeLessThan(60_000);
    const ack = ws.ofKind('executionReportAck').at(-1)!;
    expect(safeInteger(ack.executionReportAck.sequenceNumber)).toBe(1);
  });

  it('a report made while the network was down, by the handler the cut interrupted, is sent after the reconnect and lands once', async () => {
    // The handler of #2 is still running when the network cuts the socket (a real TCP cut, both sides);
    // it reports while no socket is open. The report waits in the client and goes after the next welcome.
    const fresh = await t.subscription();
    const proxy = new TcpProxy(await freeLocalPort(), { host: '127.0.0.1', port: t.server.port });
    await proxy.listen();
    closers.push(() => proxy.close());
    const master = await masterOf(fresh);

    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const receiver = new ReceiverClient();
    const refused: string[] = [];
    receiver.on('error', (e: { code: string }) => refused.push(e.code));
    closers.push(() => receiver.close());
    const disconnected = new Promise<void>((resolve) => receiver.once('close', () => resolve()));
    const report = (sequence: number): ExecutionReportInput => skipReport(sequence, String(sequence), { delayMs: 3 });
    await receiver.connect(`ws://127.0.0.1:${proxy.port}/v1/receiver`, fresh.receiverToken, {
      lastSequence: 0,
      reconnect: { minMs: 300, maxMs: 300 },
      onSnapshot: () => undefined,
      onSignal: async (d) => {
        if (d.sequenceNumber === 2) {
          entered();
          await gate;
        }
        receiver.sendExecutionReport(report(d.sequenceNumber));
      },
    });
    await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.1, action: 1, positionId: 1 });
    await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.1, action: 1, positionId: 2 });
    await handlerEntered;
    await waitUntil('the report of #1 acked', () => receiver.counters.reportsAcked === 1);
    proxy.cut();
    await disconnected;
    release(); // #2 finishes and reports while no socket is open
    await receiver.waitFor(2, 10_000);
    await waitUntil('the report of #2 acked', () => receiver.unackedReportCount === 0);
    expect(refused).not.toContain('REPORT_NOT_DELIVERED');
    expect(receiver.counters).toMatchObject({ reportsAcked: 2, reportsRefused: 0, reportsDropped: 0 });
    expect(receiver.counters.sessions).toBeGreaterThanOrEqual(2);
    await waitUntil('both reports in Postgres', async () => (await rowsOf(fresh.receiverTokenId)).length >= 2);
    await shipped();
    await sleep(200);
    const rows = await rowsOf(fresh.receiverTokenId);
    expect(rows.map((r) => `${r.sequence}:${r.kind}`)).toEqual(['1:skip', '2:skip']);
  });

  it('reports a receiver process never got acked are in its position map file, and the next copier on that file sends them once', async () => {
    const fresh = await t.subscription();
    const master = await masterOf(fresh);
    const broker = eurusdAccount();
    const mapFile = path.join(tempDir, 'dies-before-acks.json');

    // Process A executes two signals, but its reports go nowhere (their connection never came up) before it dies.
    const copierA = Copier.open({ broker, mapFile });
    const made: ExecutionReportInput[] = [];
    copierA.on('report', (r: ExecutionReportInput) => made.push(r));
    const unsent = new ReceiverClient();
    copierA.reportTo(unsent);
    const receiverA = new ReceiverClient();
    receiverA.on('error', () => undefined);
    closers.push(() => receiverA.close());
    await receiverA.connect(t.receiverUrl, fresh.receiverToken, { ...copierA.receiverOptions(), reconnect: fast });
    await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.1, action: 1, positionId: 31 });
    const second = await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 2, price: 1.1, action: 1, positionId: 32 });
    await receiverA.waitFor(second.sequence, 10_000);
    await receiverA.close();
    expect(made.map((r) => `${r.sequence}:${r.masterPositionId}:${r.kind}`)).toEqual(['1:31:open', '2:32:open']);
    expect(unsent.unackedReportCount).toBe(2); // in that process's memory, gone with it
    const onDisk = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { lastSequence: number; reports: ExecutionReportInput[] };
    expect(onDisk.lastSequence).toBe(2);
    expect(onDisk.reports).toEqual(made);

    // A damaged report of the same sequence in the file (a position id the server refuses): the client refuses it with the
    // server's own checks and never sends it, so the server's refusal (naming only the sequence) cannot take the others along.
    const damaged = { ...made[0], masterPositionId: 'not an id' };
    fs.writeFileSync(mapFile, JSON.stringify({ ...onDisk, reports: [...onDisk.reports, damaged] }));

    // Process B: a copier on the same file sends them; the server journals and acks them.
    const copierB = Copier.open({ broker, mapFile });
    const receiverB = new ReceiverClient();
    const refusedLocally: string[] = [];
    receiverB.on('error', (e: { code: string }) => refusedLocally.push(e.code));
    closers.push(() => receiverB.close());
    copierB.reportTo(receiverB);
    expect(receiverB.unackedReportCount).toBe(2);
    expect(refusedLocally).toEqual(['REPORT_INVALID']);
    await receiverB.connect(t.receiverUrl, fresh.receiverToken, { ...copierB.receiverOptions(), reconnect: fast });
    await waitUntil('the resent reports acked', () => receiverB.unackedReportCount === 0);
    expect(receiverB.counters).toMatchObject({ reportsAcked: 2, reportsRefused: 1 });
    await waitUntil('both rows in Postgres', async () => (await rowsOf(fresh.receiverTokenId)).length >= 2);

    // Acked reports leave the file with the next delivery's write; B's own report is acked too.
    const third = await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 2, price: 1.1, action: 3, positionId: 32 });
    await receiverB.waitFor(third.sequence, 10_000);
    await waitUntil('the close report acked', () => receiverB.unackedReportCount === 0 && receiverB.counters.reportsAcked === 3);
    const rewritten = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { reports: ExecutionReportInput[] };
    expect(rewritten.reports.map((r) => `${r.sequence}:${r.kind}`)).not.toContain('1:open');
    expect(rewritten.reports.map((r) => r.masterPositionId)).not.toContain('not an id');
    await waitUntil('three rows in Postgres', async () => (await rowsOf(fresh.receiverTokenId)).length >= 3);
    await shipped();
    await sleep(200);
    const rows = await rowsOf(fresh.receiverTokenId);
    expect(rows.map((r) => `${r.sequence}:${r.master_position_id}:${r.kind}`)).toEqual(['1:31:open', '2:32:open', '3:32:close']);
    expect(rows[0]).toMatchObject({ ticket: made[0].ticket, volume: made[0].volume, price: made[0].price });
  });
});

describe('execution statistics through the admin API', () => {
  let adminServer: AdminServer;
  let root: CreatedAdminUser;
  let auditor: CreatedAdminUser;
  let base: string;

  beforeAll(async () => {
    const adminStore = new AdminStore(pool, t.store);
    adminServer = new AdminServer({ host: '127.0.0.1', port: 0, store: t.store, adminStore });
    await adminServer.start();
    base = `http://127.0.0.1:${adminServer.port}`;
    root = await adminStore.createAdminUser({ email: 'reports-root@ops.example', role: 'admin' });
    auditor = await adminStore.createAdminUser({ email: 'reports-auditor@ops.example', role: 'auditor' });
  });
  afterAll(() => adminServer?.stop());

  async function get(p: string, token = auditor.token): Promise<{ status: number; json: any }> {
    const response = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'sigplane-reports-test/1' } });
    return { status: response.status, json: await response.json() };
  }

  /** percentile_cont as Postgres defines it. */
  function percentileCont(sorted: number[], q: number): number {
    const rank = q * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
  }

  it('returns the percentiles, outcome counts and skip reasons of the range asked', async () => {
    const s = await t.subscription();
    const second = await t.receiverToken(s.subscriptionId);
    const at = Date.parse('2026-03-10T12:00:00Z');
    const values: unknown[] = [];
    const rows: string[] = [];
    const add = (receiver: string, seq: number, pos: string, kind: string, outcome: string, delay: number | null, slip: number | null, reason: string | null, atMs: number) => {
      const n = values.length;
      rows.push(`($${n + 1}::uuid, $${n + 2}::uuid, $${n + 3}::bigint, $${n + 4}, $${n + 5}, $${n + 6}, 1, 1, $${n + 7}::bigint, $${n + 8}::float8, $${n + 9}, to_timestamp($${n + 10}::float8 / 1000))`);
      values.push(s.subscriptionId, receiver, seq, pos, kind, outcome, delay, slip, reason, atMs);
    };
    const delaysA: number[] = [];
    const slipsA: number[] = [];
    for (let i = 1; i <= 60; i++) {
      const delay = (i * 37) % 101; // a scrambled order: the stats must sort
      const slip = ((i * 13) % 29) / 10 - 1;
      delaysA.push(delay);
      slipsA.push(slip);
      add(s.receiverTokenId, i, String(i), 'open', i % 10 === 0 ? 'partially_filled' : 'filled', delay, slip, null, at + i * 1000);
    }
    const delaysB: number[] = [];
    for (let i = 1; i <= 40; i++) {
      delaysB.push(1000 + i * 10);
      add(second.tokenId, i, String(i), 'open', 'filled', 1000 + i * 10, 0.5, null, at + i * 1000);
    }
    for (let i = 1; i <= 4; i++) add(s.receiverTokenId, 100 + i, 's', 'skip', 'skipped', null, null, 'SYMBOL_BLOCKED', at + i);
    for (let i = 1; i <= 3; i++) add(second.tokenId, 100 + i, 's', 'skip', 'rejected', null, null, 'BROKER_REJECTED:REQUOTE', at + i);
    // Outside the range asked: never counted.
    add(s.receiverTokenId, 500, 'x', 'open', 'filled', 999_999, 99, null, at - 86_400_000);
    await pool.query(
      `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, outcome, requested_volume, volume,
         delay_ms, slippage_pips, reason, executed_at) VALUES ${rows.join(', ')}`,
      values,
    );

    const range = 'from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z';
    const all = await get(`/admin/v1/subscriptions/${s.subscriptionId}/execution-stats?${range}`);
    expect(all.status).toBe(200);
    const allDelays = [...delaysA, ...delaysB].sort((a, b) => a - b);
    const allSlips = [...slipsA, ...Array(40).fill(0.5)].sort((a, b) => a - b);
    expect(all.json.reports).toBe(107);
    expect(all.json.delayMs.count).toBe(100);
    for (const q of [0.5, 0.9, 0.99] as const) {
      const key = `p${Math.round(q * 100)}` as 'p50' | 'p90' | 'p99';
      expect(all.json.delayMs[key]).toBeCloseTo(percentileCont(allDelays, q), 9);
      expect(all.json.slippagePips[key]).toBeCloseTo(percentileCont(allSlips, q), 9);
    }
    expect(all.json.delayMs.min).toBe(allDelays[0]);
    expect(all.json.delayMs.max).toBe(allDelays.at(-1));
    expect(all.json.byOutcome).toEqual({ filled: 94, partially_filled: 6, skipped: 4, rejected: 3 });
    expect(all.json.byKind).toEqual({ open: 100, skip: 7 });
    expect(all.json.skipReasons).toEqual([
      { reason: 'SYMBOL_BLOCKED', outcome: 'skipped', count: 4 },
      { reason: 'BROKER_REJECTED:REQUOTE', outcome: 'rejected', count: 3 },
    ]);

    const one = await get(`/admin/v1/tokens/${second.tokenId}/execution-stats?${range}`);
    expect(one.status).toBe(200);
    const sortedB = [...delaysB].sort((a, b) => a - b);
    expect(one.json.delayMs.p50).toBeCloseTo(percentileCont(sortedB, 0.5), 9);
    expect(one.json.delayMs.p90).toBeCloseTo(percentileCont(sortedB, 0.9), 9);
    expect(one.json.delayMs.p99).toBeCloseTo(percentileCont(sortedB, 0.99), 9);
    expect(one.json.slippagePips.p50).toBe(0.5);
    expect(one.json.byOutcome).toEqual({ filled: 40, rejected: 3 });

    const empty = await get(`/admin/v1/tokens/${second.tokenId}/execution-stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`);
    expect(empty.json).toMatchObject({ reports: 0, delayMs: { count: 0, p50: null }, byOutcome: {}, skipReasons: [] });

    expect((await get(`/admin/v1/subscriptions/${s.subscriptionId}/execution-stats?from=2026-03-11T00:00:00Z&to=2026-03-10T00:00:00Z`)).status).toBe(400);
    expect((await get(`/admin/v1/subscriptions/${s.subscriptionId}/execution-stats?from=2020-01-01T00:00:00Z&to=2026-03-10T00:00:00Z`)).status).toBe(400);
    expect((await get(`/admin/v1/subscriptions/${s.subscriptionId}/execution-stats?bogus=1`)).status).toBe(400);
    expect((await get(`/admin/v1/subscriptions/not-a-uuid/execution-stats`)).status).toBe(400);
    expect((await get(`/admin/v1/subscriptions/00000000-0000-4000-8000-000000000000/execution-stats`)).status).toBe(404);
    expect((await get(`/admin/v1/subscriptions/${s.subscriptionId}/execution-stats`, root.token)).status).toBe(200);
  });
});
