/**
 * Receiver cursors (a DeliveryAck's sequence) are advisory: a receiver
 * states its last executed sequence when it subscribes. So cursor updates
 * alone do not commit the journal per ack: they ride with the next commit
 * that happens anyway, or commit alone at most once per
 * engine.cursorCommitIntervalMs (docs/reliability.md, "Receiver cursors").
 *
 * - the core on a real journal, its clock moved by the test: what commits when;
 * - a real shard worker: a stream of acks costs a commit or two, not one
 *   per ack; the last cursor still reaches the journal file on its own, and
 *   a worker that crashes after it recovers it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { engine as engineLimits } from '@sigplane/protocol';
import { journalPathOf } from '../persistence/journal';
import { ShardHost } from '../engine/shard-host';
import type { ShardOutbound } from '../engine/shard-protocol';
import { ShardCoreHarness } from './support/shard-core';
import { makeSignal } from './fixtures/journal-records';
import { until } from './support/fault-server-process';
import { SUB, signal } from './actors/fixtures';

const harnesses: ShardCoreHarness[] = [];
let host: ShardHost | null = null;
let dataDir: string | null = null;

afterEach(async () => {
  for (const h of harnesses.splice(0)) h.close();
  await host?.stop();
  host = null;
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

const interval = engineLimits.cursorCommitIntervalMs;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('cursor updates in the shard core', () => {
  function started(): ShardCoreHarness {
    const h = new ShardCoreHarness();
    harnesses.push(h);
    h.start();
    for (const sequence of [1, 2, 3, 4, 5, 6]) h.event(SUB, { kind: 'signal', connId: 1, record: signal(sequence, { orderType: sequence % 2 }) });
    h.flush();
    return h;
  }
  const ack = (h: ShardCoreHarness, receiverId: string, sequence: number): void =>
    h.event(SUB, { kind: 'deliveryAck', connId: 20, receiverId, sequence });
  const cursors = (h: ShardCoreHarness): unknown[] => h.rows('SELECT receiver_id, sequence FROM cursors ORDER BY receiver_id');

  it('commit alone at most once per interval, then the highest held one when it is due', () => {
    const h = started();
    const commits = h.core.stats.journalCommits;
    ack(h, 'r1', 1);
    h.flush(); // the first cursor commit: none was committed before
    expect(h.core.stats.journalCommits).toBe(commits + 1);
    for (const sequence of [2, 3, 4]) {
      h.nowMs += 10;
      ack(h, 'r1', sequence);
      h.flush();
    }
    expect(h.core.stats.journalCommits).toBe(commits + 1);
    expect(cursors(h)).toEqual([{ receiver_id: 'r1', sequence: 1 }]);
    expect(h.core.pendingCursors).toBe(1);
    // The worker sleeps no longer than until they are due.
    expect(h.core.waitMs(h.nowMs, 60_000)).toBe(interval - 30);

    h.nowMs += interval - 30;
    h.core.tick(h.nowMs);
    h.flush();
    expect(h.core.stats.journalCommits).toBe(commits + 2);
    expect(cursors(h)).toEqual([{ receiver_id: 'r1', sequence: 4 }]);
    expect(h.core.pendingCursors).toBe(0);
    expect(h.core.waitMs(h.nowMs, 60_000)).toBe(60_000);
  });

  it('ride with the next commit that happens anyway', () => {
    const h = started();
    ack(h, 'r1', 1);
    h.flush();
    const commits = h.core.stats.journalCommits;
    ack(h, 'r1', 2);
    ack(h, 'r2', 3);
    h.flush();
    expect(h.core.stats.journalCommits).toBe(commits);
    h.event(SUB, { kind: 'signal', connId: 1, record: signal(7, { orderType: 1 }) });
    h.flush();
    expect(h.core.stats.journalCommits).toBe(commits + 1);
    expect(cursors(h)).toEqual([
      { receiver_id: 'r1', sequence: 2 },
      { receiver_id: 'r2', sequence: 3 },
    ]);
  });

  it('are committed when the worker stops', () => {
    const h = started();
    ack(h, 'r1', 1);
    h.flush();
    ack(h, 'r1', 5);
    h.flush();
    expect(cursors(h)).toEqual([{ receiver_id: 'r1', sequence: 1 }]);
    h.record({ t: 'stop' });
    h.flush();
    expect(cursors(h)).toEqual([{ receiver_id: 'r1', sequence: 5 }]);
  });
});

describe('cursor updates in a shard worker', () => {
  it('cost a commit or two for a stream of acks, reach the journal within the interval, and survive a crash', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-cursor-'));
    const outbound: ShardOutbound[] = [];
    const restarts: Error[] = [];
    const signals = 100;
    const acks = 60;
    // attach + signals + acks + a marker: the next record crashes the worker.
    const records = 1 + signals + acks + 1;
    host = new ShardHost({
      shardCount: 1,
      dataDir,
      journalSync: 'normal',
      crashAfterRecords: { shardIndex: 0, records },
      onOutbound: (message) => void outbound.push(message),
      onOutboundBatchEnd: () => undefined,
      onShardRestart: (_index, error) => void restarts.push(error),
      onEscalate: (_index, error) => {
        throw error;
      },
    });
    await host.start();
    const h = host;
    const sub = crypto.randomUUID();
    const receiverId = 'receiver-1';
    /** The first stats record the worker sent after `index`: it counts every commit before what it answered there. */
    const statsAfter = async (what: string, index: () => number): Promise<Extract<ShardOutbound, { t: 'stats' }>> => {
      const find = () => outbound.slice(Math.max(0, index())).find((m): m is Extract<ShardOutbound, { t: 'stats' }> => index() >= 0 && m.t === 'stats');
      await until(`stats after ${what}`, () => find() !== undefined);
      return find()!;
    };

    expect(h.send(sub, { t: 'event', sub, ev: { kind: 'masterAttach', connId: 1 } })).toBe(true);
    for (let sequence = 1; sequence <= signals; sequence++) {
      expect(h.send(sub, { t: 'event', sub, ev: { kind: 'signal', connId: 1, record: makeSignal(sub, sequence) } })).toBe(true);
    }
    const lastAck = () => outbound.findIndex((m) => m.t === 'send' && m.kind === 'ack' && m.seq === signals);
    const commitsBefore = (await statsAfter('the signals', lastAck)).journalCommits;

    // One ack at a time, each taken by the worker as a batch of its own.
    const startMs = Date.now();
    for (let sequence = 1; sequence <= acks; sequence++) {
      expect(h.send(sub, { t: 'event', sub, ev: { kind: 'deliveryAck', connId: 2, receiverId, sequence } })).toBe(true);
      await sleep(3);
    }

    // The last cursor reaches the journal file without any other traffic.
    const reader = new Database(journalPathOf(dataDir, 0), { readonly: true, fileMustExist: true });
    try {
      const cursor = (): number | undefined =>
        (reader.prepare('SELECT sequence FROM cursors WHERE subscription_id = ? AND receiver_id = ?').get(sub, receiverId) as { sequence: number } | undefined)
          ?.sequence;
      await until(`cursor ${acks} in the journal`, () => cursor() === acks);
    } finally {
      reader.close();
    }
    // A marker the worker answers without a commit (a caught-up receiver subscribes): the stats after its answer count every commit.
    expect(h.send(sub, { t: 'event', sub, ev: { kind: 'receiverSubscribe', connId: 9, receiverId: 'marker', lastSequence: signals } })).toBe(true);
    const markerLive = () => outbound.findIndex((m) => m.t === 'live' && m.conn === 9);
    const commitsAfter = (await statsAfter('the marker', markerLive)).journalCommits;
    const elapsedMs = Date.now() - startMs;
    // A commit per ack would be `acks` commits; cursors alone commit once at first, then at most once per interval, however long the run took.
    expect(commitsAfter - commitsBefore).toBeGreaterThanOrEqual(1);
    expect(commitsAfter - commitsBefore).toBeLessThanOrEqual(Math.ceil(elapsedMs / engineLimits.cursorCommitIntervalMs) + 1);
    expect(commitsAfter - commitsBefore).toBeLessThan(acks);

    // The worker crashes (the injected fault); its replacement recovers the cursor from the journal.
    expect(h.send(sub, { t: 'event', sub, ev: { kind: 'tick' } })).toBe(true);
    await until('the restart', () => restarts.length === 1);
    outbound.length = 0;
    await until('the resubscribe taken', () => h.send(sub, { t: 'event', sub, ev: { kind: 'receiverSubscribe', connId: 3, receiverId, lastSequence: null } }));
    await until('the receiver live', () => outbound.some((m) => m.t === 'live' && m.conn === 3));
    const deliveries = outbound.filter((m) => m.t === 'send' && m.conn === 3 && m.kind === 'delivery').map((m) => (m as { seq: number }).seq);
    expect(deliveries).toEqual(Array.from({ length: signals - acks }, (_, i) => acks + 1 + i));
  });
});
