/**
 * Netting accounts (one position per symbol, MT5's ACCOUNT_MARGIN_MODE_RETAIL_NETTING):
 *   - a Master EA on one publishes each increase of a position as a slice
 *     of its own (OPEN with a position id of its own), decreases from the
 *     newest slice (PARTIAL_CLOSE / CLOSE), a reversal as the old side
 *     closed and the new side opened; a Receiver EA on a hedging account
 *     ends with copies whose net per symbol is the master's (x its
 *     multiplier);
 *   - a Receiver EA refuses to start on a netting account, with a code.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exactDecimal } from '@sigplane/protocol';
import { openReceiver, waitForDeliveries } from '../support/e2e';
import type { TestServer } from '../support/test-server';
import { accountSymbols, type EaTestBed, masterEa, receiverEa, startEaTestBed } from './support/session';
import { eaBuildTimeoutMs } from './support/ea-build';

let bed: EaTestBed;
let t: TestServer;
let dir: string;
let closers: (() => Promise<void>)[];

beforeAll(async () => {
  bed = await startEaTestBed('netting', { shardCount: 1 });
  ({ server: t, dir, closers } = bed);
}, eaBuildTimeoutMs);

afterAll(async () => {
  await bed?.close();
});

it('a netting master publishes increases as slices, decreases newest first, a reversal as close and open', async () => {
  const sub = await t.subscription();
  const observer = await openReceiver(t, sub.receiverToken, 0);
  closers.push(async () => observer.close());
  const license = await t.receiverToken(sub.subscriptionId);
  const master = masterEa(path.join(dir, 'master'), t, sub, { netting: true });
  const receiver = receiverEa('hedging-receiver', path.join(dir, 'receiver'), t, license.token, accountSymbols(null));
  closers.push(() => master.kill9(), () => receiver.kill9());
  await master.startWelcomed();
  await receiver.start();
  for (const ea of [master, receiver]) await ea.request('mid EURUSD 1.1');
  const first = await master.request('open EURUSD 0 1 1.09 1.12 7');
  await master.request('open EURUSD 0 0.5 0 0 7'); // adds to the one position: a second slice
  await master.request('open EURUSD 1 0.3 0 0 7'); // reduces the newest slice
  await master.request('open EURUSD 1 2 0 0 7'); // reverses: 1.2 long -> 0.8 short
  const position = master.positions();
  expect(position.map((p) => [p.ticket, p.type, p.volume])).toEqual([[first.ticket, 1, 0.8]]);
  await master.waitStatus('acked', (s) => s.outbox === 0 && (s.lastAssigned as number) >= 6);

  const last = (await master.status()).lastAssigned as number;
  await waitForDeliveries(observer, last);
  const signals = observer.ofKind('delivery').map((f) => f.delivery.signal!).map((s) => [s.action, exactDecimal(s.positionId), s.orderType, s.volume]);
  const base = 4611686018427387904n;
  expect(signals).toEqual([
    [1, String(first.ticket), 0, 1], // OPEN the position
    [1, String(base + 2n), 0, 0.5], // OPEN the increase as a slice of its own (id: the base + its sequence)
    [4, String(base + 2n), 0, 0.3], // PARTIAL_CLOSE of the newest slice
    [3, String(first.ticket), 0, 1], // the reversal: every slice closes...
    [3, String(base + 2n), 0, 0.2],
    [1, String(first.ticket), 1, 0.8], // ...and the new side opens
  ]);
  expect(signals.length).toBe(last);

  await receiver.waitStatus('copied', (s) => s.lastSequence === last);
  const net = receiver.positions().reduce((sum, p) => sum + (p.type === 0 ? p.volume : -p.volume), 0);
  expect(Number(net.toFixed(8))).toBe(-0.8);
});

it('a Receiver EA refuses a netting account at start', async () => {
  const sub = await t.subscription();
  const receiver = receiverEa('netting-receiver', path.join(dir, 'netting-receiver'), t, sub.receiverToken, accountSymbols(null), { netting: true });
  await expect(receiver.start()).rejects.toThrow(/did not start/);
  expect(receiver.logs('INIT_FAILED').map((l) => l.msg)).toEqual(['NETTING_ACCOUNT_UNSUPPORTED: the Receiver EA copies onto hedging accounts']);
});
