/**
 * The I/O thread's side of the shards: spawns one worker per shard with a
 * ring each way, routes inbound records by subscription, pumps what comes
 * back, and supervises (a worker that dies is restarted from its journal;
 * one that keeps dying escalates instead of looping).
 *
 * The journals' disk (engine/journal-space.ts): below the reserve, records
 * that would grow a journal are refused (BUSY) here, before any write can
 * fail. A worker that died for lack of space (its journal write found none,
 * or it died while the disk was below the reserve or nearly full) is not a
 * crash: it does not count towards escalation, it stays stopped while the
 * disk is short (its records, and those left in its ring, answered BUSY),
 * and starts again from its journal once free space is back at the resume
 * mark. Nothing loops on a full disk.
 *
 * A full ring refuses a record (BUSY), except a connection's detach: the
 * actor would keep a closed connection (among its live receivers, its
 * masters, and the worker its report bound) for as long as it runs. A
 * detach the ring has no room for waits in its shard's bounded backlog and
 * is written before any new record (a new record that finds the backlog
 * still waiting is refused), and at the latest when the worker next
 * answers or reports (at least once a second). A worker that lets
 * engine.shardDetachBacklogMax detaches pile up is ended and restarted
 * from its journal, which rebuilds its actors without any connection.
 *
 * Ring ownership (see docs/threads.md):
 *   inbound  ring of shard i: written by the I/O thread, read by worker i
 *   outbound ring of shard i: written by worker i, read by the I/O thread
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRing, RingConsumer, RingProducer } from './ring-buffer';
import { engine as engineLimits, journalDisk } from '@sigplane/protocol';
import {
  growsJournal,
  journalDiskReserveDefault,
  JournalSpaceWatch,
  type JournalDiskReserve,
  type JournalSpaceLevel,
  type JournalSpaceStatus,
} from './journal-space';
import {
  decodeInbound,
  decodeOutbound,
  encodeInbound,
  shardExitCode,
  shardOf,
  type ShardInbound,
  type ShardOutbound,
} from './shard-protocol';
import { journalPathOf, type JournalSync } from '../persistence/journal';
import type { ShardWorkerData } from './shard-worker';
import type { RefusalBudget } from './shard-security-events';

/** Workers run compiled code: beside this file in dist/, or dist/ when this runs from source (tests). */
function shardWorkerFile(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'shard-worker.js');
  return path.resolve(__dirname, '../dist/engine/shard-worker.js');
}

export interface ShardHostOptions {
  shardCount: number;
  dataDir: string;
  journalSync: JournalSync;
  /** Called on the I/O thread for every record a shard sends back, in order. */
  onOutbound: (message: ShardOutbound, shardIndex: number) => void;
  /** Called after each batch of onOutbound calls (the I/O thread flushes its corked sends). */
  onOutboundBatchEnd: () => void;
  /** A shard was restarted: its subscriptions' connections must resync. */
  onShardRestart: (shardIndex: number, error: Error) => void;
  /** A shard died more than shardRestartsMax times in the window. */
  onEscalate: (shardIndex: number, error: Error) => void;
  /** Free space kept on the data folder's filesystem (default journalDiskReserveDefault). */
  journalDiskReserve?: JournalDiskReserve;
  /** The journal disk's level changed (ok, low, full). */
  onJournalSpace?: (status: JournalSpaceStatus, previous: JournalSpaceLevel) => void;
  /**
   * A shard stopped for lack of space and waits for it. Its connections stay
   * open, every record for it refused BUSY; they resync when it is back
   * (onShardRestart).
   */
  onShardWaitingForSpace?: (shardIndex: number, error: Error) => void;
  /** A record a shard stopped for lack of space never took (it was in its ring): to be answered BUSY. */
  onNotTaken?: (message: ShardInbound, shardIndex: number) => void;
  /** Test hook: make shard i crash after n records, once. */
  crashAfterRecords?: { shardIndex: number; records: number };
  /** Test hook: rings of this size instead of engineLimits.ringBytes (a small ring fills, answering BUSY). */
  ringBytes?: number;
  /** Test hook: detaches kept per shard while its ring is full, instead of engineLimits.shardDetachBacklogMax. */
  detachBacklogMax?: number;
  /** Test hook: each worker's delivery windows hold this many signals together instead of engineLimits.deliveryWindowRecordsPerShardMax. */
  windowRecordsPerShardMax?: number;
  /** Test hook: the shards' own refusals recorded one by one (securityEvents limits otherwise). */
  refusalBudget?: RefusalBudget;
}

