/**
 * The resend policy's last rule (docs/protocol.md): STALE on a resend means
 * never accepted and now too old to execute. The Master EA then drops its
 * outbox and sends a signed snapshot of its positions at its last assigned
 * sequence; receivers reconcile to it, and signals continue after it.
 *
 * Here the subscription's TTL is 2 s and the master is cut off from the
 * server while it trades: its signals wait in the outbox, grow stale, and
 * are refused STALE when resent. The receiver must end holding what the
 * master holds, through the snapshot, and the next trade is an ordinary
 * signal after it.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Prng } from '../support/prng';
import { TcpProxy } from '../support/tcp-proxy';
import type { TestServer } from '../support/test-server';
import { accountSymbols, type EaTestBed, freePort, holdings, MasterTrader, masterEa, receiverEa, startEaTestBed } from './support/session';
import { eaBuildTimeoutMs } from './support/ea-build';

let bed: EaTestBed;
let t: TestServer;
let dir: string;
let closers: (() => Promise<void>)[];

beforeAll(async () => {
  bed = await startEaTestBed('resync', { shardCount: 1 });
  ({ server: t, dir, closers } = bed);
}, eaBuildTimeoutMs);

afterAll(async () => {
  await bed?.close();
});

it('signals refused STALE on their resend are replaced by a snapshot the receivers reconcile to', async () => {
  const sub = await t.subscription({ settings: { ttlMs: 2000 } });
  const masterProxy = await freePort();
  let proxy = new TcpProxy(masterProxy, { host: '127.0.0.1', port: t.server.port });
  await proxy.listen();
  closers.push(() => proxy.close());
  const master = masterEa(path.join(dir, 'master'), { masterUrl: `ws://127.0.0.1:${masterProxy}/v1/master`, receiverUrl: '' }, sub);
  const receiver = receiverEa('receiver', path.join(dir, 'receiver'), t, sub.receiverToken, accountSymbols(null));
  closers.push(() => master.kill9(), () => receiver.kill9());
  await master.startWelcomed();
  await receiver.start();
  const trader = new MasterTrader(() => master, new Prng(4242), async (symbol, mid) => void (await receiver.request(`mid ${symbol} ${mid}`)));
  await trader.moveMarket();
  for (let i = 0; i < 4; i++) await trader.step();
  await receiver.waitStatus('the first signals copied', (s) => s.lastSequence === 4);

  // Cut off (the server stays up; the master's address refuses connections): its next trades wait in its outbox until they are stale.
  await proxy.close();
  await master.waitStatus('cut off', (s) => s.welcomed === false);
  for (let i = 0; i < 4; i++) await trader.step();
  expect((await master.status()).outbox).toBe(4);
  await new Promise((r) => setTimeout(r, 2500));
  proxy = new TcpProxy(masterProxy, { host: '127.0.0.1', port: t.server.port });
  await proxy.listen();

  await master.waitLine((l) => l.code === 'SNAPSHOT_SENT', 30_000);
  const resynced = await master.waitStatus('the snapshot sent, the outbox dropped', (s) => s.outbox === 0 && (s.snapshots as number) === 1, 30_000);
  expect(resynced.lastAssigned).toBe(8);
  expect(master.logs('SIGNAL_REFUSED').map((l) => String(l.msg).split(':')[0])).toContain('STALE for 5');
  await receiver.waitStatus('the snapshot applied', (s) => s.lastSequence === 8 && (s.snapshots as number) === 1, 30_000);
  // The refusal of signal 8, dropped with the outbox while in flight, carries the snapshot's sequence: it is not the snapshot's answer.
  expect(master.logs('SNAPSHOT_REFUSED')).toEqual([]);

  // Signals go on after the snapshot's sequence.
  await trader.step();
  await master.waitStatus('the next signal acked', (s) => s.outbox === 0 && s.lastAssigned === 9, 30_000);
  await receiver.waitStatus('the next signal copied', (s) => s.lastSequence === 9, 30_000);
  const prefix = `sp:${sub.subscriptionId.replace(/-/g, '').slice(0, 6)}:`;
  const expected = [...trader.book.values()].map((p) => ({ comment: `${prefix}${p.ticket}`, symbol: p.symbol, type: p.side, volume: p.volume, sl: p.stopLoss, tp: p.takeProfit }));
  expect(holdings(receiver.positions())).toEqual(holdings(expected));
});
