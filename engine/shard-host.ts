/**
 * The I/O thread's side of the shards: spawns one worker per shard with a
 * ring each way, routes inbound records by subscription, pumps what comes
 * back, and supervises (a worker that dies is restarted from its journal;
 * one that keeps dying escalates instead of looping).
 *
 * Ring ownership (see docs/threads.md):
 *   inbound  ring of shard i: written by the I/O thread, read by worker i
 *   outbound ring of shard i: written by worker i, read by the I/O thread
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRing, RingConsumer, RingProducer } from './ring-buffer';
import { engine as engineLimits } from './limits';
import {
  decodeOutbound,
  encodeInbound,
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
  /** Test hook: make shard i crash after n records, once. */
  crashAfterRecords?: { shardIndex: number; records: number };
  /** Test hook: rings of this size instead of engineLimits.ringBytes (a small ring fills, answering BUSY). */
  ringBytes?: number;
  /** Test hook: the shards' own refusals recorded one by one (securityEvents limits otherwise). */
  refusalBudget?: RefusalBudget;
}

interface Shard {
  index: number;
  worker: Worker;
  producer: RingProducer;
  consumer: RingConsumer;
  ready: Promise<void>;
  restartsAtMs: number[];
  stopping: boolean;
  pumping: boolean;
  /** The worker thread has exited (a dead, escalated shard stays in place with this set). */
  exited: boolean;
}

export class ShardHost {
  private readonly shards: Shard[] = [];
  private stopped = false;
  /** Records refused because a ring was full (answered BUSY). */
  busyRejects = 0;
  restarts = 0;

  constructor(private readonly options: ShardHostOptions) {
    if (!Number.isInteger(options.shardCount) || options.shardCount < 1) {
      throw new Error(`shardCount must be a positive integer, got ${options.shardCount}`);
    }
  }

  get shardCount(): number {
    return this.options.shardCount;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.options.shardCount; i++) this.shards.push(this.spawn(i, [], true));
    await Promise.all(this.shards.map((s) => s.ready));
  }

  shardOf(subscriptionId: string): number {
    return shardOf(subscriptionId, this.options.shardCount);
  }

  /** Hand a record to the subscription's shard; false when its ring is full. */
  send(subscriptionId: string, message: ShardInbound): boolean {
    return this.sendToShard(this.shardOf(subscriptionId), message);
  }

  sendToShard(shardIndex: number, message: ShardInbound): boolean {
    const shard = this.shards[shardIndex];
    if (shard === undefined || this.stopped) return false;
    if (!shard.producer.tryWrite(encodeInbound(message))) {
      this.busyRejects++;
      return false;
    }
    shard.producer.notify();
    return true;
  }

  ringDepths(): { shard: number; inboundBytes: number; outboundBytes: number }[] {
    return this.shards.map((s) => ({
      shard: s.index,
      inboundBytes: s.producer.depthBytes(),
      outboundBytes: s.consumer.depthBytes(),
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
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
      producer: new RingProducer(inRing),
      consumer: new RingConsumer(outRing),
      ready,
      restartsAtMs,
      stopping: false,
      pumping: true,
      exited: false,
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
      const error = lastError ?? new Error(`shard ${index} exited with code ${code}`);
      markFailed(error);
      this.restart(shard, error);
    });
    void this.pump(shard, markReady);
    return shard;
  }

  private restart(dead: Shard, error: Error): void {
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
    }
  }
}