interface Shard {
  index: number;
  worker: Worker;
  inRing: SharedArrayBuffer;
  producer: RingProducer;
  consumer: RingConsumer;
  ready: Promise<void>;
  restartsAtMs: number[];
  stopping: boolean;
  pumping: boolean;
  /** The worker thread has exited (a dead, escalated shard stays in place with this set). */
  exited: boolean;
  /** Detaches its ring had no room for, oldest first: written before any new record (see the header). */
  detachBacklog: ShardInbound[];
  /** Why the host ended this worker itself (a detach backlog past its bound); null: it was not. */
  endedBy: Error | null;
}

/** A connection's detach: the one record that must reach its actor, full ring or not. */
function isDetach(message: ShardInbound): boolean {
  return message.t === 'event' && (message.ev.kind === 'masterDetach' || message.ev.kind === 'receiverDetach');
}

export class ShardHost {
  private readonly shards: Shard[] = [];
  private stopped = false;
  /** Records refused because a ring was full (answered BUSY). */
  busyRejects = 0;
  /** Records refused because the journal disk was short (answered BUSY). */
  diskRefusals = 0;
  restarts = 0;
  private readonly space: JournalSpaceWatch;
  /** Shards stopped for lack of space, started again once there is room. */
  private readonly waitingForSpace = new Set<number>();

  constructor(private readonly options: ShardHostOptions) {
    if (!Number.isInteger(options.shardCount) || options.shardCount < 1) {
      throw new Error(`shardCount must be a positive integer, got ${options.shardCount}`);
    }
    this.space = new JournalSpaceWatch({
      dir: options.dataDir,
      reserve: options.journalDiskReserve ?? journalDiskReserveDefault,
      onChange: (status, previous) => this.onSpaceChange(status, previous),
    });
  }

  /** The journal disk: level, free space, reserve (for /readyz and /metrics). */
  journalSpace(): JournalSpaceStatus {
    return this.space.status;
  }

