/**
 * The gauges and counters /metrics reads at scrape time (the counters the
 * I/O thread increments itself are in io/metrics.ts). Grouped by what they
 * watch: memory, connections, the shards and their rings, the journals'
 * work, the shipper, the journal disk, the control channel, the rate-limit
 * backend. docs/operations.md lists them all.
 */
import type { JournalSpaceStatus } from '../engine/journal-space';
import type { ShipperStatus } from '../persistence/shipper/shipper';
import type { ConnectionRegistry } from './connections';
import type { ControlListener } from './control-listener';
import { registerMemoryGauges } from './memory-gauges';
import type { Metrics } from './metrics';
import type { RateLimitBackend } from './rate-limit/rate-limit-backend';
import type { ShardReports } from './shard-reports';

/** What the shard host says about its shards, read at scrape time. */
export interface ShardGaugeSources {
  ringDepths(): { shard: number; inboundBytes: number; outboundBytes: number; detachBacklog: number }[];
  readonly restarts: number;
  readonly busyRejects: number;
  readonly diskRefusals: number;
  journalSpace(): JournalSpaceStatus;
}

export interface GaugeSources {
  connections: ConnectionRegistry;
  shards: ShardGaugeSources;
  reports: ShardReports;
  /** The journal shipper's status; undefined without one. */
  shipper: () => ShipperStatus | undefined;
  /** The control channel; null without one. */
  control: () => ControlListener | null;
  rateLimitBackend: RateLimitBackend;
}

export function registerServerGauges(metrics: Metrics, sources: GaugeSources): void {
  registerMemoryGauges(metrics, { shards: () => sources.reports.memory.entries(), shipper: () => sources.shipper()?.memory });
  registerConnectionGauges(metrics, sources.connections);
  registerShardGauges(metrics, sources.shards, sources.reports);
  registerJournalWorkCounters(metrics, sources.reports);
  registerShipperGauges(metrics, sources.shipper);
  registerJournalDiskGauges(metrics, sources.shards);
  registerControlGauges(metrics, sources.control);
  registerRateLimitGauges(metrics, sources.rateLimitBackend);
}

function registerConnectionGauges(metrics: Metrics, connections: ConnectionRegistry): void {
  metrics.gauge('sigplane_connections', 'Open connections by role.', () => {
    const c = connections.counts();
    return [
      { labels: { role: 'master' }, value: c.masters },
      { labels: { role: 'receiver' }, value: c.receivers },
      { labels: { role: 'receiver_live' }, value: c.liveReceivers },
    ];
  });
}

