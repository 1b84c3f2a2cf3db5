/**
 * The same workloads against every system in one run, interleaved: each
 * round runs every workload on every system, the systems' order rotating
 * from round to round, so that a noisy minute on this shared machine hits
 * every system rather than one. Figures are the median of the rounds with
 * their spread (min..max).
 */
import { describeRun, progress } from '../progress';
import { runWorkload, type RunOptions, type RunResult } from '../run-workload';
import type { SystemAdapter } from '../system';
import { describeWorkload, type SystemName, type Workload } from '../workload';

export interface CompareResult {
  workloads: Workload[];
  rounds: number;
  /** runs[workload index][system] = one result per round. */
  runs: Record<string, RunResult[]>[];
  /** Runs that failed (the others went on): what and why. */
  failures: string[];
}

export async function runCompare(adapters: SystemAdapter[], workloads: Workload[], rounds: number, options: RunOptions = {}): Promise<CompareResult> {
  const runs: Record<string, RunResult[]>[] = workloads.map(() => ({}));
  const failures: string[] = [];
  const total = rounds * workloads.length * adapters.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [wi, w] of workloads.entries()) {
      for (let i = 0; i < adapters.length; i++) {
        const adapter = adapters[(i + round + wi) % adapters.length];
        progress(`compare ${++done}/${total} (round ${round + 1}/${rounds}): ${adapter.name} ${describeWorkload(w)}…`);
        try {
          const result = await runWorkload(adapter, w, options);
          (runs[wi][adapter.name] ??= []).push(result);
          progress(`  ${describeRun(result)}`);
        } catch (error) {
          failures.push(`${adapter.name} ${describeWorkload(w)}, round ${round + 1}: ${(error as Error).message}`);
          progress(`  FAILED: ${(error as Error).message}`);
        }
      }
    }
  }
  return { workloads, rounds, runs, failures };
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
