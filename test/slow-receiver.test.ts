/**
 * A receiver that stops reading is dropped at its backpressure limit
 * (close 4001) instead of growing server memory, while the other receivers
 * of the subscription get every signal; the slow one resumes and catches up.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { safeInteger } from '@sigplane/protocol';
import { startTestServer, type TestServer } from './support/test-server';
import { v1Fields, v1Frame } from './support/signals';
import { answerFor, deliveredSequences, openMaster, openReceiver, range, sleep, waitForDeliveries } from './support/e2e';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

it('drops a receiver that stops reading, keeps the others whole, and lets it resume', async () => {
  const s = await t.subscription({ settings: { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 } });
  const fastToken = await t.receiverToken(s.subscriptionId);
  const slow = await openReceiver(t, s.receiverToken, 0);
  const fast = await openReceiver(t, fastToken.token, 0);
  slow.ws.pause(); // stops reading: the kernel buffers fill, then the server's
  const master = await openMaster(t, s);
  const total = 60_000;
  let sent = 0;
  while (sent < total && slow.closeCode === null) {
    const batch = Math.min(2_000, total - sent);
    for (let i = 0; i < batch; i++) master.send(v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, ++sent)));
    await answerFor(master, sent, 30_000);
  }
  slow.ws.resume();
  const code = await slow.waitForClose(30_000);
  // 4001 BACKPRESSURE when the close frame still fits; with the buffer full it
  // cannot be queued behind the backlog and the socket is simply closed (1006).
  expect([4001, 1006]).toContain(code);
  const drops = t.server.metrics.backpressureDrops.entries().filter((e) => e.labels.role === 'receiver');
  expect(drops.reduce((sum, e) => sum + e.value, 0)).toBe(1);
  // The fast receiver was never slowed or dropped: it has every signal, once, in order.
  expect(await waitForDeliveries(fast, sent, 30_000)).toEqual(range(1, sent));
  expect(fast.closeCode).toBeNull();
  // The slow one executed a gap-free prefix; it resumes from there and catches up.
  const executed = deliveredSequences(slow);
  expect(executed).toEqual(range(1, executed.length));
  // So far behind, it is resynced by snapshot (cheaper than replaying tens of thousands of signals).
  const again = await openReceiver(t, s.receiverToken, executed.length);
  const snapshot = await again.waitFor((f) => f.kind === 'snapshot', 30_000);
  expect(snapshot.kind === 'snapshot' && safeInteger(snapshot.snapshot.sequenceNumber)).toBe(sent);
  expect(deliveredSequences(again)).toEqual([]);
  await sleep(50);
  await Promise.all([master.close(), fast.close(), again.close()]);
});
