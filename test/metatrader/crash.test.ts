/**
 * kill -9 of the EA processes in the middle of a seeded session, and exits
 * right after a broker fill (before the EA hears of it), against a real
 * server:
 *
 *   Master EA: killed after trades whose signals may be committed but not
 *   sent, sent but not acked, or not even committed (the fill was written
 *   by the terminal, the EA never saw the transaction). After each restart
 *   the outbox is resent (the same bytes) and the terminal compared with
 *   the book again. The server must end up delivering exactly one signal
 *   per trade, in order, with no gap, and the positions those signals
 *   describe must be the master's.
 *
 *   Receiver EA: killed at random moments and right after fills. It must
 *   end with the account its client/copier.ts twin has (never killed),
 *   with no master position opened twice on it, and every execution report
 *   it made one row of execution_reports (reports kept in its state file
 *   are resent after the restart; the server makes a resent report the
 *   same row), every copy it holds with its open or adopt row.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Copier, PaperBroker, ReceiverClient } from '@sigplane/client';
import { mapSymbol } from '../../client/copy-rules';
import { createPool } from '../../persistence/pg/pool';
import { ReceiverSettingsStore } from '../../persistence/pg/receiver-settings-store';
import { exactDecimal, safeInteger } from '@sigplane/protocol';
import { Prng } from '../support/prng';
import { openReceiver } from '../support/e2e';
import type { TestServer } from '../support/test-server';
import type { EaProcess } from './support/ea-process';
import {
  accountSymbols,
  type EaTestBed,
  holdings,
  instruments,
  masterEa,
  MasterTrader,
  opensByKey,
  paperSymbols,
  receiverEa,
  startEaTestBed,
  waitUntil,
} from './support/session';
import { eaBuildTimeoutMs } from './support/ea-build';

const seed = Number(process.env.SIGPLANE_TEST_SEED ?? 20261208);

let bed: EaTestBed;
let t: TestServer;
let dir: string;
let closers: (() => Promise<void>)[];

beforeAll(async () => {
  bed = await startEaTestBed('crash', { shardCount: 2, shipper: true });
  ({ server: t, dir, closers } = bed);
}, eaBuildTimeoutMs);

afterAll(async () => {
  await bed?.close();
});

/** Open a position with the terminal set to exit right after the fill; the book learns the ticket from the account file. */
async function openThenDie(master: EaProcess, trader: MasterTrader, random: Prng): Promise<void> {
  await master.request('crash-after-next-fill');
  const before = new Set(master.positions().map((p) => p.ticket));
  const i = random.pick(instruments);
  const side = random.chance(0.5) ? 0 : 1;
  const mid = trader.mids.get(i.symbol)!;
  const dir = side === 0 ? 1 : -1;
  const volume = random.int(1, 150) / 100;
  const stopLoss = Number((mid - dir * 30 * i.pip).toFixed(i.digits));
  const takeProfit = Number((mid + dir * 60 * i.pip).toFixed(i.digits));
  master.send(`open ${i.symbol} ${side} ${volume} ${stopLoss} ${takeProfit} 7`);
  await master.exited();
  const opened = master.positions().find((p) => !before.has(p.ticket));
  expect(opened, 'the fill is on the account although the process died').toBeDefined();
  trader.book.set(opened!.ticket, { ticket: opened!.ticket, symbol: i.symbol, side, volume, stopLoss, takeProfit, magic: '7' });
  trader.counts.open++;
  trader.trades.push({ kind: 'open', ticket: opened!.ticket });
}

/**
 * Start it again and let it compare the terminal with its book once before
 * the trader goes on: what happened while it was dead is published as it is
 * now (a partial close and a close it never saw would be one close), and
 * this test counts one signal per trade.
 */
async function restartMaster(master: EaProcess): Promise<void> {
  await master.start();
  await master.waitStatus('the terminal compared with the book', (s) => (s.reconciles as number) > 0);
}

