/**
 * One load run of one workload against one system: receivers connected in
 * worker threads, masters in this thread, the open-loop schedule
 * (workload.ts) driven by precise wake-ups, then a drain and an exact count
 * of what arrived. Server CPU and RSS, and this process's own CPU, are
 * measured over the measured window only (warm-up excluded).
 */
import { nowNs, spinUntil } from './clock';
import { DeliveryTally } from './delivery-tally';
import { mergeHistograms, newLatencyHistogram, recordLatency, summarize, type LatencySummary } from './latency';
import { signalBytes } from './payload';
import { PreciseWaker } from './precise-waker';
import { ProcessWatch } from './process-stats';
import { ReceiverPool } from './receiver-pool';
import type { MasterLink, SystemAdapter } from './system';
import { dueNs, dueNsOf, scheduleFor, signalsOf, type Schedule, type SystemName, type Workload } from './workload';

export interface RunResult {
  system: SystemName;
  workload: Workload;
  signalBytes: number;
  /** master send (due time) -> receiver receive, first deliveries of signals due in the window. */
  delivery: LatencySummary;
  /** The same for the signals due in the window's first second and in its last (keeps-up.ts compares them). */
  deliveryFirstSecond: LatencySummary;
  deliveryLastSecond: LatencySummary;
  /** master send (due time) -> the system's ack (see each adapter for what an ack is). */
  ack: LatencySummary;
  /** How late the sender was against the schedule (load-side health; already included above). */
  senderLateness: LatencySummary;
  sentPerSecond: number;
  ackedPerSecond: number;
  deliveriesPerSecond: number;
  signalsSent: number;
  acked: number;
  refused: number;
  /** Signals sent again because the system said so (sigplane: BUSY, a full shard ring). */
  resent: number;
  refusedCodes: Record<string, number>;
  expectedDeliveries: number;
  deliveries: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Receivers the server closed (sigplane: too slow, BACKPRESSURE) that resumed from their last sequence. */
  receiverReconnects: number;
  serverCpuCores: number | null;
  serverPeakRssBytes: number | null;
  /** CPU of the whole load process (all its threads), in cores. */
  loadCpuCores: number;
  receiverThreads: number;
  /** Highest event-loop utilization of a receiver thread in the window. */
  receiverThreadMaxUtilization: number;
  /** Why the load side may have been the bottleneck (null: it was not). */
  loadSaturation: string | null;
}

/**
 * Signals neither acked nor refused by the end of the drain: the system had
 * not accepted them (sigplane: still in the master's outbox, held back by
 * BUSY). Their deliveries are counted in `lost`; an acked signal is not
 * among them.
 */
export function unacceptedSignals(r: Pick<RunResult, 'signalsSent' | 'acked' | 'refused'>): number {
  return Math.max(0, r.signalsSent - r.acked - r.refused);
}

/** Server CPU per delivery in the window, µs (server CPU seconds over the window / deliveries in it); null when unknown. */
export function serverCpuUsPerDelivery(r: Pick<RunResult, 'serverCpuCores' | 'deliveriesPerSecond'>): number | null {
  return r.serverCpuCores === null || !(r.deliveriesPerSecond > 0) ? null : (r.serverCpuCores / r.deliveriesPerSecond) * 1e6;
}

export interface RunOptions {
  /** Receiver worker threads; default: one per 75,000 deliveries/s, 1..3. */
  receiverThreads?: number;
  /** Longest wait for late deliveries and acks after the last send. */
  drainMs?: number;
}

/** Ask the waker for this much before the due time, then spin. */
const wakeLeadNs = 150_000;
/** Below this gap to the next send, poll the event loop instead of sleeping (high rates). */
const pollBelowIntervalNs = 2 * wakeLeadNs;
/** Sends per turn of the event loop when behind schedule (acks must get in). */
const sendsPerTurnMax = 256;
/** Time between the last setup step and the first due signal. */
const startLeadNs = 300_000_000;
const deliveriesPerReceiverThread = 75_000;
const receiverThreadsMax = 3;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function defaultReceiverThreads(w: Workload): number {
  const deliveriesPerSecond = w.ratePerSecond * w.receiversPerSubscription;
  return Math.max(1, Math.min(receiverThreadsMax, Math.ceil(deliveriesPerSecond / deliveriesPerReceiverThread)));
}

