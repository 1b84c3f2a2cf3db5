/**
 * The highest rate at which sigplane meets a criterion: rates double from a
 * start until a probe fails, then the gap is bisected. Each probe is a full
 * run (its own subscriptions, warm-up excluded). A probe where the load side
 * saturated is reported as such: the server may do better than the figure
 * says. Two criteria: delivery p99 under 1 ms with nothing lost, duplicated
 * or refused (`passes`), and sustained ingest (`sustains`).
 */
import { describeRun, progress } from '../progress';
import { runWorkload, type RunOptions, type RunResult } from '../run-workload';
import type { SystemAdapter } from '../system';
import type { Workload } from '../workload';

export interface RateSearchCase {
  subscriptions: number;
  receiversPerSubscription: number;
}

export interface RateSearchResult {
  subscriptions: number;
  receiversPerSubscription: number;
  /** Highest passing rate, or null when even the first probe failed. */
  bestRatePerSecond: number | null;
  best: RunResult | null;
  /** The lowest failing probe (why it stopped), if any. */
  firstFailure: RunResult | null;
  probes: RunResult[];
}

export const p99TargetUs = 1000;

export function passes(r: RunResult): boolean {
  return r.delivery.p99Us < p99TargetUs && r.lost === 0 && r.duplicates === 0 && r.refused === 0 && r.delivery.count > 0;
}

/**
 * Sustained ingest keeps up: its ack p99 stays under this. A server that
 * falls behind queues more every second, so its ack latency grows with the
 * run (seconds at the end of a 5 s run); one that keeps up stays within its
 * jitter (tens of ms on these 2-vCPU hosts).
 */
export const sustainedAckP99MaxUs = 250_000;
/** Sustained ingest acks at least this share of the offered rate inside the window. */
export const sustainedAckedShareMin = 0.99;

/** Why a run is not sustained ingest: one code per criterion it misses. */
export type SustainFailure = 'resent' | 'refused' | 'lost' | 'duplicated' | 'no-ack' | 'acked-share' | 'ack-p99';

/**
 * Sustained ingest: every signal acked in the window (at least
 * `sustainedAckedShareMin` of the offered rate confirmed while it lasted),
 * none answered BUSY or refused, nothing lost or duplicated, and the ack p99
 * under `sustainedAckP99MaxUs`. The criteria a run misses, none when it
 * sustains. (Judged on a run's figures; a run's figures are the bench's to
 * measure, not a test's.)
 */
export function sustainFailures(r: RunResult): SustainFailure[] {
  const failures: SustainFailure[] = [];
  if (r.resent !== 0) failures.push('resent');
  if (r.refused !== 0) failures.push('refused');
  if (r.lost !== 0) failures.push('lost');
  if (r.duplicates !== 0) failures.push('duplicated');
  if (r.ack.count === 0) failures.push('no-ack');
  if (r.ackedPerSecond < sustainedAckedShareMin * r.workload.ratePerSecond) failures.push('acked-share');
  if (r.ack.p99Us >= sustainedAckP99MaxUs) failures.push('ack-p99');
  return failures;
}

export function sustains(r: RunResult): boolean {
  return sustainFailures(r).length === 0;
}

export interface RateSearchOptions {
  startRate: number;
  maxRate: number;
  bisections: number;
  warmupMs: number;
  durationMs: number;
  run?: RunOptions;
}

export async function searchRate(
  adapter: SystemAdapter,
  c: RateSearchCase,
  o: RateSearchOptions,
  criterion: (r: RunResult) => boolean = passes,
): Promise<RateSearchResult> {
  const probes: RunResult[] = [];
  const probe = async (rate: number): Promise<RunResult> => {
    const w: Workload = { ...c, ratePerSecond: Math.round(rate), warmupMs: o.warmupMs, durationMs: o.durationMs };
    progress(`rate search ${c.subscriptions} sub x ${c.receiversPerSubscription} recv: probing ${w.ratePerSecond.toLocaleString('en')}/s…`);
    const r = await runWorkload(adapter, w, o.run);
    progress(`  ${criterion(r) ? 'pass' : 'FAIL'} ${describeRun(r)}`);
    probes.push(r);
    return r;
  };
  let best: RunResult | null = null;
  let failure: RunResult | null = null;
  for (let rate = o.startRate; rate <= o.maxRate; rate *= 2) {
    const r = await probe(rate);
    if (!criterion(r)) {
      failure = r;
      break;
    }
    best = r;
  }
  if (best !== null && failure !== null) {
    let low = best.workload.ratePerSecond;
    let high = failure.workload.ratePerSecond;
    for (let i = 0; i < o.bisections; i++) {
      const r = await probe((low + high) / 2);
      if (criterion(r)) {
        best = r;
        low = r.workload.ratePerSecond;
      } else {
        failure = r;
        high = r.workload.ratePerSecond;
      }
    }
  }
  return { ...c, bestRatePerSecond: best?.workload.ratePerSecond ?? null, best, firstFailure: failure, probes };
}