describe('kill -9 of the EA processes', () => {
  it(`the Master EA: every trade is delivered exactly once, in order, whatever was lost with the process (seed ${seed})`, async () => {
    const random = new Prng(seed);
    const sub = await t.subscription();
    const observer = await openReceiver(t, sub.receiverToken, 0);
    closers.push(async () => observer.close());
    const master = masterEa(path.join(dir, 'master'), t, sub);
    closers.push(() => master.kill9());
    await master.startWelcomed();
    const trader = new MasterTrader(() => master, random, async () => undefined);
    await trader.moveMarket();
    const kills = { afterBurst: 0, afterFill: 0 };
    for (let step = 0; step < 70; step++) {
      await trader.moveMarket();
      // Seeded kills, and a few at fixed steps so every seed has them.
      const roll = step % 23 === 5 ? 0 : step % 17 === 3 ? 0.1 : random.next();
      if (roll < 0.08) {
        kills.afterFill++;
        await openThenDie(master, trader, random);
        await restartMaster(master);
      } else if (roll < 0.2) {
        // A burst of trades, then SIGKILL at once: signals committed, sent, acked or none of these.
        kills.afterBurst++;
        for (let k = random.int(1, 4); k > 0; k--) await trader.step();
        await master.kill9();
        await restartMaster(master);
      } else {
        await trader.step();
      }
    }
    const trades = trader.counts.open + trader.counts.modify + trader.counts.partial + trader.counts.close;
    if (process.env.SIGPLANE_TEST_VERBOSE) console.log(JSON.stringify({ seed, trades, counts: trader.counts, kills }));
    const status = await master.waitStatus('every signal acked', (s) => s.outbox === 0 && s.lastAssigned === trades, 60_000);
    expect(kills.afterFill).toBeGreaterThan(2);
    expect(kills.afterBurst).toBeGreaterThan(2);
    expect(master.starts).toBe(1 + kills.afterFill + kills.afterBurst);
    // Nothing needed a resynchronization: every frame was accepted in order (resends answered DUPLICATE).
    expect(status.snapshots).toBe(0);
    expect(master.logs('RESYNC')).toEqual([]);
    expect(master.logs('SIGNAL_REFUSED')).toEqual([]);

    // The server delivered sequences 1..trades, each once.
    await waitUntil('every delivery', () => observer.ofKind('delivery').length >= trades, 30_000);
    const deliveries = observer.ofKind('delivery').map((f) => f.delivery);
    expect(deliveries.map((d) => safeInteger(d.sequenceNumber))).toEqual(Array.from({ length: trades }, (_, i) => i + 1));
    // Replayed, they describe the master's positions; each position was opened by exactly one signal.
    const book = new Map<string, { symbol: string; side: number; volume: number; sl: number; tp: number }>();
    const opens = new Map<string, number>();
    for (const d of deliveries) {
      const s = d.signal!;
      const id = exactDecimal(s.positionId);
      if (s.action === 1) {
        opens.set(id, (opens.get(id) ?? 0) + 1);
        book.set(id, { symbol: s.symbol, side: s.orderType, volume: s.volume, sl: s.stopLoss, tp: s.takeProfit });
      } else if (s.action === 2) {
        Object.assign(book.get(id)!, { sl: s.stopLoss, tp: s.takeProfit });
      } else if (s.action === 4) {
        book.get(id)!.volume = Number((book.get(id)!.volume - s.volume).toFixed(8));
      } else if (s.action === 3) {
        book.delete(id);
      }
    }
    for (const [id, n] of opens) expect(n, `position ${id} opened by ${n} signals`).toBe(1);
    expect(opens.size).toBe(trader.counts.open);
    const held = new Map(master.positions().map((p) => [String(p.ticket), { symbol: p.symbol, side: p.type, volume: p.volume, sl: p.sl, tp: p.tp }]));
    expect(book).toEqual(held);
    expect(new Set(held.keys())).toEqual(new Set([...trader.book.keys()].map(String)));
  }, 120_000);

  it(`the Receiver EA: its account ends as its never-killed twin's, nothing opened twice, every report one row (seed ${seed})`, async () => {
    const random = new Prng(seed + 1);
    const sub = await t.subscription();
    const pool = createPool(t.databaseUrl, { max: 1 });
    closers.push(() => pool.end());
    const store = new ReceiverSettingsStore(pool);
    const patch = { symbolSuffix: '.m', lotMode: 'MULTIPLIER', lotValue: 2 };
    const eaLicense = await t.receiverToken(sub.subscriptionId);
    const twinLicense = await t.receiverToken(sub.subscriptionId);
    const settings = (await store.update(eaLicense.tokenId, patch)).settings;
    await store.update(twinLicense.tokenId, patch);
    const symbols = accountSymbols(settings);
    const receiver = receiverEa('killed', path.join(dir, 'receiver'), t, eaLicense.token, symbols, { balance: 50_000, seed, requote: 0.05, slippage: 3 });
    closers.push(() => receiver.kill9());
    const twinRandom = new Prng(seed * 3);
    const twinBroker = new PaperBroker({ symbols: paperSymbols(symbols), balance: 50_000, random: () => twinRandom.next(), requoteProbability: 0.05, slippagePointsMax: 3 });
    const twin = Copier.open({ broker: twinBroker, mapFile: path.join(dir, 'twin.json'), currency: 'USD' });
    const twinClient = new ReceiverClient();
    closers.push(() => twinClient.close());
    twin.reportTo(twinClient);
    const master = masterEa(path.join(dir, 'master-2'), t, sub);
    closers.push(() => master.kill9());
    await master.startWelcomed();
    const quote = async (symbol: string, mid: number): Promise<void> => {
      const local = mapSymbol(settings, symbol);
      twinBroker.setMid(local, mid);
      // It may die at an armed fill while answering.
      if (receiver.running) await receiver.request(`mid ${local} ${mid}`).catch((error: Error) => {
        if (receiver.running) throw error;
      });
    };
    const trader = new MasterTrader(() => master, random, quote);
    const restart = async (): Promise<void> => {
      await receiver.start();
      for (const i of instruments) await quote(i.symbol, trader.mids.get(i.symbol)!);
    };
    await receiver.start();
    await twinClient.connect(t.receiverUrl, twinLicense.token, { ...twin.receiverOptions(), reconnect: { minMs: 20, maxMs: 200 } });
    await trader.moveMarket();
    const kills = { random: 0, afterFill: 0 };
    let armed = false;
    for (let step = 0; step < 70; step++) {
      if (!receiver.running) {
        // It died at a fill it was asked to die at.
        kills.afterFill++;
        armed = false;
        await restart();
      }
      await trader.moveMarket();
      const roll = step % 19 === 7 ? 0 : step % 13 === 2 ? 0.1 : random.next();
      if (roll < 0.08) {
        kills.random++;
        armed = false;
        await receiver.kill9();
        await restart();
      } else if (roll < 0.2 && !armed && receiver.running) {
        armed = true;
        await receiver.request('crash-after-next-fill').catch((error: Error) => {
          if (receiver.running) throw error;
        });
      }
      await trader.step();
      // Give it a moment to die at the fill, sometimes in the middle of the next delivery.
      if (armed && random.chance(0.5)) await new Promise((r) => setTimeout(r, 20));
    }
    if (!receiver.running) {
      kills.afterFill++;
      armed = false;
      await restart();
    }
    // And once more where it matters most: killed right after the fill of an open, before the map remembers it
    // (still armed from the loop, or armed now).
    if (!armed) await receiver.request('crash-after-next-fill');
    await trader.openOne();
    await receiver.exited();
    kills.afterFill++;
    await restart();
    const published = await master.waitStatus('every signal acked', (s) => s.outbox === 0 && (s.signals as number) > 0, 60_000);
    const last = published.lastAssigned as number;
    await receiver.waitStatus(`the receiver at ${last}`, (s) => s.lastSequence === last && s.unackedReports === 0, 60_000);
    await twinClient.waitFor(last, 60_000);
    expect(kills.random).toBeGreaterThan(1);
    expect(kills.afterFill).toBeGreaterThan(1);

    expect(holdings(receiver.positions())).toEqual(holdings(twinBroker.snapshotPositions()));
    for (const [key, n] of opensByKey(receiver.deals())) expect(n, `${key} opened ${n} times`).toBe(1);
    // Killed right after fills: some copies were adopted on the redelivery instead of opened again.
    expect(receiver.logs('REPORT').some((l) => (l.msg as string).endsWith('|adopt'))).toBe(true);

    const made = new Set(receiver.logs('REPORT').map((l) => l.msg as string));
    const rows = async (): Promise<{ key: string; kind: string; ticket: string | null }[]> =>
      (
        await pool.query<{ key: string; kind: string; ticket: string | null }>(
          "SELECT sequence::text || '|' || master_position_id || '|' || kind AS key, kind, ticket FROM execution_reports WHERE receiver_id = $1",
          [eaLicense.tokenId],
        )
      ).rows;
    await waitUntil('every report in Postgres', async () => (await rows()).length >= made.size, 30_000);
    const landed = await rows();
    expect(new Set(landed.map((r) => r.key)).size).toBe(landed.length);
    expect(landed.map((r) => r.key).sort()).toEqual([...made].sort());
    const openedTickets = new Set(landed.filter((r) => r.kind === 'open' || r.kind === 'adopt').map((r) => r.ticket));
    for (const p of receiver.positions()) expect(openedTickets.has(String(p.ticket)), `held ${p.comment} (ticket ${p.ticket}) has no open or adopt row`).toBe(true);
  }, 120_000);
});
