/**
 * A shard worker that dies is restarted from its journal: its connections
 * are closed with 1012, clients reconnect and resume, nothing acked is lost
 * and receivers get each signal once, in order.
 *
 * The fault is injected with the server's test hook: shard 0 throws after
 * N inbound records (subscribe, attach, signals, delivery acks all count),
 * once. Each test has its own server, so each has its own crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MasterClient, ReceiverClient, type PublishResult } from '@sigplane/client';
import { safeInteger, stateName } from '@sigplane/protocol';
import { deliveredSequences, range, sleep } from './support/e2e';
import { subscribeFrame, v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient } from './support/wire-client';

const shardRestartCloseCode = 1012;
const fast = { minMs: 20, maxMs: 200 };

let t: TestServer | null = null;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await t?.close();
  t = null;
});

function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe('shard restart', () => {
  it('SDK clients: closed with 1012, reconnect and resume; every publish is acked and receivers execute each signal once in order', async () => {
    // About three records per signal (the signal and two delivery acks): the crash comes around signal 15 of 60.
    t = await startTestServer({ shardCount: 1, crashShardAfterRecords: { shardIndex: 0, records: 45 } });
    const server = t;
    const s = await server.subscription();
    const second = await server.receiverToken(s.subscriptionId);

    const receivers = [s.receiverToken, second.token].map(() => ({
      client: new ReceiverClient(),
      executed: [] as number[],
      closeCodes: [] as number[],
      sessions: 0,
    }));
    for (const [i, token] of [s.receiverToken, second.token].entries()) {
      const r = receivers[i]!;
      cleanups.push(() => r.client.close());
      r.client.on('welcome', () => r.sessions++);
      await r.client.connect(server.receiverUrl, token, {
        lastSequence: 0,
        reconnect: fast,
        onSignal: (d) => void r.executed.push(d.sequenceNumber),
        onSnapshot: () => undefined,
        onClose: (code) => void r.closeCodes.push(code),
      });
    }

    const master = new MasterClient();
    const masterCloses: number[] = [];
    const welcomes: number[] = [];
    cleanups.push(() => master.close());
    master.on('welcome', (w: { lastSequence: number }) => welcomes.push(w.lastSequence));
    await master.connect(server.masterUrl, s.masterToken, {
      signing: { version: 2, keyId: s.macKeyId, key: s.macKey },
      reconnect: fast,
      onClose: (code) => void masterCloses.push(code),
    });

    // Five in flight at a time: some are in the dead shard's ring or batch when it dies.
    const results: PublishResult[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const signals = range(1, 5).map((i) => master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765, action: 1, positionId: batch * 5 + i }));
      results.push(...(await Promise.all(signals)));
    }

    expect(server.server.shardRestarts).toBe(1);
    expect(masterCloses).toEqual([shardRestartCloseCode]);
    // The second welcome's lastSequence came from the journal: the shard recovered what it had committed.
    expect(welcomes.length).toBe(2);
    expect(welcomes[0]).toBe(0);
    expect(welcomes[1]).toBeGreaterThan(0);
    expect(results.map((r) => r.sequence)).toEqual(range(1, 60));
    expect(results.every((r) => r.status === 'ACCEPTED')).toBe(true);

    for (const r of receivers) {
      await r.client.waitFor(60, 15_000);
      expect(r.closeCodes).toEqual([shardRestartCloseCode]);
      expect(r.sessions).toBe(2);
    }
    await sleep(100);
    for (const r of receivers) {
      expect(r.executed).toEqual(range(1, 60));
      expect(r.client.duplicatesIgnored).toBe(0);
    }
    // The restart happened once: the rest flowed through the replacement.
    expect(server.server.shardRestarts).toBe(1);
  });

  it('wire level: every sequence acked before the crash is in the welcome after it; the rest, resent, is accepted and delivered once in order', async () => {
    // attach + subscribe + 20 signals: the shard dies inside the pipelined burst.
    t = await startTestServer({ shardCount: 1, crashShardAfterRecords: { shardIndex: 0, records: 22 } });
    const server = t;
    const s = await server.subscription();

    const receiver = await WireClient.open(server.receiverUrl, s.receiverToken);
    cleanups.push(() => receiver.close());
    receiver.send(subscribeFrame(0));
    await receiver.waitFor((f) => f.kind === 'welcome');
    const master = await WireClient.open(server.masterUrl, s.masterToken);
    cleanups.push(() => master.close());
    await master.waitFor((f) => f.kind === 'welcome');

    const frames = range(1, 60).map((seq) => v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    for (const frame of frames) master.send(frame);
    expect(await master.waitForClose(15_000)).toBe(shardRestartCloseCode);
    expect(await receiver.waitForClose(15_000)).toBe(shardRestartCloseCode);
    expect(server.server.shardRestarts).toBe(1);

    const answersBefore = master.frames.filter((f) => f.kind === 'ack' || f.kind === 'reject');
    const acked = master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber)!);
    expect(master.ofKind('reject')).toEqual([]);
    // In order, from 1, and the crash came before the end.
    expect(acked).toEqual(range(1, acked.length));
    expect(acked.length).toBeLessThan(60);
    expect(answersBefore.length).toBe(acked.length);
    const deliveredBefore = deliveredSequences(receiver);
    expect(deliveredBefore).toEqual(range(1, deliveredBefore.length));

    // Reconnect: nothing acked was lost.
    const master2 = await WireClient.open(server.masterUrl, s.masterToken);
    cleanups.push(() => master2.close());
    const welcome = await master2.waitFor((f) => f.kind === 'welcome');
    const last = welcome.kind === 'welcome' ? safeInteger(welcome.welcome.lastSequence)! : -1;
    expect(last).toBeGreaterThanOrEqual(acked.length);
    expect(welcome.kind === 'welcome' && stateName(welcome.welcome.state)).toBe('ACTIVE');

    const receiver2 = await WireClient.open(server.receiverUrl, s.receiverToken);
    cleanups.push(() => receiver2.close());
    receiver2.send(subscribeFrame(deliveredBefore.length));
    await receiver2.waitFor((f) => f.kind === 'welcome');

    // Resend everything unacked (what the shard committed but never acked answers DUPLICATE).
    for (let seq = acked.length + 1; seq <= 60; seq++) master2.send(frames[seq - 1]!);
    await master2.waitFor((f) => f.kind === 'ack' && safeInteger(f.ack.sequenceNumber) === 60, 15_000);
    const answersAfter = master2.frames.filter((f) => f.kind === 'ack' || f.kind === 'reject');
    expect(master2.ofKind('reject')).toEqual([]);
    expect(master2.ofKind('ack').map((f) => [safeInteger(f.ack.sequenceNumber), f.ack.status === 2 ? 'DUPLICATE' : 'ACCEPTED'])).toEqual(
      range(acked.length + 1, 60).map((seq) => [seq, seq <= last ? 'DUPLICATE' : 'ACCEPTED']),
    );
    expect(answersAfter.length).toBe(60 - acked.length);

    await until(() => deliveredBefore.length + deliveredSequences(receiver2).length >= 60, 'every delivery');
    await sleep(100);
    expect([...deliveredBefore, ...deliveredSequences(receiver2)]).toEqual(range(1, 60));
    expect(receiver2.ofKind('snapshot')).toEqual([]);
    expect(server.server.shardRestarts).toBe(1);
  });

  it('a restart while DEGRADED comes back DEGRADED without the held signals, asks the new master connection to fill the gap, and heals', async () => {
    // Records: attach, 1, 2, 4 (held). The fifth, a receiver's subscribe, kills the shard.
    t = await startTestServer({ shardCount: 1, crashShardAfterRecords: { shardIndex: 0, records: 4 } });
    const server = t;
    const s = await server.subscription();
    const master = await WireClient.open(server.masterUrl, s.masterToken);
    cleanups.push(() => master.close());
    await master.waitFor((f) => f.kind === 'welcome');
    const frames = range(1, 5).map((seq) => v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    master.send(frames[0]!);
    master.send(frames[1]!);
    master.send(frames[3]!);
    const sync = await master.waitFor((f) => f.kind === 'syncRequest');
    expect(sync.kind === 'syncRequest' && [safeInteger(sync.syncRequest.fromSequence), safeInteger(sync.syncRequest.toSequence)]).toEqual([3, 3]);
    expect(master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber))).toEqual([1, 2]);

    const doomed = await WireClient.open(server.receiverUrl, s.receiverToken);
    doomed.send(subscribeFrame(0));
    expect(await doomed.waitForClose()).toBe(shardRestartCloseCode);
    expect(await master.waitForClose()).toBe(shardRestartCloseCode);
    expect(server.server.shardRestarts).toBe(1);
    // 4 was held, never acked.
    expect(master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber))).toEqual([1, 2]);

    const receiver = await WireClient.open(server.receiverUrl, s.receiverToken);
    cleanups.push(() => receiver.close());
    receiver.send(subscribeFrame(0));
    const receiverWelcome = await receiver.waitFor((f) => f.kind === 'welcome');
    expect(receiverWelcome.kind === 'welcome' && stateName(receiverWelcome.welcome.state)).toBe('DEGRADED'); // from the journal

    const master2 = await WireClient.open(server.masterUrl, s.masterToken);
    cleanups.push(() => master2.close());
    const welcome = await master2.waitFor((f) => f.kind === 'welcome');
    expect(welcome.kind === 'welcome' && [stateName(welcome.welcome.state), safeInteger(welcome.welcome.lastSequence)]).toEqual(['DEGRADED', 2]);
    const again = await master2.waitFor((f) => f.kind === 'syncRequest');
    expect(again.kind === 'syncRequest' && [safeInteger(again.syncRequest.fromSequence), safeInteger(again.syncRequest.toSequence)]).toEqual([3, 3]);

    for (const i of [2, 3, 4]) master2.send(frames[i]!);
    await master2.waitFor((f) => f.kind === 'ack' && safeInteger(f.ack.sequenceNumber) === 5);
    expect(master2.ofKind('ack').map((f) => [safeInteger(f.ack.sequenceNumber), f.ack.status === 1 ? 'ACCEPTED' : f.ack.status])).toEqual([
      [3, 'ACCEPTED'],
      [4, 'ACCEPTED'],
      [5, 'ACCEPTED'],
    ]);
    await until(() => deliveredSequences(receiver).length >= 5, 'deliveries 1..5');
    await sleep(50);
    expect(deliveredSequences(receiver)).toEqual([1, 2, 3, 4, 5]);
    expect(receiver.ofKind('stateChange').map((f) => [stateName(f.stateChange.state), safeInteger(f.stateChange.sequenceNumber)])).toEqual([['ACTIVE', 3]]); // whole at 3: 4 was lost with the held buffer, and comes as an ordinary signal
    expect(server.server.shardRestarts).toBe(1);
  });
});
