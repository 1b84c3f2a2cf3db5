/**
 * A shard worker thread: the wiring of a ShardCore (engine/shard-core.ts,
 * the actors of the subscriptions that hash to this shard and what they
 * do) to the rings and this shard's SQLite journal. One synchronous loop:
 *
 *   drain a batch from the inbound ring -> core.onRecord (actors, effects)
 *   -> core.tick (timers, refusal summaries)
 *   -> core.flush: ONE journal commit for the whole batch, only then the
 *      outbound records into the ring back.
 *
 * A failed commit throws out of flush (having sent nothing of the batch but
 * BUSY answers), and the worker dies; the host restarts it from the
 * journal: at once, or, when the write found no space (exit code
 * journalOutOfSpace), once the disk has room again (engine/shard-host.ts).
 */
import { workerData, parentPort } from 'node:worker_threads';
import { engine as engineLimits } from '@sigplane/protocol';
import { threadMemory } from '../persistence/thread-memory';
import { isOutOfSpace, Journal, type JournalSync } from '../persistence/journal';
import { RingConsumer, RingProducer } from './ring-buffer';
import { ShardCore } from './shard-core';
import { encodeOutbound, shardExitCode, type ShardOutbound } from './shard-protocol';
import type { RefusalBudget } from './shard-security-events';

export interface ShardWorkerData {
  shardIndex: number;
  inRing: SharedArrayBuffer;
  outRing: SharedArrayBuffer;
  journalPath: string;
  journalSync: JournalSync;
  /** Test hook: throw after this many inbound records (fault injection). */
  crashAfterRecords?: number;
  /** Test hook: engine.deliveryWindowRecordsPerShardMax otherwise. */
  windowRecordsMax?: number;
  /** Test hook: the shard's own refusals recorded one by one (securityEvents limits otherwise). */
  refusalBudget?: RefusalBudget;
}

const data = workerData as ShardWorkerData;
const inbound = new RingConsumer(data.inRing);
const outbound = new RingProducer(data.outRing);
const journal = Journal.open(data.journalPath, { sync: data.journalSync });
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** The I/O thread always drains: a full ring back is waited out, never dropped. */
function writeOutbound(message: ShardOutbound): void {
  const bytes = encodeOutbound(message);
  while (!outbound.tryWrite(bytes)) {
    outbound.notify();
    Atomics.wait(sleepCell, 0, 0, 1);
  }
}

const core = new ShardCore({
  journal,
  outbound: { write: writeOutbound, notify: () => outbound.notify() },
  nowMs: () => Date.now(),
  windowRecordsMax: data.windowRecordsMax ?? engineLimits.deliveryWindowRecordsPerShardMax,
  refusalBudget: data.refusalBudget,
});

const onRecord = crashAfter(data.crashAfterRecords, (bytes: Uint8Array) => core.onRecord(bytes));

/** The fault-injection hook: `onRecord` that throws once `records` were taken. */
function crashAfter(records: number | undefined, onRecord: (bytes: Uint8Array) => void): (bytes: Uint8Array) => void {
  if (records === undefined) return onRecord;
  let seen = 0;
  return (bytes) => {
    seen++;
    if (seen > records) throw new Error(`injected fault: shard ${data.shardIndex} crashes after ${records} records`);
    onRecord(bytes);
  };
}

function flush(): void {
  try {
    core.flush();
  } catch (error) {
    if (isOutOfSpace(error)) stopForLackOfSpace();
    throw error;
  }
}

/** No space for the journal: end with the code on which the host waits for space instead of counting a crash. */
function stopForLackOfSpace(): never {
  try {
    journal.close();
  } catch {
    // the file stays as its last commit left it
  }
  process.exit(shardExitCode.journalOutOfSpace);
}

/**
 * Stats go to the I/O thread at most every shardStatsIntervalMs, and only
 * after something happened (records taken, a commit): an idle worker sends
 * nothing and sleeps until records come or something is due.
 */
function loop(): void {
  core.recover();
  flush();
  let lastStatsAtMs = -Infinity;
  let statsDirty = true;
  while (!core.stopping) {
    const taken = inbound.drain(engineLimits.shardBatchRecordsMax, onRecord);
    const nowMs = Date.now();
    const commitsBefore = core.stats.journalCommits;
    core.tick(nowMs);
    flush();
    if (taken > 0 || core.stats.journalCommits !== commitsBefore) statsDirty = true;
    if (statsDirty && nowMs - lastStatsAtMs >= engineLimits.shardStatsIntervalMs) {
      lastStatsAtMs = nowMs;
      statsDirty = false;
      writeOutbound({ t: 'stats', ...core.stats, memory: threadMemory(), windowRecords: core.windowRecords });
      outbound.notify();
    }
    if (taken === 0 && !core.stopping) {
      const statsWaitMs = statsDirty ? Math.max(0, lastStatsAtMs + engineLimits.shardStatsIntervalMs - nowMs) : engineLimits.shardIdleWaitMs;
      inbound.waitSync(Math.min(statsWaitMs, core.waitMs(nowMs, engineLimits.shardIdleWaitMs)));
    }
  }
  journal.close();
  parentPort?.postMessage({ t: 'stopped' });
}

loop();