/** The open-loop sender: sends signal k at its due time, or as soon as it can when behind (never skips one). */
async function sendOnSchedule(s: Schedule, masters: MasterLink[], waker: PreciseWaker, onSent: (k: number, lateNs: number) => void): Promise<void> {
  let k = 0;
  while (k < s.total) {
    let sent = 0;
    for (let now = nowNs(); k < s.total && dueNs(s, k) <= now && sent < sendsPerTurnMax; sent++, k++) {
      masters[k % s.subscriptions].send(Math.floor(k / s.subscriptions) + 1);
      onSent(k, now - dueNs(s, k));
      now = nowNs();
    }
    if (k >= s.total) break;
    const next = dueNs(s, k);
    const waitNs = next - nowNs();
    if (sent === sendsPerTurnMax || waitNs <= 0) await turn();
    else if (waitNs > 3_000_000) await sleepMs(Math.floor((waitNs - 2_000_000) / 1e6));
    else if (waitNs > wakeLeadNs + 50_000) await waker.wakeAt(next - wakeLeadNs);
    else if (s.intervalNs < pollBelowIntervalNs) await turn();
    else spinUntil(next);
  }
}

const debug = (message: string): void => {
  if (process.env.SIGPLANE_BENCH_DEBUG === '1') process.stderr.write(`  [load ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
};

export async function runWorkload(adapter: SystemAdapter, w: Workload, options: RunOptions = {}): Promise<RunResult> {
  debug(`${adapter.name}: preparing ${w.subscriptions} subscriptions`);
  const targets = await adapter.prepareRun(w.subscriptions, w.receiversPerSubscription);
  const pool = new ReceiverPool(adapter.name, targets.receivers, options.receiverThreads ?? defaultReceiverThreads(w));
  const masters: MasterLink[] = [];
  const waker = new PreciseWaker();
  try {
    await pool.ready();
    debug(`${adapter.name}: ${targets.receivers.length} receivers ready`);
    let schedule = scheduleFor(w, 0);
    const ackHistogram = newLatencyHistogram();
    const latenessHistogram = newLatencyHistogram();
    const ackTallies = targets.masters.map((m) => new DeliveryTally(signalsOf(schedule, m.sub)));
    const refusedCodes: Record<string, number> = {};
    let refused = 0;
    let ackedInWindow = 0;
    let sentInWindow = 0;
    let signalsSent = 0;
    for (const target of targets.masters) {
      const sub = target.sub;
      masters[sub] = await adapter.openMaster(target, {
        onAck(sequence) {
          const at = nowNs();
          if (!ackTallies[sub].record(sequence)) return;
          const due = dueNsOf(schedule, sub, sequence);
          if (due >= schedule.measureFromNs && due < schedule.measureUntilNs) recordLatency(ackHistogram, at - due);
          if (at >= schedule.measureFromNs && at < schedule.measureUntilNs) ackedInWindow++;
        },
        onRefused(_sequence, code) {
          refused++;
          refusedCodes[code] = (refusedCodes[code] ?? 0) + 1;
        },
      });
      debug(`${adapter.name}: master ${sub} open`);
      masters[sub].prepare(signalsOf(schedule, sub));
    }
    schedule = scheduleFor(w, nowNs() + startLeadNs);
    await pool.arm(schedule);
    debug(`${adapter.name}: masters open, ${schedule.total} signals prepared; sending`);

    let serverWatch: ProcessWatch | null = null;
    let loadCpuStart = process.cpuUsage();
    let window: { serverCpuCores: number | null; serverPeakRssBytes: number | null; loadCpuCores: number } | null = null;
    const toMs = (ns: number): number => Math.max(0, (ns - nowNs()) / 1e6);
    const windowStart = setTimeout(() => {
      serverWatch = adapter.serverPid === null ? null : new ProcessWatch(() => adapter.serverProcessIds());
      loadCpuStart = process.cpuUsage();
    }, toMs(schedule.measureFromNs));
    const windowEnd = setTimeout(() => {
      const server = serverWatch?.stop() ?? { cores: null, peakRssBytes: null };
      const load = process.cpuUsage(loadCpuStart);
      window = { serverCpuCores: server.cores, serverPeakRssBytes: server.peakRssBytes, loadCpuCores: (load.user + load.system) / 1e6 / (w.durationMs / 1000) };
    }, toMs(schedule.measureUntilNs));

    await sendOnSchedule(schedule, masters, waker, (k, lateNs) => {
      signalsSent++;
      const due = dueNs(schedule, k);
      if (due >= schedule.measureFromNs && due < schedule.measureUntilNs) {
        recordLatency(latenessHistogram, lateNs);
        sentInWindow++;
      }
    });
    debug(`${adapter.name}: all sent; draining`);
    const deadlineMs = Date.now() + (options.drainMs ?? 10_000);
    const acksDone = (): boolean => ackTallies.reduce((n, t) => n + t.counts.unique, 0) + refused >= signalsSent;
    while (!acksDone() && Date.now() < deadlineMs) await sleepMs(5);
    const reports = await pool.drain(deadlineMs);
    debug(`${adapter.name}: drained`);
    while (window === null) await sleepMs(5); // a run shorter than its window cannot happen, but never report half a window
    clearTimeout(windowStart);
    clearTimeout(windowEnd);
    const measured: { serverCpuCores: number | null; serverPeakRssBytes: number | null; loadCpuCores: number } = window;

    const seconds = w.durationMs / 1000;
    const delivery = mergeHistograms(reports.map((r) => r.histogram));
    const firstSecond = mergeHistograms(reports.map((r) => r.firstSecond));
    const lastSecond = mergeHistograms(reports.map((r) => r.lastSecond));
    const receiverThreadMaxUtilization = Math.max(...reports.map((r) => r.eventLoopUtilization));
    const senderLateness = summarize(latenessHistogram);
    const reasons: string[] = [];
    if (receiverThreadMaxUtilization >= 0.9) reasons.push(`a receiver thread was ${(receiverThreadMaxUtilization * 100).toFixed(0)}% busy`);
    if (senderLateness.p90Us >= 1000) reasons.push(`the sender was >= 1 ms behind schedule for 10% of signals`);
    const result: RunResult = {
      system: adapter.name,
      workload: w,
      signalBytes,
      delivery: summarize(delivery),
      deliveryFirstSecond: summarize(firstSecond),
      deliveryLastSecond: summarize(lastSecond),
      ack: summarize(ackHistogram),
      senderLateness,
      sentPerSecond: sentInWindow / seconds,
      ackedPerSecond: ackedInWindow / seconds,
      deliveriesPerSecond: reports.reduce((n, r) => n + r.deliveriesInWindow, 0) / seconds,
      signalsSent,
      acked: ackTallies.reduce((n, t) => n + t.counts.unique, 0),
      refused,
      resent: masters.reduce((n, m) => n + m.resent, 0),
      refusedCodes: { ...refusedCodes },
      expectedDeliveries: targets.masters.reduce((n, m) => n + signalsOf(schedule, m.sub), 0) * w.receiversPerSubscription,
      deliveries: reports.reduce((n, r) => n + r.deliveries, 0),
      lost: reports.reduce((n, r) => n + r.lost, 0),
      duplicates: reports.reduce((n, r) => n + r.duplicates + r.unexpected, 0),
      outOfOrder: reports.reduce((n, r) => n + r.outOfOrder, 0),
      receiverReconnects: reports.reduce((n, r) => n + r.reconnects, 0),
      serverCpuCores: measured.serverCpuCores,
      serverPeakRssBytes: measured.serverPeakRssBytes,
      loadCpuCores: measured.loadCpuCores,
      receiverThreads: pool.threadCount,
      receiverThreadMaxUtilization,
      loadSaturation: reasons.length === 0 ? null : reasons.join('; '),
    };
    delivery.destroy();
    firstSecond.destroy();
    lastSecond.destroy();
    ackHistogram.destroy();
    latenessHistogram.destroy();
    return result;
  } finally {
    await Promise.all(masters.map((m) => m?.close().catch(() => undefined)));
    await waker.stop();
    await pool.terminate();
    await adapter.finishRun?.(targets).catch((error: Error) => debug(`${adapter.name}: cleaning up after the run failed: ${error.message}`));
  }
}
