/**
 * The EAs' hot loop allocates nothing: OnTimer every 5 ms reading the
 * socket, the master comparing the terminal with its book once a second,
 * the receiver checking for gaps, with connections open and positions
 * held. The C++ build counts every operator new (mql5/cpp/terminal-loop.cpp);
 * the count must not move while the EAs idle for a second (about 200
 * timer events each). (MQL5 allocates strings and arrays on the same
 * paths the C++ build does, and the buffers are reserved the same way:
 * ByteBuffer over ArrayResize with a reserve.)
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestServer } from '../support/test-server';
import { accountSymbols, type EaTestBed, masterEa, receiverEa, startEaTestBed } from './support/session';
import { eaBuildTimeoutMs } from './support/ea-build';

let bed: EaTestBed;
let t: TestServer;
let dir: string;
let closers: (() => Promise<void>)[];

beforeAll(async () => {
  bed = await startEaTestBed('hot', { shardCount: 1 });
  ({ server: t, dir, closers } = bed);
}, eaBuildTimeoutMs);

afterAll(async () => {
  await bed?.close();
});

it('an idle second of OnTimer, socket reads and comparisons allocates nothing on either EA', async () => {
  const sub = await t.subscription();
  const master = masterEa(path.join(dir, 'master'), t, sub);
  const receiver = receiverEa('receiver', path.join(dir, 'receiver'), t, sub.receiverToken, accountSymbols(null));
  closers.push(() => master.kill9(), () => receiver.kill9());
  await master.startWelcomed();
  await receiver.start();
  for (const ea of [master, receiver]) {
    await ea.request('mid EURUSD 1.1');
    await ea.request('mid XAUUSD 2400');
  }
  await master.request('open EURUSD 0 0.5 1.09 1.12 7');
  await master.request('open XAUUSD 1 0.2 2410 2380 9');
  await receiver.waitStatus('copied', (s) => s.lastSequence === 2 && s.unackedReports === 0);
  // Warm: a full comparison cycle and a few hundred timer events.
  await new Promise((r) => setTimeout(r, 1500));
  const before = [(await master.request('allocs')).count as number, (await receiver.request('allocs')).count as number];
  const masterStatus = (await master.status()).reconciles as number;
  await new Promise((r) => setTimeout(r, 1200));
  const after = [(await master.request('allocs')).count as number, (await receiver.request('allocs')).count as number];
  // The master compared the terminal with its book at least once meanwhile (a second apart).
  expect((await master.status()).reconciles as number).toBeGreaterThan(masterStatus);
  // Counted inside the EAs' event handlers only (the terminal loop's own command handling allocates freely).
  expect(after).toEqual(before);
  // And the count is real: handling trades does allocate (strings of a new signal, a new copy).
  await master.request('open EURUSD 1 0.1 1.12 1.08 7');
  await receiver.waitStatus('copied', (s) => s.lastSequence === 3);
  expect((await master.request('allocs')).count as number).toBeGreaterThan(after[0]);
});
