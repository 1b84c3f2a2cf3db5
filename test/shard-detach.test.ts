/**
 * A connection's detach (masterDetach, receiverDetach) must reach its
 * actor even when the shard's ring is full at the moment the connection
 * closes: otherwise the actor keeps the connection among its live
 * receivers (and its shard worker its report bound) for as long as it
 * runs. Real shard workers on tiny rings, driven through ShardHost as the
 * I/O thread drives them.
 *
 * What a lost receiverDetach leaves behind is observable: the worker still
 * takes an execution report "from" the closed connection up to the
 * subscription's last sequence (REPORT_NOT_DELIVERED once the detach
 * arrived).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RejectCode, type ExecutionReportRecord } from '@sigplane/protocol';
import { ShardHost, type ShardHostOptions } from '../engine/shard-host';
import type { ShardInbound, ShardOutbound } from '../engine/shard-protocol';
import { makeSignal } from './fixtures/journal-records';
import { until } from './support/fault-server-process';

const masterConn = 1;
const receiverConn = 2;
const receiverId = 'receiver-token-1';
/** The smallest ring that still carries every record of these tests. */
const tinyRingBytes = 4096;

let host: ShardHost | null = null;
const escalations: Error[] = [];
let dataDir: string | null = null;

afterEach(async () => {
  expect(escalations).toEqual([]);
  await host?.stop();
  host = null;
  if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

function report(sub: string, sequence: number): ExecutionReportRecord {
  const nowMs = Date.now();
  return {
    subscriptionId: sub,
    receiverId,
    sequence,
    masterPositionId: '0',
    kind: 'open',
    outcome: 'filled',
    ticket: '7',
    requestedVolume: 0.1,
    volume: 0.1,
    price: 1.1,
    slippagePips: 0,
    delayMs: 5,
    profit: null,
    currency: null,
    reason: null,
    executedAtMs: nowMs,
    receivedAtMs: nowMs,
  };
}

/** A shard host of one worker on tiny rings, recording what comes back. */
async function startHost(extra: Partial<ShardHostOptions> = {}): Promise<{ host: ShardHost; outbound: ShardOutbound[]; restarts: Error[] }> {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-detach-'));
  const outbound: ShardOutbound[] = [];
  const restarts: Error[] = [];
  escalations.length = 0;
  host = new ShardHost({
    shardCount: 1,
    dataDir,
    journalSync: 'normal',
    ringBytes: tinyRingBytes,
    onOutbound: (message) => void outbound.push(message),
    onOutboundBatchEnd: () => undefined,
    onShardRestart: (_index, error) => void restarts.push(error),
    onEscalate: (_index, error) => void escalations.push(error),
    ...extra,
  });
  await host.start();
  return { host, outbound, restarts };
}

/** A subscription with one accepted signal and a receiver connection caught up and live. */
async function liveReceiver(h: ShardHost, outbound: ShardOutbound[], sub: string): Promise<void> {
  expect(h.send(sub, { t: 'event', sub, ev: { kind: 'masterAttach', connId: masterConn } })).toBe(true);
  expect(h.send(sub, { t: 'event', sub, ev: { kind: 'signal', connId: masterConn, record: makeSignal(sub, 1) } })).toBe(true);
  await until('the ack of signal 1', () => outbound.some((m) => m.t === 'send' && m.kind === 'ack' && m.seq === 1));
  const subscribe: ShardInbound = { t: 'event', sub, ev: { kind: 'receiverSubscribe', connId: receiverConn, receiverId, lastSequence: 0 } };
  expect(h.send(sub, subscribe)).toBe(true);
  await until('the receiver live', () => outbound.some((m) => m.t === 'live' && m.conn === receiverConn));
}

/**
 * Fills the ring in one synchronous run: the worker takes records far more
 * slowly than this loop writes them. Returns how many records went in.
 */
function fillRing(h: ShardHost, sub: string): number {
  const filler = `filler-of-${sub}`;
  for (let written = 0; written < 1_000_000; written++) {
    if (!h.send(filler, { t: 'event', sub: filler, ev: { kind: 'tick' } })) return written;
  }
  throw new Error('the ring never filled');
}

/** Sends the report from the receiver's connection once the ring has room, and waits for the shard's answer to it. */
async function reportAnswer(h: ShardHost, outbound: ShardOutbound[], sub: string): Promise<Extract<ShardOutbound, { t: 'send' }>> {
  const message: ShardInbound = { t: 'report', sub, conn: receiverConn, report: report(sub, 1), remoteAddress: '127.0.0.1' };
  await until('room in the ring for the report', () => h.send(sub, message));
  const isAnswer = (m: ShardOutbound): m is Extract<ShardOutbound, { t: 'send' }> =>
    m.t === 'send' && m.conn === receiverConn && (m.kind === 'reportAck' || m.kind === 'reject');
  await until('the answer to the report', () => outbound.some(isAnswer));
  return outbound.find(isAnswer)!;
}

describe('a detach when the shard ring is full', () => {
  it('is kept and reaches the actor before any later record: the closed connection is no longer a live receiver', async () => {
    const { host: h, outbound } = await startHost();
    const sub = crypto.randomUUID();
    await liveReceiver(h, outbound, sub);

    // Control: while the receiver is attached, a report of signal 1 from its connection is taken.
    const taken = await reportAnswer(h, outbound, sub);
    expect(taken.kind).toBe('reportAck');
    outbound.length = 0;

    // The connection closes while the ring is full.
    expect(fillRing(h, sub)).toBeGreaterThan(0);
    h.send(sub, { t: 'event', sub, ev: { kind: 'receiverDetach', connId: receiverConn } });

    // Whatever comes next from that connection id finds it detached.
    const answer = await reportAnswer(h, outbound, sub);
    expect(answer.kind).toBe('reject');
    expect(answer.outcome).toBe(RejectCode.REPORT_NOT_DELIVERED);
  });

  it('past its bound, the worker is restarted from its journal instead, with no connection in its actors', async () => {
    const backlogMax = 2;
    const { host: h, outbound, restarts } = await startHost({ detachBacklogMax: backlogMax });
    const sub = crypto.randomUUID();
    await liveReceiver(h, outbound, sub);

    // Other connections of the subscription close while the ring stays full, more of them than the backlog holds.
    // The worker may free room between two of these writes: then the backlog empties and the round is tried again.
    let connId = 1_000;
    for (let round = 1; restarts.length === 0; round++) {
      if (round > 50) throw new Error('the backlog never went past its bound');
      fillRing(h, sub);
      for (let i = 0; i <= backlogMax; i++) h.send(sub, { t: 'event', sub, ev: { kind: 'masterDetach', connId: connId++ } });
      await until('a restart, or the backlog written', () => restarts.length > 0 || h.ringDepths()[0]!.detachBacklog === 0);
    }
    expect(restarts.map((e) => e.message)).toEqual([`shard 0: ${backlogMax} connection detaches waited for room in its ring: restarted from its journal`]);
    expect(h.restarts).toBe(1);
    expect(h.ringDepths()[0]!.detachBacklog).toBe(0);

    // The receiver's connection was never detached, but the recovered actor holds no connection: its report is refused.
    outbound.length = 0;
    const answer = await reportAnswer(h, outbound, sub);
    expect(answer.kind).toBe('reject');
    expect(answer.outcome).toBe(RejectCode.REPORT_NOT_DELIVERED);
  });
});
