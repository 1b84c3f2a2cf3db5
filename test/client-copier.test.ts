/**
 * The copier (client/copier.ts) on the paper broker, fed deliveries and
 * snapshots directly: exactly once through redeliveries, restarts from the
 * position map file and crashes between a broker fill and the map write;
 * snapshot reconciliation (close what the master no longer holds, open what
 * is missing, adjust volumes, close orphans); v1 netting; requotes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  Copier,
  PaperBroker,
  SimulatedCrash,
  type CopyExecution,
  type ExecutionReportInput,
  type ReceivedDelivery,
  type ReceivedSnapshot,
  type SignalFields,
} from '@sigplane/client';
import { resolveCopySettings, type CopySettings, type Position } from '@sigplane/protocol';
import { Prng } from './support/prng';

const subscriptionId = '0b5e6c1a-1111-4222-8333-444455556666';
const keyPrefix = 'sp:0b5e6c:';
const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-copier-'));
let mapFile: string;
let broker: PaperBroker;
let fileCounter = 0;

afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }));

function newBroker(requoteProbability = 0): PaperBroker {
  const prng = new Prng(7);
  const b = new PaperBroker({
    symbols: [
      { symbol: 'EURUSD.m', digits: 5, volumeMin: 0.01, volumeMax: 50, volumeStep: 0.01, tickSize: 0.00001, tickValue: 1, spreadPoints: 10 },
      { symbol: 'GOLD', digits: 2, volumeMin: 0.1, volumeMax: 20, volumeStep: 0.1, tickSize: 0.01, tickValue: 1, spreadPoints: 30 },
    ],
    balance: 10_000,
    random: () => prng.next(),
    requoteProbability,
    slippagePointsMax: 2,
  });
  b.setMid('EURUSD.m', 1.1);
  b.setMid('GOLD', 2400);
  return b;
}

beforeEach(() => {
  mapFile = path.join(tempDir, `map-${++fileCounter}.json`);
  broker = newBroker();
});

function copier(settings: Partial<CopySettings> = {}, b: PaperBroker = broker): Copier {
  const c = Copier.open({ broker: b, mapFile });
  c.onSettings({ subscriptionId, revision: 1, settings: resolveCopySettings({ symbolSuffix: '.m', symbolMap: { XAUUSD: 'GOLD' }, ...settings }) });
  return c;
}

function delivery(sequence: number, fields: Partial<SignalFields>): ReceivedDelivery {
  return {
    subscriptionId,
    sequenceNumber: sequence,
    signingVersion: 2,
    acceptedAt: Date.now(),
    signal: {
      subscriptionId,
      sequence,
      generatedAt: Date.now(),
      symbol: 'EURUSD',
      orderType: 0,
      volume: 0.5,
      price: 1.1,
      action: 1,
      positionId: '1',
      stopLoss: 1.09,
      takeProfit: 1.12,
      magic: '0',
      ...fields,
    },
  };
}

function position(id: string, fields: Partial<Position> = {}): Position {
  return { positionId: id, symbol: 'EURUSD', orderType: 0, volume: 0.5, openPrice: 1.1, stopLoss: 1.09, takeProfit: 1.12, magic: '', openedSequence: 1, ...fields };
}

function snapshot(sequence: number, positions: Position[]): ReceivedSnapshot {
  return { subscriptionId, sequenceNumber: sequence, positions };
}

function opensOf(comment: string): number {
  return broker.executions.filter((e) => e.kind === 'open' && e.comment === comment).length;
}

function held(): Map<string, { symbol: string; orderType: number; volume: number; stopLoss: number; takeProfit: number }> {
  return new Map(broker.snapshotPositions().map((p) => [p.comment, p]));
}

describe('exactly once', () => {
  it('opens once per master position through redeliveries and restarts', async () => {
    const c = copier({ lotMode: 'MULTIPLIER', lotValue: 2 });
    await c.onDelivery(delivery(1, { positionId: '11' }));
    await c.onDelivery(delivery(1, { positionId: '11' }));
    await copier({ lotMode: 'MULTIPLIER', lotValue: 2 }).onDelivery(delivery(1, { positionId: '11' }));
    // A later OPEN of the same master ticket (a replayed signal under a new sequence) is not a second position.
    await copier({ lotMode: 'MULTIPLIER', lotValue: 2 }).onDelivery(delivery(2, { positionId: '11' }));
    expect(opensOf(`${keyPrefix}11`)).toBe(1);
    expect(held().get(`${keyPrefix}11`)).toMatchObject({ symbol: 'EURUSD.m', orderType: 0, volume: 1, stopLoss: 1.09, takeProfit: 1.12 });
    expect(copier().lastSequence).toBe(2);
  });

  it('adopts a fill that crashed before the map write instead of opening again', async () => {
    broker.crashAfterNextFill = true;
    await expect(copier().onDelivery(delivery(1, { positionId: '21' }))).rejects.toBeInstanceOf(SimulatedCrash);
    const restarted = copier();
    expect(restarted.lastSequence).toBeNull();
    const kinds: string[] = [];
    restarted.on('execution', (e: { kind: string }) => kinds.push(e.kind));
    await restarted.onDelivery(delivery(1, { positionId: '21' }));
    expect(kinds).toEqual(['adopt']);
    expect(opensOf(`${keyPrefix}21`)).toBe(1);

    // The same for a partial close: the redelivery finds the copy at its target already.
    broker.crashAfterNextFill = true;
    await expect(copier().onDelivery(delivery(2, { positionId: '21', action: 4, volume: 0.2 }))).rejects.toBeInstanceOf(SimulatedCrash);
    await copier().onDelivery(delivery(2, { positionId: '21', action: 4, volume: 0.2 }));
    expect(held().get(`${keyPrefix}21`)?.volume).toBe(0.3);
    expect(broker.executions.filter((e) => e.kind === 'close')).toHaveLength(1);

    // And a full close.
    broker.crashAfterNextFill = true;
    await expect(copier().onDelivery(delivery(3, { positionId: '21', action: 3 }))).rejects.toBeInstanceOf(SimulatedCrash);
    await copier().onDelivery(delivery(3, { positionId: '21', action: 3 }));
    expect(held().size).toBe(0);
    expect(copier().positions).toEqual([]);
  });

  it('the same instance retrying after a failure half way applies the change once (memory is reset from the file)', async () => {
    const c = copier();
    await c.onDelivery(delivery(1, { positionId: '25', volume: 0.9 }));
    broker.crashAfterNextFill = true;
    await expect(c.onDelivery(delivery(2, { positionId: '25', action: 4, volume: 0.3 }))).rejects.toBeInstanceOf(SimulatedCrash);
    await c.onDelivery(delivery(2, { positionId: '25', action: 4, volume: 0.3 }));
    await c.onDelivery(delivery(3, { positionId: '25', action: 4, volume: 0.3 }));
    expect(held().get(`${keyPrefix}25`)?.volume).toBe(0.3);
    // A v1 flip that dies between closing the long and opening the short.
    const order = (seq: number, orderType: number, volume: number): ReceivedDelivery => delivery(seq, { action: 0, positionId: '0', orderType, volume, stopLoss: 0, takeProfit: 0 });
    await c.onDelivery(order(4, 0, 0.3));
    broker.crashAfterNextFill = true;
    await expect(c.onDelivery(order(5, 1, 0.5))).rejects.toBeInstanceOf(SimulatedCrash);
    await c.onDelivery(order(5, 1, 0.5));
    const net = broker.snapshotPositions().filter((p) => p.comment.startsWith(`${keyPrefix}n`));
    expect(net.map((p) => [p.orderType, p.volume])).toEqual([[1, 0.2]]);
  });

  it('a close that fails half way is reported once, complete, after its retry: in the same instance and in one opened on the file', async () => {
    for (const restart of [false, true]) {
      mapFile = path.join(tempDir, `map-${++fileCounter}.json`);
      broker = newBroker();
      const order = (seq: number, orderType: number, volume: number): ReceivedDelivery => delivery(seq, { action: 0, positionId: '0', orderType, volume, stopLoss: 0, takeProfit: 0 });
      let c = copier();
      const reports: ExecutionReportInput[] = [];
      const listen = (x: Copier): void => void x.on('report', (r: ExecutionReportInput) => reports.push(r));
      listen(c);
      await c.onDelivery(order(1, 0, 0.3));
      await c.onDelivery(order(2, 0, 0.2)); // the v1 net grows with a second ticket
      expect(c.positions[0]?.tickets).toHaveLength(2);
      broker.setMid('EURUSD.m', 1.101);
      // Selling 0.5 closes both tickets; the broker refuses the second (requotes past the retries).
      const close = broker.close.bind(broker);
      let refuse = false;
      broker.close = async (ticket, volume) => (refuse ? { ok: false, code: 'REQUOTE', message: 'requote', transient: true } : (refuse = true, close(ticket, volume)));
      await expect(c.onDelivery(order(3, 1, 0.5))).rejects.toMatchObject({ code: 'BROKER_FAILED' });
      expect(reports.filter((r) => r.sequence === 3)).toEqual([]); // held for the retry: the server keeps a key's first report
      broker.close = close;
      if (restart) {
        c = copier();
        listen(c);
      }
      await c.onDelivery(order(3, 1, 0.5));
      const closes = reports.filter((r) => r.sequence === 3);
      const fills = broker.executions.filter((e) => e.kind === 'close');
      expect(fills, `restart ${restart}`).toHaveLength(2);
      expect(closes, `restart ${restart}`).toHaveLength(1);
      expect(closes[0]).toMatchObject({ kind: 'close', masterPositionId: 'v1:EURUSD', volume: 0.5, requestedVolume: 0.5, outcome: 'filled' });
      expect(broker.snapshotPositions()).toEqual([]);
      expect(closes[0].profit).toBeCloseTo(broker.equity() - 10_000, 6); // both tickets' realised result
      expect(JSON.parse(fs.readFileSync(mapFile, 'utf8')).carried).toBeNull();
    }
  });

  it('modifies stops (reversed copies swap them), partial closes keep the ratio, and close ends it', async () => {
    const c = copier({ reverse: true, lotMode: 'FIXED', lotValue: 0.3 });
    await c.onDelivery(delivery(1, { positionId: '31', volume: 0.9 }));
    expect(held().get(`${keyPrefix}31`)).toMatchObject({ orderType: 1, volume: 0.3, stopLoss: 1.12, takeProfit: 1.09 });
    await c.onDelivery(delivery(2, { positionId: '31', action: 2, stopLoss: 1.095, takeProfit: 1.13 }));
    expect(held().get(`${keyPrefix}31`)).toMatchObject({ stopLoss: 1.13, takeProfit: 1.095 });
    await c.onDelivery(delivery(3, { positionId: '31', action: 4, volume: 0.6 }));
    expect(held().get(`${keyPrefix}31`)?.volume).toBe(0.1);
    await c.onDelivery(delivery(4, { positionId: '31', action: 3 }));
    expect(held().size).toBe(0);
  });

  it('records skips with their reason and ignores later changes of a skipped position', async () => {
    const c = copier({ symbolsBlocked: ['XAUUSD'] });
    await c.onDelivery(delivery(1, { positionId: '41', symbol: 'XAUUSD', price: 2400, stopLoss: 0, takeProfit: 0 }));
    await c.onDelivery(delivery(2, { positionId: '41', symbol: 'XAUUSD', action: 4, volume: 0.1 }));
    await c.onDelivery(delivery(3, { positionId: '41', symbol: 'XAUUSD', action: 3 }));
    await c.onDelivery(delivery(4, { positionId: '42', symbol: 'USDCHF' }));
    expect(broker.executions).toEqual([]);
    expect(c.positions.map((p) => [p.masterPositionId, p.status, p.skipReason])).toEqual([['42', 'SKIPPED', 'SYMBOL_UNKNOWN']]);
  });

  it('requotes are retried; when they persist the delivery fails and nothing is remembered', async () => {
    broker = newBroker(1);
    await expect(copier().onDelivery(delivery(1, { positionId: '51' }))).rejects.toMatchObject({ code: 'BROKER_FAILED' });
    expect(broker.requotes).toBe(4);
    expect(copier().positions).toEqual([]);
    const calm = newBroker(0);
    const c = Copier.open({ broker: calm, mapFile });
    c.onSettings({ subscriptionId, revision: 1, settings: resolveCopySettings({ symbolSuffix: '.m' }) });
    await c.onDelivery(delivery(1, { positionId: '51' }));
    expect(calm.snapshotPositions()).toHaveLength(1);
  });

  it('a settings change applies from the next open; existing copies keep their ratio and direction', async () => {
    const c = copier({ lotMode: 'MULTIPLIER', lotValue: 2 });
    await c.onDelivery(delivery(1, { positionId: '55', volume: 0.5 }));
    c.onSettings({ subscriptionId, revision: 2, settings: resolveCopySettings({ symbolSuffix: '.m', lotMode: 'MULTIPLIER', lotValue: 3, reverse: true }) });
    await c.onDelivery(delivery(2, { positionId: '56', volume: 0.5 }));
    await c.onDelivery(delivery(3, { positionId: '55', action: 4, volume: 0.25 }));
    expect(held().get(`${keyPrefix}55`)).toMatchObject({ orderType: 0, volume: 0.5, stopLoss: 1.09 });
    expect(held().get(`${keyPrefix}56`)).toMatchObject({ orderType: 1, volume: 1.5, stopLoss: 1.12 });
  });

  it('reports each execution with its fill, slippage in pips against the master price, and delay from generated_at', async () => {
    const c = Copier.open({ broker, mapFile, clock: () => 1_000_250 });
    c.onSettings({ subscriptionId, revision: 1, settings: resolveCopySettings({ symbolSuffix: '.m', symbolsBlocked: ['USDJPY'] }) });
    const seen: CopyExecution[] = [];
    c.on('execution', (e: CopyExecution) => seen.push(e));
    await c.onDelivery(delivery(1, { positionId: '91', generatedAt: 1_000_000, price: 1.1 }));
    await c.onDelivery(delivery(2, { positionId: '91', action: 3, generatedAt: 1_000_100, price: 1.1002 }));
    await c.onDelivery(delivery(3, { positionId: '92', symbol: 'USDJPY', generatedAt: 1_000_200, price: 150 }));
    // The paper broker here slips 0..2 points: the ask is 1.10005 (+0.5 pip) plus slippage.
    expect(seen.map((e) => [e.kind, e.masterPositionId, e.delayMs, e.reason])).toEqual([
      ['open', '91', 250, null],
      ['close', '91', 150, null],
      ['skip', '92', 50, 'SYMBOL_BLOCKED'],
    ]);
    expect(seen[0].slippagePips).toBeGreaterThanOrEqual(0.5);
    expect(seen[0].slippagePips).toBeLessThanOrEqual(0.7);
    // Sold at the bid 1.09995 - slippage against a master close at 1.1002: 2.5 pips worse or more.
    expect(seen[1].slippagePips).toBeGreaterThanOrEqual(2.5);
    expect(seen[1].slippagePips).toBeLessThanOrEqual(2.7);
    expect(seen[2]).toMatchObject({ ticket: null, volume: 0, price: null, slippagePips: null, atMs: 1_000_250 });
  });

  it('refuses to execute before the settings arrived', async () => {
    const c = Copier.open({ broker, mapFile });
    await expect(c.onDelivery(delivery(1, {}))).rejects.toMatchObject({ code: 'SETTINGS_MISSING' });
    c.onSettings({ subscriptionId, revision: 5, settings: resolveCopySettings({ lotValue: 2 }) });
    c.onSettings({ subscriptionId, revision: 4, settings: resolveCopySettings({ lotValue: 3 }) });
    expect(c.settings?.revision).toBe(5);
  });
});

describe('snapshots reconcile', () => {
  it('closes what the master no longer holds, opens what is missing, adjusts volumes and stops, closes orphans', async () => {
    const c = copier();
    await c.onDelivery(delivery(1, { positionId: '61', volume: 0.5 }));
    await c.onDelivery(delivery(2, { positionId: '62', volume: 0.4 }));
    // An orphan: this subscription's key, no entry (a crash right after a fill whose signal the snapshot supersedes).
    await broker.open({ symbol: 'EURUSD.m', orderType: 1, volume: 0.2, stopLoss: 0, takeProfit: 0, comment: `${keyPrefix}99` });
    // Someone else's position: never touched.
    await broker.open({ symbol: 'EURUSD.m', orderType: 0, volume: 0.05, stopLoss: 0, takeProfit: 0, comment: 'manual' });

    await c.onSnapshot(snapshot(10, [position('62', { volume: 0.1, stopLoss: 1.08 }), position('63', { orderType: 1, volume: 0.2, openPrice: 1.1005 })]));
    const after = held();
    expect([...after.keys()].sort()).toEqual(['manual', `${keyPrefix}62`, `${keyPrefix}63`]);
    expect(after.get(`${keyPrefix}62`)).toMatchObject({ volume: 0.1, stopLoss: 1.08 });
    expect(after.get(`${keyPrefix}63`)).toMatchObject({ orderType: 1, volume: 0.2 });
    expect(c.lastSequence).toBe(10);

    // The same snapshot again changes nothing.
    const executions = broker.executions.length;
    await copier().onSnapshot(snapshot(10, [position('62', { volume: 0.1, stopLoss: 1.08 }), position('63', { orderType: 1, volume: 0.2, openPrice: 1.1005 })]));
    expect(broker.executions.length).toBe(executions);
  });

  it('opens several v1 net positions from one snapshot under distinct keys, and adopts each on its own symbol after a crash', async () => {
    const snap = snapshot(40, [position('v1:EURUSD', { volume: 0.3, stopLoss: 0, takeProfit: 0 }), position('v1:XAUUSD', { symbol: 'XAUUSD', orderType: 1, volume: 0.2, openPrice: 2400, stopLoss: 0, takeProfit: 0 })]);
    const c = copier();
    broker.crashAfterNextFill = true;
    await expect(c.onSnapshot(snap)).rejects.toBeInstanceOf(SimulatedCrash);
    await c.onSnapshot(snap);
    const positions = broker.snapshotPositions();
    expect(positions.map((p) => [p.symbol, p.orderType, p.volume]).sort()).toEqual([
      ['EURUSD.m', 0, 0.3],
      ['GOLD', 1, 0.2],
    ]);
    expect(new Set(positions.map((p) => p.comment)).size).toBe(2);
    expect(broker.executions.filter((e) => e.kind === 'open')).toHaveLength(2);
  });

  it('with copyOpenPositions off, positions opened while away are skipped, not opened late', async () => {
    const c = copier({ copyOpenPositions: false });
    await c.onSnapshot(snapshot(5, [position('71')]));
    expect(held().size).toBe(0);
    expect(c.positions[0]).toMatchObject({ status: 'SKIPPED', skipReason: 'OPEN_POSITIONS_NOT_COPIED' });
    await c.onDelivery(delivery(6, { positionId: '72' }));
    expect(held().size).toBe(1);
  });

  it('a copy its own stop closed is not reopened', async () => {
    const c = copier();
    await c.onDelivery(delivery(1, { positionId: '81' }));
    const ticket = broker.snapshotPositions()[0].ticket;
    await broker.close(ticket, 0.5);
    await c.onSnapshot(snapshot(2, [position('81')]));
    expect(held().size).toBe(0);
    expect(c.positions[0].status).toBe('CLOSED_LOCALLY');
  });
});

describe('v1 netting', () => {
  it('follows the net position: grows with new tickets, shrinks from the newest, flips by closing and reopening', async () => {
    const c = copier({ lotMode: 'MULTIPLIER', lotValue: 2 });
    const order = (seq: number, orderType: number, volume: number): ReceivedDelivery => delivery(seq, { action: 0, positionId: '0', orderType, volume, stopLoss: 0, takeProfit: 0 });
    await c.onDelivery(order(1, 0, 0.3));
    await c.onDelivery(order(2, 0, 0.2));
    const total = (): number => Number(broker.snapshotPositions().reduce((s, p) => s + (p.orderType === 0 ? p.volume : -p.volume), 0).toFixed(8));
    expect(total()).toBe(1);
    expect(broker.snapshotPositions()).toHaveLength(2);
    await c.onDelivery(order(3, 1, 0.1));
    expect(total()).toBe(0.8);
    await c.onDelivery(order(4, 2, 5)); // a pending order: the book does not change
    expect(total()).toBe(0.8);
    await c.onDelivery(order(5, 1, 0.6));
    expect(total()).toBe(-0.4);
    expect(broker.snapshotPositions()).toHaveLength(1);
    await c.onDelivery(order(6, 0, 0.2));
    expect(total()).toBe(0);
    expect(c.positions).toEqual([]);
  });
});
