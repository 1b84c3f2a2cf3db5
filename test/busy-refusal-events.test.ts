/**
 * Overloaded (4 KiB rings, a burst of signals), the server answers every
 * refused frame BUSY but records its refusals as one security event per
 * connection per wire.busyEventIntervalMs, whose detail starts with the
 * count (io/busy-refusal-events.ts): the events are few, and their counts
 * add up to exactly the BUSY answers sent. So do the BUSY answers the
 * shard's supervision gives for what a shard stopped for lack of journal
 * space never took from its ring (io/shard-supervision.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectCodeName, safeInteger, wire } from '@sigplane/protocol';
import { openMaster, range } from './support/e2e';
import { subscribeFrame, v2Body, v2Frame } from './support/signals';
import { WireClient } from './support/wire-client';
import { startTestServer, type TestServer } from './support/test-server';
import { until } from './support/fault-server-process';

let t: TestServer;
const unlimited = { rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 };
/** The security events the server logged (within its log budget, far above what a summary makes). */
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  t = await startTestServer({
    shardCount: 1,
    ringBytes: 4096,
    log: (_level, message, fields) => {
      if (message === 'security event' && fields !== undefined) logged.push(fields);
    },
  });
});
afterAll(async () => {
  await t?.close();
});

describe('BUSY refusals as security events', () => {
  it('every refused frame is answered BUSY; the refusals are recorded as a few counted summaries that add up to them', async () => {
    const s = await t.subscription({ settings: unlimited });
    const master = await openMaster(t, s);
    const startMs = Date.now();
    const count = 2_000;
    for (const sequence of range(1, count)) master.send(v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, sequence)));
    await master.waitFor(() => master.ofKind('ack').length + master.ofKind('reject').length >= count, 20_000);
    const rejects = master.ofKind('reject');
    expect(rejects.length, 'the burst overflowed the ring').toBeGreaterThan(0);
    expect(new Set(rejects.map((f) => rejectCodeName(f.reject.code)))).toEqual(new Set(['BUSY']));
    const acked = master.ofKind('ack').length;
    // Each refused frame has its own answer, naming its sequence.
    expect(rejects.map((f) => safeInteger(f.reject.sequenceNumber))).toEqual(range(acked + 1, count));
    await master.close();
    const elapsedMs = Date.now() - startMs;

    const busyEvents = () => logged.filter((e) => e.code === 'BUSY' && e.subscriptionId === s.subscriptionId);
    const countOf = (e: Record<string, unknown>) => Number(/^([0-9]+) frame\(s\) refused BUSY/.exec(String(e.detail))?.[1] ?? NaN);
    // The close records what was left over.
    await until('the summaries to add up to the BUSY answers', () => busyEvents().reduce((n, e) => n + countOf(e), 0) === rejects.length, 10_000);
    const events = busyEvents();
    // One per interval while refusing, and one at the close.
    expect(events.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / wire.busyEventIntervalMs) + 2);
    expect(events.length).toBeLessThan(rejects.length);
    // The first summary names the first sequence refused.
    expect(events[0]!.sequence).toBe(acked + 1);
    expect(String(events[0]!.detail)).toContain(`from sequence ${acked + 1}`);
  });
});

describe('BUSY answers for what a shard stopped for lack of space never took', () => {
  let stopped: TestServer;
  const events: Array<Record<string, unknown>> = [];
  const messages: string[] = [];

  beforeAll(async () => {
    stopped = await startTestServer({
      shardCount: 1,
      // A reserve no disk has: the journal disk is low from the start, so a shard that dies is taken to have died of it and waits.
      journalDiskReserve: { bytes: Number.MAX_SAFE_INTEGER },
      // The shard dies on its first record, which stays in its ring.
      crashShardAfterRecords: { shardIndex: 0, records: 0 },
      log: (_level, message, fields) => {
        messages.push(message);
        if (message === 'security event' && fields !== undefined) events.push(fields);
      },
    });
  });
  afterAll(async () => {
    await stopped?.close();
  });

  it('are recorded with the other BUSY refusals of the connection: counted summaries that add up to them', async () => {
    const s = await stopped.subscription();
    const receiver = await WireClient.open(stopped.receiverUrl, s.receiverToken);
    // Its subscribe goes to the ring (it grows no journal), and the shard dies on it: the supervision answers it.
    receiver.send(subscribeFrame(null));
    await receiver.waitFor((f) => f.kind === 'reject');
    expect(messages).toContain('shard stopped: no space for its journal; it starts again from its journal once there is room');
    // Subscribing again finds the shard stopped: refused at once, as a full ring refuses.
    receiver.send(subscribeFrame(null));
    await receiver.waitFor(() => receiver.ofKind('reject').length === 2);
    const rejects = receiver.ofKind('reject');
    expect(rejects.map((f) => [rejectCodeName(f.reject.code), f.reject.message])).toEqual([
      ['BUSY', 'engine busy, subscribe again'],
      ['BUSY', 'engine busy, subscribe again'],
    ]);
    await receiver.close();

    const busyEvents = () => events.filter((e) => e.code === 'BUSY' && e.subscriptionId === s.subscriptionId);
    const countOf = (e: Record<string, unknown>) => Number(/^([0-9]+) frame\(s\) refused BUSY/.exec(String(e.detail))?.[1] ?? NaN);
    // The supervision's answer is recorded at once (the connection's first); the second at the close, or at once if the interval has passed.
    await until('the summaries to add up to the BUSY answers', () => busyEvents().reduce((n, e) => n + countOf(e), 0) === rejects.length, 10_000);
    expect(busyEvents().map((e) => [e.role, countOf(e)])).toEqual([
      ['receiver', 1],
      ['receiver', 1],
    ]);
  });
});
