/**
 * Security events on the I/O thread. Each one the I/O thread decides (a
 * refused upgrade, a refused frame, a connection being rate limited) is
 * journaled by a shard: its subscription's, or shard 0 when it has none.
 * Each one is also logged, the shards' own included (they journal theirs
 * and send them back), but within a budget: a flood is journaled in full,
 * and the next line logged says how many were left out.
 */
import { operations, securityEvents, TokenBucket, type SecurityEvent } from '@sigplane/protocol';
import type { ShardInbound } from '../engine/shard-protocol';
import type { Metrics } from './metrics';
import type { ServerLog } from './server-options';

export interface SecurityEventLogDeps {
  metrics: Metrics;
  /** The shard that owns a subscription. */
  shardOf: (subscriptionId: string) => number;
  /** Hand a record to a shard; false when its ring is full. */
  sendToShard: (shardIndex: number, message: ShardInbound) => boolean;
  log: ServerLog;
}

export class SecurityEventLog {
  private readonly budget = new TokenBucket(operations.securityEventLogsPerSecond, operations.securityEventLogsBurst, Date.now());
  private suppressed = 0;

  constructor(private readonly deps: SecurityEventLogDeps) {}

  /** An event the I/O thread decided: logged (within the budget) and journaled (counted as dropped when the ring is full). */
  record(event: SecurityEvent): void {
    if (event.detail.length > securityEvents.detailCharsMax) event.detail = event.detail.slice(0, securityEvents.detailCharsMax);
    this.log(event);
    const shard = event.subscriptionId === null ? 0 : this.deps.shardOf(event.subscriptionId);
    if (!this.deps.sendToShard(shard, { t: 'security', ev: event })) this.deps.metrics.securityEventsDropped.inc();
  }

  /** Logged within the budget; the next line logged says how many were left out. */
  log(event: SecurityEvent): void {
    if (!this.budget.take(Date.now())) {
      this.suppressed++;
      return;
    }
    const { atMs: _atMs, ...fields } = event;
    this.deps.log('warn', 'security event', { ...fields, suppressedBefore: this.suppressed });
    this.suppressed = 0;
  }
}
