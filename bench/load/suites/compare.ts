/**
 * The same workloads against every system in one run, interleaved: each
 * round runs every system, in an order that rotates from round to round, so
 * that a noisy minute on this shared machine hits every system rather than
 * one; a system runs its workloads while the other servers are stopped
 * (server-pause.ts). Figures are the median of the rounds with their
 * spread (min..max).
 */
import { describeRun, progress } from '../progress';
import { runWorkload, type RunOptions, type RunResult } from '../run-workload';
import { runAlone } from '../server-pause';
import type { SystemAdapter } from '../system';
import { describeWorkload, type SystemName, type Workload } from '../workload';

export interface CompareResult {
  workloads: Workload[];
  rounds: number;
  /** runs[workload index][system] = one result per round. */
  runs: Record<string, RunResult[]>[];
  /** Runs that failed (the others went on): what and why. */
  failures: string[];
  /** Systems left out of a workload, and why (absent in reports saved before it existed). */
  skipped?: string[];
}

export interface CompareOptions {
  run?: RunOptions;
  /** Which systems run a workload (default: all). */
  include?: (system: SystemName, w: Workload) => boolean;
  /** Stop the other servers while one runs (default true). */
  pauseOthers?: boolean;
}

export async function runCompare(adapters: SystemAdapter[], workloads: Workload[], rounds: number, options: CompareOptions = {}): Promise<CompareResult> {
  const runs: Record<string, RunResult[]>[] = workloads.map(() => ({}));
  const failures: string[] = [];
  const skipped = new Set<string>();
  const planned = (adapter: SystemAdapter, w: Workload): boolean => {
    if (options.include !== undefined && !options.include(adapter.name, w)) return false;
    const max = adapter.receiversMax;
    if (max !== undefined && w.subscriptions * w.receiversPerSubscription > max.count) {
      skipped.add(`${adapter.name} at ${describeWorkload(w)}: ${max.why}`);
      return false;
    }
    return true;
  };
  const total = rounds * adapters.reduce((n, a) => n + workloads.filter((w) => planned(a, w)).length, 0);
  let done = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < adapters.length; i++) {
        const adapter = adapters[(i + round) % adapters.length];
        const mine = workloads.map((w, wi) => ({ w, wi })).filter(({ w }) => planned(adapter, w));
        if (mine.length === 0) continue;
        runAlone(adapters, adapter, options.pauseOthers ?? true);
        for (const { w, wi } of mine) {
          progress(`compare ${++done}/${total} (round ${round + 1}/${rounds}): ${adapter.name} ${describeWorkload(w)}…`);
          try {
            const result = await runWorkload(adapter, w, options.run);
            (runs[wi][adapter.name] ??= []).push(result);
            progress(`  ${describeRun(result)}`);
          } catch (error) {
            failures.push(`${adapter.name} ${describeWorkload(w)}, round ${round + 1}: ${(error as Error).message}`);
            progress(`  FAILED: ${(error as Error).message}`);
          }
        }
      }
    }
  } finally {
    runAlone(adapters, null, false);
  }
  return { workloads, rounds, runs, failures, skipped: [...skipped] };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spreadOf(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

export function systemsIn(result: CompareResult): SystemName[] {
  const names = new Set<SystemName>();
  for (const byWorkload of result.runs) for (const name of Object.keys(byWorkload)) names.add(name as SystemName);
  return [...names];
}
