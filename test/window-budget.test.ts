/**
 * The shard's budget for its delivery windows together (engine/window-budget.ts):
 * past it the windows of the subscriptions least recently active are
 * emptied, never the one at hand, and an emptied subscription still
 * catches a receiver up, from the journal, and fills its window again.
 */
import { expect, it } from 'vitest';
import type { SubscriptionActor } from '../actors/subscription-actor';
import { WindowBudget } from '../engine/window-budget';
import { Harness, briefs, smallLimits } from './actors/fixtures';
import { answerFor, openMaster, openReceiver, range, sleep, waitForDeliveries } from './support/e2e';
import { parseMetricsText } from '../io/metrics';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer } from './support/test-server';

/** Three subscriptions with windows of 8 (smallLimits), under one budget. */
function shard(recordsMax: number) {
  const subs = ['a', 'b', 'c'].map((name) => new Harness(smallLimits, `a6f1b0d2-0000-4000-8000-00000000000${name === 'a' ? 1 : name === 'b' ? 2 : 3}`));
  const actors = new Map<string, SubscriptionActor>(subs.map((h) => [h.actor.subscriptionId, h.actor]));
  const budget = new WindowBudget(recordsMax);
  /** An event for subscription h, as the shard worker runs it. */
  const run = (h: Harness, step: () => void): void => {
    const before = h.actor.window.count;
    step();
    budget.touched(h.actor, before, actors);
  };
  const accept = (h: Harness, from: number, to: number): void => {
    for (let s = from; s <= to; s++) run(h, () => h.acceptRange(s, s));
  };
  const counts = (): number[] => subs.map((h) => h.actor.window.count);
  return { subs, budget, run, accept, counts };
}

it('empties the least recently active window once the windows together pass the budget', () => {
  const { subs, budget, accept, counts } = shard(20);
  const [a, b, c] = subs as [Harness, Harness, Harness];
  accept(a, 1, 8);
  accept(b, 1, 8);
  expect(counts()).toEqual([8, 8, 0]);
  accept(c, 1, 4);
  expect(budget.records).toBe(20);
  accept(c, 5, 5); // 21 > 20: a, touched least recently, is emptied
  expect(counts()).toEqual([0, 8, 5]);
  expect(budget.records).toBe(13);
  accept(c, 6, 8);
  accept(a, 9, 12); // a fills again from its next signal
  expect(counts()).toEqual([4, 8, 8]);
  expect(budget.records).toBe(20);
});

it('counts any event as activity: a subscription whose receivers ack keeps its window', () => {
  const { subs, run, accept, counts } = shard(20);
  const [a, b, c] = subs as [Harness, Harness, Harness];
  accept(a, 1, 8);
  accept(b, 1, 8);
  run(a, () => a.send({ kind: 'deliveryAck', connId: 20, receiverId: 'r1', sequence: 8 }));
  accept(c, 1, 5);
  expect(counts()).toEqual([8, 0, 5]);
});

it('never empties the window at hand, even alone over the budget', () => {
  const { subs, budget, accept, counts } = shard(5);
  accept(subs[0]!, 1, 8);
  expect(counts()).toEqual([8, 0, 0]);
  expect(budget.records).toBe(8);
  accept(subs[1]!, 1, 1);
  expect(counts()).toEqual([0, 1, 0]);
});

it('still catches a receiver of an emptied subscription up, from the journal', () => {
  const { subs, accept, counts } = shard(10);
  const [a, b] = subs as [Harness, Harness];
  accept(a, 1, 8);
  accept(b, 1, 8);
  expect(counts()[0]).toBe(0);
  const reads = a.history.reads;
  expect(briefs(a.send({ kind: 'receiverSubscribe', connId: 30, receiverId: 'r1', lastSequence: 3 }))).toEqual([
    'welcome @30 ACTIVE 8',
    'sendDeliveries @30 4,5,6',
    'sendDeliveries @30 7,8',
    'receiverLive @30',
  ]);
  expect(a.history.reads).toBeGreaterThan(reads);
});

it('refuses a budget that is not a positive integer', () => {
  expect(() => new WindowBudget(0)).toThrow(/recordsMax/);
  expect(() => new WindowBudget(1.5)).toThrow(/recordsMax/);
});

// 2 x 2,000 signals under a budget of 3,000, without the thread: test/shard-core.test.ts. Here a real shard, smaller.
it('holds a real shard to its budget (sigplane_delivery_window_records), and receivers of an emptied subscription still get every signal once, in order', async () => {
  const t = await startTestServer({ shardCount: 1, windowRecordsPerShardMax: 30 });
  try {
    const [a, b] = [await t.subscription(), await t.subscription()];
    for (const s of [a, b]) {
      const master = await openMaster(t, s);
      for (let sent = 1; sent <= 40; sent++) master.send(v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, sent)));
      expect((await answerFor(master, 40, 30_000)).kind).toBe('ack');
      await master.close();
    }
    // a's window (touched least recently) was emptied by b's first signal: b's 40 are what is held.
    const windowRecords = async (): Promise<number | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${t.server.port}/metrics`)).text();
      return parseMetricsText(text).get('sigplane_delivery_window_records{shard="0"}');
    };
    const deadline = Date.now() + 10_000;
    while ((await windowRecords()) !== 40 && Date.now() < deadline) await sleep(100);
    expect(await windowRecords()).toBe(40);
    for (const s of [a, b]) {
      const receiver = await openReceiver(t, s.receiverToken, 25);
      expect(await waitForDeliveries(receiver, 15, 10_000)).toEqual(range(26, 40));
      await receiver.close();
    }
  } finally {
    await t.close();
  }
});
