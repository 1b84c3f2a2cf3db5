/**
 * What the status page shows, as one JSON snapshot: subscriptions with
 * their state, connected masters and receivers and signal rate; totals;
 * latency percentiles; rejects by code. The I/O thread counts accepted
 * signals per subscription here; the rest is read from the server's metrics
 * and connection registry at snapshot time. Snapshots are cached for
 * `statusSnapshotMinIntervalMs`, so any number of open pages cost the same.
 */
import { operations, type SubscriptionState } from '@sigplane/protocol';
import type { Socket } from '../connections';
import type { Metrics } from '../metrics';

export interface StatusSources {
  metrics: Metrics;
  connections: () => Socket[];
  states: () => Iterable<[string, SubscriptionState]>;
  rateLimitSource: () => string;
  tls: boolean;
  nowMs: () => number;
}

export interface SubscriptionStatus {
  subscriptionId: string;
  state: SubscriptionState;
  masters: number;
  receivers: number;
  liveReceivers: number;
  signalsAccepted: number;
  signalsPerSecond: number;
}

export interface LatencySummaryMs {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface StatusSnapshot {
  generatedAt: string;
  uptimeSeconds: number;
  tls: boolean;
  rateLimitSource: string;
  totals: { signalsAccepted: number; duplicates: number; deliveries: number; backpressureDrops: number; masters: number; receivers: number; subscriptions: number };
  rates: { signalsPerSecond: number; deliveriesPerSecond: number };
  latencyMs: { ingestToAck: LatencySummaryMs; ingestToDelivery: LatencySummaryMs };
  rejectsByCode: Record<string, number>;
  rateLimitHits: Record<string, number>;
  subscriptions: SubscriptionStatus[];
}

export class StatusBoard {
  private readonly accepted = new Map<string, number>();
  private readonly startedAtMs: number;
  private cached: { atMs: number; snapshot: StatusSnapshot; acceptedBySub: Map<string, number>; deliveries: number; signals: number } | null = null;

  constructor(private readonly sources: StatusSources) {
    this.startedAtMs = sources.nowMs();
  }

  /** On the hot path: one map update per accepted signal. */
  onAccepted(subscriptionId: string): void {
    const count = this.accepted.get(subscriptionId);
    if (count === undefined && this.accepted.size >= operations.statusTrackedSubscriptionsMax) this.accepted.delete(this.accepted.keys().next().value!);
    this.accepted.set(subscriptionId, (count ?? 0) + 1);
  }

  snapshot(): StatusSnapshot {
    const nowMs = this.sources.nowMs();
    const previous = this.cached;
    if (previous !== null && nowMs - previous.atMs < operations.statusSnapshotMinIntervalMs) return previous.snapshot;
    const { metrics } = this.sources;
    const elapsedSeconds = previous === null ? 0 : (nowMs - previous.atMs) / 1000;
    const perSecond = (now: number, before: number | undefined): number =>
      elapsedSeconds > 0 && before !== undefined ? Math.max(0, (now - before) / elapsedSeconds) : 0;

    const bySub = new Map<string, SubscriptionStatus>();
    const entry = (subscriptionId: string): SubscriptionStatus => {
      let status = bySub.get(subscriptionId);
      if (status === undefined) {
        status = { subscriptionId, state: 'ACTIVE', masters: 0, receivers: 0, liveReceivers: 0, signalsAccepted: 0, signalsPerSecond: 0 };
        bySub.set(subscriptionId, status);
      }
      return status;
    };
    let masters = 0;
    let receivers = 0;
    for (const ws of this.sources.connections()) {
      const data = ws.getUserData().connection;
      const status = entry(data.subscriptionId);
      if (data.role === 'master') {
        status.masters++;
        masters++;
      } else {
        status.receivers++;
        receivers++;
        if (data.live) status.liveReceivers++;
      }
    }
    for (const [subscriptionId, state] of this.sources.states()) entry(subscriptionId).state = state;
    const acceptedBySub = new Map(this.accepted);
    for (const [subscriptionId, count] of acceptedBySub) {
      const status = entry(subscriptionId);
      status.signalsAccepted = count;
      status.signalsPerSecond = perSecond(count, previous?.acceptedBySub.get(subscriptionId) ?? 0);
    }
    const subscriptions = [...bySub.values()]
      .sort((a, b) => b.masters + b.receivers - (a.masters + a.receivers) || b.signalsAccepted - a.signalsAccepted || a.subscriptionId.localeCompare(b.subscriptionId))
      .slice(0, operations.statusSubscriptionsMax);

    const signals = metrics.signalsAccepted.get();
    const deliveries = metrics.deliveries.get();
    const byLabel = (entries: { labels: Record<string, string>; value: number }[], label: string): Record<string, number> =>
      Object.fromEntries(entries.map((e) => [e.labels[label] ?? '', e.value]));
    const snapshot: StatusSnapshot = {
      generatedAt: new Date(nowMs).toISOString(),
      uptimeSeconds: Math.round((nowMs - this.startedAtMs) / 1000),
      tls: this.sources.tls,
      rateLimitSource: this.sources.rateLimitSource(),
      totals: {
        signalsAccepted: signals,
        duplicates: metrics.signalsDuplicate.get(),
        deliveries,
        backpressureDrops: metrics.backpressureDrops.entries().reduce((sum, e) => sum + e.value, 0),
        masters,
        receivers,
        subscriptions: bySub.size,
      },
      rates: { signalsPerSecond: perSecond(signals, previous?.signals), deliveriesPerSecond: perSecond(deliveries, previous?.deliveries) },
      latencyMs: { ingestToAck: summary(metrics.ingestToAck), ingestToDelivery: summary(metrics.ingestToDelivery) },
      rejectsByCode: byLabel(metrics.rejects.entries(), 'code'),
      rateLimitHits: byLabel(metrics.rateLimitHits.entries(), 'limit'),
      subscriptions,
    };
    this.cached = { atMs: nowMs, snapshot, acceptedBySub, deliveries, signals };
    return snapshot;
  }
}

function summary(histogram: Metrics['ingestToAck']): LatencySummaryMs {
  const ms = (q: number): number | null => {
    const seconds = histogram.quantileSeconds(q);
    return seconds === null ? null : Math.round(seconds * 1e6) / 1e3;
  };
  return { count: histogram.observations, p50: ms(0.5), p90: ms(0.9), p99: ms(0.99) };
}
