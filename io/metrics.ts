/**
 * A small Prometheus registry for the I/O thread: counters (with one label
 * set each), gauges and counters read at scrape time (what worker threads
 * and the shipper report), and latency histograms with fixed buckets.
 * Rendering is a pure function of the registry, in the text format that
 * `promtool check metrics` accepts (counters end in _total, units in names).
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels, value: by });
    else entry.value += by;
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  /** Every label set and its value (the status page). */
  entries(): { labels: Labels; value: number }[] {
    return [...this.values.values()].map(({ labels, value }) => ({ labels: { ...labels }, value }));
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const { labels, value } of this.values.values()) out += `${this.name}${labelText(labels)} ${value}\n`;
    return out;
  }
}

/** Latency in seconds; buckets from 25 us to 1 s. */
const latencyBucketsSeconds = [
  0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** Copy delay as receivers report it (generated_at to execution), seconds. */
export const copyDelayBucketsSeconds = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Slippage as receivers report it, pips (negative: better for the subscriber). */
export const slippageBucketsPips = [-10, -5, -2, -1, -0.5, 0, 0.5, 1, 2, 5, 10, 20, 50];

class Histogram {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[] = latencyBucketsSeconds,
  ) {
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  /** One observation (in the histogram's unit: seconds for the latency ones). */
  observe(value: number): void {
    this.observeSeconds(value);
  }
  observeSeconds(value: number): void {
    const latencyBucketsSeconds = this.buckets;
    this.count++;
    this.sum += value;
    for (let i = 0; i < latencyBucketsSeconds.length; i++) {
      if (value <= latencyBucketsSeconds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }
  get observations(): number {
    return this.count;
  }
  /**
   * The q-quantile (0 < q < 1) estimated from the buckets as Prometheus'
   * histogram_quantile does (linear within a bucket); null with no observation.
   */
  quantileSeconds(q: number): number | null {
    const latencyBucketsSeconds = this.buckets;
    if (this.count === 0) return null;
    const rank = q * this.count;
    let cumulative = 0;
    for (let i = 0; i < latencyBucketsSeconds.length; i++) {
      const inBucket = this.counts[i]!;
      if (cumulative + inBucket >= rank && inBucket > 0) {
        const lower = i === 0 ? 0 : latencyBucketsSeconds[i - 1]!;
        const upper = latencyBucketsSeconds[i]!;
        return lower + (upper - lower) * ((rank - cumulative) / inBucket);
      }
      cumulative += inBucket;
    }
    return latencyBucketsSeconds[latencyBucketsSeconds.length - 1]!; // in the +Inf bucket: at least the last bound
  }
  render(): string {
    const latencyBucketsSeconds = this.buckets;
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i < latencyBucketsSeconds.length; i++) {
      cumulative += this.counts[i]!;
      out += `${this.name}_bucket{le="${latencyBucketsSeconds[i]}"} ${cumulative}\n`;
    }
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

export type GaugeReader = () => { labels: Labels; value: number }[];

/** Prometheus metric names: counters end in _total, nothing else does. */
const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class Metrics {
  readonly signalsAccepted = new Counter('sigplane_signals_accepted_total', 'Signals accepted and journaled.');
  readonly signalsDuplicate = new Counter('sigplane_signals_duplicate_total', 'Exact duplicates of accepted signals (acked, not forwarded).');
  readonly rateLimitHits = new Counter('sigplane_rate_limit_hits_total', 'Frames or upgrades refused by a rate limit, by limit (connection, subscription, upgrade_ip).');
  readonly rejects = new Counter('sigplane_rejects_total', 'Frames rejected, by stable code.');
  readonly upgradesRefused = new Counter('sigplane_upgrades_refused_total', 'WebSocket upgrades refused, by reason.');
  readonly upgradesClosedByCork = new Counter('sigplane_upgrades_closed_by_cork_total', 'Upgrades uWebSockets closed inside the cork that made them (a known uWS bug; io/async-upgrade-guard.ts); after the first, upgrades are not corked.');
  readonly deliveries = new Counter('sigplane_deliveries_total', 'Delivery frames sent to receivers.');
  readonly backpressureDrops = new Counter('sigplane_backpressure_drops_total', 'Connections closed for being too slow for what they are sent, by role and reason (read_lag, unread_bytes, send_buffer_full); they resume on reconnect.');
  readonly operatorCloses = new Counter('sigplane_operator_closes_total', 'Connections closed because what let them in ended, by reason: an operator action (ISOLATED, REVOKED), an expired token (EXPIRED), an allowlist change (IP_NOT_ALLOWED).');
  readonly policyCloses = new Counter('sigplane_policy_closes_total', 'Connections the server closed for what they sent, by reason (RATE_LIMITED: kept sending past its limit).');
  readonly securityEventsDropped = new Counter('sigplane_security_events_dropped_total', 'Security events not journaled because a ring was full.');
  readonly receiverAcks = new Counter('sigplane_receiver_acks_total', 'DeliveryAck frames received from receivers.');
  readonly receiverCursorUpdates = new Counter('sigplane_receiver_cursor_updates_total', 'Receiver cursor updates handed to the shards: the highest DeliveryAck of a connection, at most one per receiverAckForwardIntervalMs.');
  readonly ingestToAck = new Histogram('sigplane_ingest_to_ack_seconds', 'From a signal frame arriving to its ack being sent.');
  readonly ingestToDelivery = new Histogram('sigplane_ingest_to_delivery_seconds', 'From a signal frame arriving to its live delivery being sent.');
  readonly executionReports = new Counter('sigplane_execution_reports_total', 'Execution reports journaled and acked, by kind and outcome (a resent report counts again).');
  readonly copyDelay = new Histogram('sigplane_copy_delay_seconds', 'Copy delay as receivers report it: from the master\'s generated_at to the receiver\'s execution.', copyDelayBucketsSeconds);
  readonly copySlippage = new Histogram('sigplane_copy_slippage_pips', 'Fill slippage as receivers report it, in pips (positive: worse for the subscriber).', slippageBucketsPips);
  private readonly readers: { name: string; help: string; type: 'gauge' | 'counter'; read: GaugeReader }[] = [];

  /** A value read at scrape time. */
  gauge(name: string, help: string, read: GaugeReader): void {
    if (!metricNamePattern.test(name) || name.endsWith('_total')) throw new Error(`bad gauge name ${name}`);
    this.readers.push({ name, help, type: 'gauge', read });
  }

  /** A count kept elsewhere (a worker thread, the shipper), read at scrape time; it must never go down. */
  counterFrom(name: string, help: string, read: GaugeReader): void {
    if (!metricNamePattern.test(name) || !name.endsWith('_total')) throw new Error(`counter names end in _total: ${name}`);
    this.readers.push({ name, help, type: 'counter', read });
  }

  render(): string {
    let out = '';
    for (const c of [this.signalsAccepted, this.signalsDuplicate, this.rateLimitHits, this.rejects, this.upgradesRefused, this.deliveries, this.backpressureDrops, this.operatorCloses, this.policyCloses, this.securityEventsDropped, this.receiverAcks, this.receiverCursorUpdates, this.executionReports]) {
      out += c.render();
    }
    out += this.ingestToAck.render();
    out += this.ingestToDelivery.render();
    out += this.copyDelay.render();
    out += this.copySlippage.render();
    for (const g of this.readers) {
      out += `# HELP ${g.name} ${g.help}\n# TYPE ${g.name} ${g.type}\n`;
      for (const { labels, value } of g.read()) out += `${g.name}${labelText(labels)} ${value}\n`;
    }
    return out;
  }
}

/** Prometheus text as render() writes it, read back: `name{labels}` -> value (for the benches and tests that scrape /metrics). */
export function parseMetricsText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}