/** The shard workers: what they hold, their rings, their subscriptions, their restarts. */
function registerShardGauges(metrics: Metrics, shards: ShardGaugeSources, reports: ShardReports): void {
  metrics.gauge('sigplane_delivery_window_records', 'Signals held in the delivery windows of each shard worker (at most deliveryWindowRecordsPerShardMax).', () =>
    [...reports.windowRecords].map(([shard, records]) => ({ labels: { shard: String(shard) }, value: records })),
  );
  metrics.gauge('sigplane_ring_depth_bytes', 'Bytes waiting in each ring.', () =>
    shards.ringDepths().flatMap((d) => [
      { labels: { shard: String(d.shard), direction: 'inbound' }, value: d.inboundBytes },
      { labels: { shard: String(d.shard), direction: 'outbound' }, value: d.outboundBytes },
    ]),
  );
  metrics.gauge('sigplane_detach_backlog_records', 'Connection detaches waiting for room in each shard\'s full ring (at most shardDetachBacklogMax).', () =>
    shards.ringDepths().map((d) => ({ labels: { shard: String(d.shard) }, value: d.detachBacklog })),
  );
  metrics.gauge('sigplane_subscriptions', 'Subscriptions by state (as reported since start).', () => {
    const counts = new Map<string, number>();
    for (const state of reports.states.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
    return [...counts].map(([state, value]) => ({ labels: { state }, value }));
  });
  metrics.counterFrom('sigplane_shard_restarts_total', 'Shard workers restarted from their journal.', () => [{ labels: {}, value: shards.restarts }]);
  metrics.counterFrom('sigplane_busy_rejects_total', 'Records refused because a ring was full.', () => [{ labels: {}, value: shards.busyRejects }]);
}

/** Worker counters, summed over the shards and over the workers a restart replaced (reported once a second). */
function registerJournalWorkCounters(metrics: Metrics, reports: ShardReports): void {
  metrics.counterFrom('sigplane_journal_commits_total', 'Journal commits (group commits), all shard workers.', () => [
    { labels: {}, value: reports.total('journalCommits') },
  ]);
  metrics.counterFrom('sigplane_journal_rows_total', 'Rows journaled, all shard workers.', () => [{ labels: {}, value: reports.total('journalRows') }]);
  metrics.counterFrom('sigplane_journal_commit_seconds_total', 'Time spent in journal commits, all shard workers.', () => [
    { labels: {}, value: reports.total('journalCommitMsTotal') / 1000 },
  ]);
}

/** The journal -> Postgres shipper: absent without one. */
function registerShipperGauges(metrics: Metrics, shipping: () => ShipperStatus | undefined): void {
  /** One sample of the shipper's status, none without a shipper. */
  const one = (value: (s: ShipperStatus) => number) => () => {
    const s = shipping();
    return s === undefined ? [] : [{ labels: {}, value: value(s) }];
  };
  metrics.gauge('sigplane_shipper_postgres_up', 'The journal shipper reaches Postgres (1) or is journaling only (0).', one((s) => (s.postgresUp ? 1 : 0)));
  metrics.gauge('sigplane_shipper_lag_rows', 'Journal rows not yet in Postgres.', () =>
    (shipping()?.shards ?? []).flatMap((shard) =>
      Object.entries(shard.tables).map(([table, t]) => ({ labels: { shard: String(shard.shard), table }, value: t.lagRows })),
    ),
  );
  metrics.gauge('sigplane_shipper_lag_seconds', 'Age of the oldest journal row not yet in Postgres.', one((s) => s.lagSeconds));
  metrics.counterFrom('sigplane_shipper_rows_shipped_total', 'Journal rows shipped to Postgres since start.', one((s) => s.shippedRows));
  metrics.gauge('sigplane_journal_disk_bytes', 'Disk used by the shard journals (pages in use plus WAL), per shard.', () =>
    (shipping()?.shards ?? []).map((shard) => ({ labels: { shard: String(shard.shard) }, value: shard.journalBytes })),
  );
  metrics.gauge('sigplane_journal_disk_budget_bytes', 'Disk budget of all shard journals together (--journal-budget).', one((s) => s.journalDisk.budgetBytes));
  metrics.gauge('sigplane_journal_disk_fill_ratio', 'Journal disk used / budget (warning from 0.8, over budget past 1).', one((s) => s.journalDisk.fillRatio));
  metrics.gauge('sigplane_journal_pruned_rows', 'Journal rows deleted after shipping, by table, since the shipper thread started.', () => {
    const s = shipping();
    if (s === undefined) return [];
    return [
      { labels: { table: 'signals' }, value: s.pruned.signals },
      { labels: { table: 'states' }, value: s.pruned.states },
      { labels: { table: 'security_events' }, value: s.pruned.securityEvents },
      { labels: { table: 'execution_reports' }, value: s.pruned.executionReports },
    ];
  });
}

/** The journals' filesystem: free space, the reserve below which new signals are refused, and those refusals. */
function registerJournalDiskGauges(metrics: Metrics, shards: ShardGaugeSources): void {
  metrics.gauge('sigplane_journal_disk_free_bytes', 'Free space of the data folder\'s filesystem, as the journals may use it.', () => {
    const free = shards.journalSpace().freeBytes;
    return free === null ? [] : [{ labels: {}, value: free }];
  });
  metrics.gauge('sigplane_journal_disk_reserve_bytes', 'Free space kept: below it new signals are refused BUSY (--journal-disk-reserve).', () => [
    { labels: {}, value: shards.journalSpace().reserveBytes },
  ]);
  metrics.counterFrom('sigplane_journal_disk_refusals_total', 'Records refused BUSY because the journal disk was low or full.', () => [
    { labels: {}, value: shards.diskRefusals },
  ]);
}

/** The operators' control channel: absent without one. */
function registerControlGauges(metrics: Metrics, control: () => ControlListener | null): void {
  metrics.gauge('sigplane_control_listener_up', 'The operators\' control channel is listening (1) or reconnecting (0); absent without one.', () => {
    const c = control();
    return c === null ? [] : [{ labels: {}, value: c.up ? 1 : 0 }];
  });
  metrics.counterFrom('sigplane_control_listener_connects_total', 'Connects of the control channel since start (more than 1: it reconnected).', () => {
    const c = control();
    return c === null ? [] : [{ labels: {}, value: c.connects }];
  });
}

/** Where rate limits are decided: Redis (cluster-wide) or the stricter per-node fallback. */
function registerRateLimitGauges(metrics: Metrics, backend: RateLimitBackend): void {
  metrics.gauge('sigplane_rate_limit_redis_up', 'Rate limits are decided in Redis, cluster-wide (1), or by the stricter per-node fallback (0); absent without REDIS_URL.', () =>
    backend.redis === null ? [] : [{ labels: {}, value: backend.redis.up ? 1 : 0 }],
  );
  metrics.counterFrom('sigplane_rate_limit_fallback_decisions_total', 'Rate-limit decisions made by the stricter in-memory fallback while Redis was unreachable.', () => [
    { labels: {}, value: backend.fallbackDecisions },
  ]);
}
