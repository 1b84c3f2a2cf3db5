/**
 * Server CPU when (almost) nothing happens, as a percentage of one core:
 * each system with its connections open (1 master, `receivers` receivers on
 * one subscription) and no traffic for a while, then the same shape at a
 * low rate (a full run, warm-up excluded). The other servers are stopped
 * meanwhile (server-pause.ts), so the figure is this server's alone.
 */
import { progress } from '../progress';
import { ProcessWatch } from '../process-stats';
import { ReceiverPool } from '../receiver-pool';
import { runWorkload, type RunResult } from '../run-workload';
import { runAlone } from '../server-pause';
import type { MasterLink, SystemAdapter } from '../system';
import type { SystemName } from '../workload';

export interface IdleCpuResult {
  system: SystemName;
  receivers: number;
  idleSeconds: number;
  /** Server CPU with the connections open and no traffic, in cores (0.01: 1% of one core). */
  idleCores: number | null;
  lowRatePerSecond: number;
  /** Server CPU at lowRatePerSecond, in cores, and the run it comes from. */
  lowRateCores: number | null;
  lowRateRun: RunResult | null;
}

export interface IdleCpuOptions {
  receivers: number;
  idleMs: number;
  lowRatePerSecond: number;
  warmupMs: number;
  /** Stop the other servers meanwhile (default true). */
  pauseOthers?: boolean;
}

/** After the connections opened, before the idle window: handshakes, subscriptions and first timers settle. */
const settleMs = 1_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function idleCores(adapter: SystemAdapter, o: IdleCpuOptions): Promise<number | null> {
  const targets = await adapter.prepareRun(1, o.receivers);
  const pool = new ReceiverPool(adapter.name, targets.receivers, 1);
  let master: MasterLink | null = null;
  try {
    await pool.ready();
    master = await adapter.openMaster(targets.masters[0], { onAck() {}, onRefused() {} });
    await sleep(settleMs);
    const watch = new ProcessWatch(() => adapter.serverProcessIds());
    await sleep(o.idleMs);
    return watch.stop().cores;
  } finally {
    await master?.close().catch(() => undefined);
    await pool.close().catch(() => undefined);
    await pool.terminate();
    await adapter.finishRun?.(targets).catch(() => undefined);
  }
}

export async function measureIdleCpu(adapters: SystemAdapter[], o: IdleCpuOptions): Promise<IdleCpuResult[]> {
  const results: IdleCpuResult[] = [];
  try {
    for (const adapter of adapters) {
      runAlone(adapters, adapter, o.pauseOthers ?? true);
      progress(`idle CPU: ${adapter.name}: 1 master and ${o.receivers} receivers open, no traffic for ${o.idleMs / 1000} s, then ${o.lowRatePerSecond}/s…`);
      const idle = await idleCores(adapter, o);
      const run = await runWorkload(adapter, {
        subscriptions: 1,
        receiversPerSubscription: o.receivers,
        ratePerSecond: o.lowRatePerSecond,
        warmupMs: o.warmupMs,
        durationMs: o.idleMs,
      });
      const result: IdleCpuResult = {
        system: adapter.name,
        receivers: o.receivers,
        idleSeconds: o.idleMs / 1000,
        idleCores: idle,
        lowRatePerSecond: o.lowRatePerSecond,
        lowRateCores: run.serverCpuCores,
        lowRateRun: run,
      };
      const percent = (cores: number | null): string => (cores === null ? '?' : `${(cores * 100).toFixed(1)}%`);
      progress(`  ${adapter.name}: idle ${percent(result.idleCores)} of a core, at ${o.lowRatePerSecond}/s ${percent(result.lowRateCores)} (lost ${run.lost})`);
      results.push(result);
    }
  } finally {
    runAlone(adapters, null, false);
  }
  return results;
}