  get shardCount(): number {
    return this.options.shardCount;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.options.shardCount; i++) this.shards.push(this.spawn(i, [], true));
    await Promise.all(this.shards.map((s) => s.ready));
    // The workers made the data folder: from here on its free space is watched.
    this.space.start();
  }

  shardOf(subscriptionId: string): number {
    return shardOf(subscriptionId, this.options.shardCount);
  }

  /** Hand a record to the subscription's shard; false when its ring is full. */
  send(subscriptionId: string, message: ShardInbound): boolean {
    return this.sendToShard(this.shardOf(subscriptionId), message);
  }

  /**
   * False when the record was refused (its ring full, the journal disk
   * short, the shard down). A detach is never refused for a full ring: it
   * waits in the shard's backlog (see the header).
   */
  sendToShard(shardIndex: number, message: ShardInbound): boolean {
    const shard = this.shards[shardIndex];
    // A dead shard's ring has no reader: what went in would never be answered.
    if (shard === undefined || this.stopped || shard.exited) return false;
    if (this.space.refusing && growsJournal(message)) {
      this.diskRefusals++;
      return false;
    }
    // Detaches kept back go first: no new record overtakes them into the ring.
    if (shard.detachBacklog.length !== 0 && !this.flushDetaches(shard)) return this.ringFull(shard, message);
    if (!shard.producer.tryWrite(encodeInbound(message))) return this.ringFull(shard, message);
    shard.producer.notify();
    return true;
  }

  /** The shard's ring has no room for `message`: a detach waits in the backlog, anything else is refused (BUSY). */
  private ringFull(shard: Shard, message: ShardInbound): boolean {
    if (!isDetach(message)) {
      this.busyRejects++;
      return false;
    }
    if (shard.detachBacklog.length < (this.options.detachBacklogMax ?? engineLimits.shardDetachBacklogMax)) {
      shard.detachBacklog.push(message);
      return true;
    }
    // Its worker has not taken its ring for that many closes: a restart from its journal forgets every connection instead.
    if (shard.endedBy === null) {
      shard.endedBy = new Error(`shard ${shard.index}: ${shard.detachBacklog.length} connection detaches waited for room in its ring: restarted from its journal`);
      void shard.worker.terminate();
    }
    return true;
  }

  /** Writes the detaches kept back, oldest first, as far as the ring has room; true when none is left. */
  private flushDetaches(shard: Shard): boolean {
    const backlog = shard.detachBacklog;
    let written = 0;
    while (written < backlog.length && shard.producer.tryWrite(encodeInbound(backlog[written]!))) written++;
    if (written > 0) {
      backlog.splice(0, written);
      shard.producer.notify();
    }
    return backlog.length === 0;
  }

  ringDepths(): { shard: number; inboundBytes: number; outboundBytes: number; detachBacklog: number }[] {
    return this.shards.map((s) => ({
      shard: s.index,
      inboundBytes: s.producer.depthBytes(),
      outboundBytes: s.consumer.depthBytes(),
      detachBacklog: s.detachBacklog.length,
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.space.stop();
    await Promise.all(
      this.shards.map(async (shard) => {
        shard.stopping = true;
        // An escalated shard's worker is already gone: nothing to wait for.
        if (shard.exited) return;
        const exited = new Promise<void>((resolve) => shard.worker.once('exit', () => resolve()));
        shard.producer.tryWrite(encodeInbound({ t: 'stop' }));
        shard.producer.notify();
        const timeout = setTimeout(() => void shard.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timeout);
      }),
    );
  }

  private spawn(index: number, restartsAtMs: number[], first: boolean): Shard {
    const ringBytes = this.options.ringBytes ?? engineLimits.ringBytes;
    const inRing = createRing(ringBytes);
    const outRing = createRing(ringBytes);
    const crash = this.options.crashAfterRecords;
    const workerData: ShardWorkerData = {
      shardIndex: index,
      inRing,
      outRing,
      journalPath: journalPathOf(this.options.dataDir, index),
      journalSync: this.options.journalSync,
      crashAfterRecords: first && crash !== undefined && crash.shardIndex === index ? crash.records : undefined,
      windowRecordsMax: this.options.windowRecordsPerShardMax,
      refusalBudget: this.options.refusalBudget,
    };
    const worker = new Worker(shardWorkerFile(), { workerData });
    let markReady: () => void = () => undefined;
    let markFailed: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    const shard: Shard = {
      index,
      worker,
      inRing,
      producer: new RingProducer(inRing),
      consumer: new RingConsumer(outRing),
      ready,
      restartsAtMs,
      stopping: false,
      pumping: true,
      exited: false,
      detachBacklog: [],
      endedBy: null,
    };
    let lastError: Error | null = null;
    worker.on('error', (error) => {
      lastError = error;
    });
    worker.on('exit', (code) => {
      shard.exited = true;
      shard.pumping = false;
      // Take whatever the worker managed to send before it died: it was committed.
      this.drain(shard, Number.MAX_SAFE_INTEGER);
      if (shard.stopping || this.stopped) return;
      const error = shard.endedBy ?? lastError ?? new Error(`shard ${index} exited with code ${code}`);
      markFailed(error);
      this.restart(shard, error, code);
    });
    void this.pump(shard, markReady);
    return shard;
  }

  private restart(dead: Shard, error: Error, exitCode: number): void {
    if (exitCode === shardExitCode.journalOutOfSpace || this.shortOfSpace()) return this.waitForSpace(dead, error, exitCode);
    const nowMs = Date.now();
    const recent = dead.restartsAtMs.filter((at) => nowMs - at < engineLimits.shardRestartWindowMs);
    if (recent.length >= engineLimits.shardRestartsMax) {
      this.options.onEscalate(dead.index, error);
      return;
    }
    recent.push(nowMs);
    this.restarts++;
    const replacement = this.spawn(dead.index, recent, false);
    replacement.ready.catch(() => undefined);
    this.shards[dead.index] = replacement;
    // Connections of this shard's subscriptions lost their actor-side state: they reconnect and resume.
    this.options.onShardRestart(dead.index, error);
  }

  /** Below the reserve, or nearly full, right now: a worker that died then is taken to have died of it. */
  private shortOfSpace(): boolean {
    const status = this.space.checkNow();
    return status.level !== 'ok' || (status.freeBytes !== null && status.freeBytes < journalDisk.nearlyFullBytes);
  }

  private waitForSpace(dead: Shard, error: Error, exitCode: number): void {
    const cause = exitCode === shardExitCode.journalOutOfSpace ? new Error(`shard ${dead.index}: a journal write found no space left (SQLITE_FULL)`, { cause: error }) : error;
    this.waitingForSpace.add(dead.index);
    this.space.reportFull();
    this.options.onShardWaitingForSpace?.(dead.index, cause);
    // Its reader is gone: the I/O thread takes over the ring, so what was left in it gets an answer now.
    const left = new RingConsumer(dead.inRing).drain(Number.MAX_SAFE_INTEGER, (bytes) => this.options.onNotTaken?.(decodeInbound(bytes), dead.index));
    if (left > 0) this.options.onOutboundBatchEnd();
  }

  private onSpaceChange(status: JournalSpaceStatus, previous: JournalSpaceLevel): void {
    this.options.onJournalSpace?.(status, previous);
    if (status.level !== 'ok' || this.stopped) return;
    for (const index of [...this.waitingForSpace]) {
      this.waitingForSpace.delete(index);
      const dead = this.shards[index]!;
      this.restarts++;
      const replacement = this.spawn(index, dead.restartsAtMs, false);
      replacement.ready.catch(() => undefined);
      this.shards[index] = replacement;
      // Connections opened while it waited were refused at attach or subscribe: they resync now.
      this.options.onShardRestart(index, new Error(`shard ${index}: restarted once its journal disk had room again`));
    }
  }

  private drain(shard: Shard, max: number): number {
    const taken = shard.consumer.drain(max, (bytes) => {
      const message = decodeOutbound(bytes);
      if (message.t === 'ready') return;
      this.options.onOutbound(message, shard.index);
    });
    if (taken > 0) this.options.onOutboundBatchEnd();
    return taken;
  }

  /** The I/O thread's read loop for one shard: never blocks the event loop. */
  private async pump(shard: Shard, markReady: () => void): Promise<void> {
    let isReady = false;
    while (shard.pumping && !this.stopped) {
      const taken = shard.consumer.drain(engineLimits.shardBatchRecordsMax, (bytes) => {
        const message = decodeOutbound(bytes);
        if (message.t === 'ready') {
          isReady = true;
          markReady();
          return;
        }
        this.options.onOutbound(message, shard.index);
      });
      if (taken > 0) this.options.onOutboundBatchEnd();
      else await shard.consumer.waitAsync(isReady ? 1_000 : 100);
      // The worker took records meanwhile (it answers after each batch, and reports once a second): room for those kept back.
      if (shard.detachBacklog.length !== 0 && !shard.exited) this.flushDetaches(shard);
    }
  }
}
