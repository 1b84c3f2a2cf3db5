/**
 * What the shard workers report to the I/O thread, kept for /metrics, the
 * status page and incident control: each subscription's state as its actor
 * last reported it, and, once a second, each worker's journal counters, its
 * memory and the signals in its delivery windows. A restarted worker counts
 * from zero: what the one it replaced had reported is kept, so a counter
 * never goes down (at most its last second is lost).
 */
import type { SubscriptionState } from '@sigplane/protocol';
import type { ShardOutbound } from '../engine/shard-protocol';
import type { ThreadMemory } from '../persistence/thread-memory';

/** A worker's journal counters (summed over the workers for /metrics). */
export interface WorkerCounters {
  journalCommits: number;
  journalRows: number;
  journalCommitMsTotal: number;
}

export class ShardReports {
  /** Each subscription's state, as its actor last reported it (recovered or changed) since start. */
  readonly states = new Map<string, SubscriptionState>();
  /** Each worker's memory as it last reported. */
  readonly memory = new Map<number, ThreadMemory>();
  /** Each worker's delivery windows (signals held) as it last reported. */
  readonly windowRecords = new Map<number, number>();
  private readonly counters = new Map<number, WorkerCounters>();
  /** What replaced workers had reported before they were replaced. */
  private readonly retired: WorkerCounters = { journalCommits: 0, journalRows: 0, journalCommitMsTotal: 0 };

  /** A worker's once-a-second report. */
  onStats(shardIndex: number, stats: Extract<ShardOutbound, { t: 'stats' }>): void {
    this.counters.set(shardIndex, { journalCommits: stats.journalCommits, journalRows: stats.journalRows, journalCommitMsTotal: stats.journalCommitMsTotal });
    this.memory.set(shardIndex, stats.memory);
    this.windowRecords.set(shardIndex, stats.windowRecords);
  }

  /** The shard's worker was replaced: what it had reported is kept in the totals. */
  retire(shardIndex: number): void {
    const before = this.counters.get(shardIndex);
    if (before === undefined) return;
    this.retired.journalCommits += before.journalCommits;
    this.retired.journalRows += before.journalRows;
    this.retired.journalCommitMsTotal += before.journalCommitMsTotal;
    this.counters.delete(shardIndex);
  }

  /** A counter summed over the workers, and over the workers restarts replaced. */
  total(field: keyof WorkerCounters): number {
    let total = this.retired[field];
    for (const c of this.counters.values()) total += c[field];
    return total;
  }
}
