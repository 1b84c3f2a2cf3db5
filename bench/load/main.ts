/**
 * `npm run bench:load`: the end-to-end load benchmark of sigplane side by
 * side with NATS core pub/sub, Redis pub/sub and a plain ws relay, in one
 * run on this machine. Writes its section of bench/RESULTS.md (the micro
 * benchmarks' section is left as it was) and its charts into bench/charts/.
 *
 *   npm run bench:load               the full run (about 25 minutes)
 *   npm run bench:load -- --quick    a few minutes, fewer rates and rounds
 *   npm run bench:load -- --help
 *
 * Progress goes to stderr. Needs Postgres (DATABASE_URL or
 * postgres://postgres@127.0.0.1:5432/postgres), nats-server and
 * redis-server; a system that cannot start is reported and left out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommand, UsageError, type CommandSpec } from '../../cli/args';
import { cpuMark, otherProcessesCores } from '../machine';
import { writeSection } from '../results-markdown';
import { NatsAdapter } from './adapters/nats';
import { RedisAdapter } from './adapters/redis';
import { SigplaneAdapter } from './adapters/sigplane';
import { WsRelayAdapter } from './adapters/ws-relay';
import { writeCharts } from './charts';
import { machineInfo } from './machine-info';
import { signalBytes } from './payload';
import { cpuSecondsOf } from './process-stats';
import { progress } from './progress';
import { loadSection, type LoadReport } from './results-section';
import { runCompare } from './suites/compare';
import { measureIdleMemory } from './suites/idle-memory';
import { searchRate, sustains, type RateSearchCase } from './suites/rate-search';
import type { SystemAdapter } from './system';
import { systemNames, type SystemName, type Workload } from './workload';

const spec: CommandSpec = {
  usage: 'npm run bench:load -- [options]',
  summary: 'End-to-end load benchmark: sigplane, NATS, Redis and a ws relay, interleaved; writes bench/RESULTS.md and bench/charts/.',
  options: {
    quick: { type: 'boolean', help: 'a quick run (minutes): fewer rates, one round, smaller fan-out and idle counts' },
    parts: { type: 'string', help: 'comma-separated: compare,ingest,fanout,search,idle', default: 'compare,ingest,fanout,search,idle' },
    systems: { type: 'string', help: 'comma-separated systems', default: systemNames.join(',') },
    rounds: { type: 'string', help: 'rounds of the side-by-side comparison (default: 3 full, 1 quick)' },
    'database-url': { type: 'string', help: 'Postgres server for sigplane\'s bench database', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'journal-sync': { type: 'string', help: "sigplane's journal sync ('full' is the server's default)", default: 'full' },
    shards: { type: 'string', help: 'sigplane shard worker threads', default: '1' },
    'receiver-ack-every': { type: 'string', help: 'sigplane receivers send DeliveryAck after this many deliveries', default: '100' },
    'cpu-prof-dir': { type: 'string', help: 'run the sigplane server with --cpu-prof into this folder' },
    'no-write': { type: 'boolean', help: 'print the section instead of writing RESULTS.md and charts' },
    'from-json': { type: 'string', help: 'write the section and charts from a report saved by an earlier run (no load is run)' },
  },
};

interface Plan {
  mode: 'quick' | 'full';
  rounds: number;
  warmupMs: number;
  durationMs: number;
  compareRates: number[];
  ingestRate: number;
  /** The sustained-ingest search (sigplane): first probe, cap, bisections. */
  ingestSearch: { startRate: number; maxRate: number; bisections: number };
  fanOutReceivers: number;
  fanOutRates: number[];
  searchCases: RateSearchCase[];
  searchMaxRate: number;
  searchBisections: number;
  idleReceivers: number;
  idleSystems: SystemName[];
}

function planFor(quick: boolean, roundsFlag: string | undefined): Plan {
  const rounds = roundsFlag === undefined ? (quick ? 1 : 3) : Number(roundsFlag);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new UsageError(`--rounds must be 1..20, got ${roundsFlag}`);
  if (quick) {
    return {
      mode: 'quick',
      rounds,
      warmupMs: 500,
      durationMs: 2_000,
      compareRates: [1_000, 5_000],
      ingestRate: 20_000,
      ingestSearch: { startRate: 2_500, maxRate: 20_000, bisections: 1 },
      fanOutReceivers: 200,
      fanOutRates: [100],
      searchCases: [{ subscriptions: 1, receiversPerSubscription: 10 }],
      searchMaxRate: 64_000,
      searchBisections: 1,
      idleReceivers: 1_000,
      idleSystems: ['sigplane', 'ws-relay'],
    };
  }
  return {
    mode: 'full',
    rounds,
    warmupMs: 1_000,
    durationMs: 4_000,
    compareRates: [1_000, 2_000, 5_000, 10_000, 20_000],
    ingestRate: 50_000,
    ingestSearch: { startRate: 5_000, maxRate: 80_000, bisections: 3 },
    fanOutReceivers: 1_000,
    fanOutRates: [50, 100, 200],
    searchCases: [
      { subscriptions: 1, receiversPerSubscription: 1 },
      { subscriptions: 1, receiversPerSubscription: 10 },
      { subscriptions: 1, receiversPerSubscription: 100 },
      { subscriptions: 100, receiversPerSubscription: 1 },
      { subscriptions: 100, receiversPerSubscription: 10 },
      { subscriptions: 100, receiversPerSubscription: 100 },
    ],
    searchMaxRate: 128_000,
    searchBisections: 2,
    idleReceivers: 10_000,
    idleSystems: ['sigplane', 'ws-relay', 'nats'],
  };
}

function positiveInteger(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${String(value)}`);
  return n;
}

function makeAdapter(name: SystemName, values: Record<string, string | boolean | undefined>): SystemAdapter {
  switch (name) {
    case 'sigplane': {
      const journalSync = values['journal-sync'];
      if (journalSync !== 'full' && journalSync !== 'normal') throw new UsageError('--journal-sync must be full or normal');
      return new SigplaneAdapter({
        databaseServerUrl: values['database-url'] as string,
        shards: positiveInteger(values.shards, 'shards'),
        journalSync,
        receiverAckEvery: positiveInteger(values['receiver-ack-every'], 'receiver-ack-every'),
        cpuProfileDir: values['cpu-prof-dir'] as string | undefined,
      });
    }
    case 'nats':
      return new NatsAdapter();
    case 'redis':
      return new RedisAdapter();
    case 'ws-relay':
      return new WsRelayAdapter();
  }
}

function listOption<T extends string>(value: string, allowed: readonly T[], name: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new UsageError(`--${name}: unknown ${item} (one of ${allowed.join(', ')})`);
  return items as T[];
}

/** CPU seconds of the servers under test, so that "other processes" means other people's work. */
function serversCpuSeconds(adapters: SystemAdapter[]): number {
  return adapters.reduce((n, a) => n + (a.serverPid === null ? 0 : cpuSecondsOf(a.serverPid) ?? 0), 0);
}

/** Writes the section and the charts (or prints the section with --no-write). */
function publish(report: LoadReport, root: string, noWrite: boolean): void {
  const benchDir = path.join(root, 'bench');
  if (noWrite) {
    process.stdout.write(`${loadSection(report)}\n`);
    return;
  }
  if (report.compare !== null) report.charts = writeCharts(report.compare, benchDir);
  const resultsPath = path.join(benchDir, 'RESULTS.md');
  writeSection(resultsPath, 'load', loadSection(report));
  progress(`wrote the load section of ${resultsPath} and ${report.charts.length} charts`);
}

async function main(): Promise<void> {
  const values = parseCommand(spec, process.argv.slice(2));
  if (values === null) return;
  const root = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
  if (typeof values['from-json'] === 'string') {
    publish(JSON.parse(fs.readFileSync(values['from-json'], 'utf8')) as LoadReport, root, values['no-write'] === true);
    return;
  }
  const plan = planFor(values.quick === true, values.rounds as string | undefined);
  const parts = listOption(values.parts as string, ['compare', 'ingest', 'fanout', 'search', 'idle'] as const, 'parts');
  const wanted = listOption(values.systems as string, systemNames, 'systems');
  const startMs = Date.now();
  const loadAverageAtStart = os.loadavg();
  const errors: string[] = [];
  progress(`${plan.mode} run: ${parts.join(', ')} on ${wanted.join(', ')}; load average ${loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}`);

  const adapters: SystemAdapter[] = [];
  for (const name of wanted) {
    const adapter = makeAdapter(name, values);
    progress(`starting ${name}…`);
    try {
      await adapter.start();
      adapters.push(adapter);
    } catch (error) {
      errors.push(`${name} could not start: ${(error as Error).message}`);
      progress(`  ${name} could not start: ${(error as Error).message}`);
      await adapter.stop().catch(() => undefined);
    }
  }
  const sigplane = adapters.find((a) => a.name === 'sigplane');
  const startCpu = cpuMark();
  const serversStart = serversCpuSeconds(adapters);
  const workload = (rate: number, subscriptions: number, receivers: number): Workload => ({
    subscriptions,
    receiversPerSubscription: receivers,
    ratePerSecond: rate,
    warmupMs: plan.warmupMs,
    durationMs: plan.durationMs,
  });
  const report: LoadReport = {
    machine: machineInfo(root, startMs, loadAverageAtStart, null),
    mode: plan.mode,
    command: `npm run bench:load${plan.mode === 'quick' ? ' -- --quick' : ''}`,
    systems: adapters.map((a) => ({ name: a.name, description: a.description })),
    signalBytes,
    warmupMs: plan.warmupMs,
    durationMs: plan.durationMs,
    compare: null,
    ingest: null,
    ingestSearch: null,
    fanOut: null,
    rateSearch: null,
    idle: null,
    charts: [],
    errors,
  };
  const part = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
      progress(`${name} failed: ${(error as Error).stack ?? (error as Error).message}`);
    }
  };
  try {
    // First, on fresh servers: a server that already ran the load reuses freed heap, which hides what connections cost.
    if (parts.includes('idle')) {
      await part('idle connections', async () => {
        report.idle = [];
        for (const adapter of adapters.filter((a) => plan.idleSystems.includes(a.name))) {
          report.idle.push(await measureIdleMemory(adapter, plan.idleReceivers, 3));
        }
      });
    }
    if (parts.includes('compare')) {
      await part('side by side', async () => {
        report.compare = await runCompare(adapters, plan.compareRates.map((rate) => workload(rate, 1, 10)), plan.rounds);
      });
    }
    if (parts.includes('ingest')) {
      await part('sustained ingest', async () => {
        report.ingest = await runCompare(adapters, [workload(plan.ingestRate, 1, 1)], plan.rounds);
      });
      if (sigplane !== undefined) {
        await part('sustained ingest search', async () => {
          report.ingestSearch = await searchRate(
            sigplane,
            { subscriptions: 1, receiversPerSubscription: 1 },
            { ...plan.ingestSearch, warmupMs: plan.warmupMs, durationMs: plan.durationMs },
            sustains,
          );
        });
      }
    }
    if (parts.includes('fanout')) {
      await part('fan-out', async () => {
        report.fanOut = await runCompare(adapters, plan.fanOutRates.map((rate) => workload(rate, 1, plan.fanOutReceivers)), 1);
      });
    }
    if (parts.includes('search') && sigplane !== undefined) {
      await part('rate search', async () => {
        report.rateSearch = [];
        for (const c of plan.searchCases) {
          await part(`rate search ${c.subscriptions} sub x ${c.receiversPerSubscription} recv`, async () => {
            report.rateSearch!.push(
              await searchRate(sigplane, c, {
                startRate: 250,
                maxRate: plan.searchMaxRate,
                bisections: plan.searchBisections,
                warmupMs: plan.warmupMs,
                durationMs: plan.durationMs,
              }),
            );
          });
        }
      });
    }
  } finally {
    const others = otherProcessesCores(startCpu, cpuMark());
    const seconds = startCpu === null ? 0 : (performance.now() - startCpu.atMs) / 1000;
    const serversCores = seconds > 0 ? (serversCpuSeconds(adapters) - serversStart) / seconds : 0;
    report.machine = machineInfo(root, startMs, loadAverageAtStart, others === null ? null : Math.max(0, others - serversCores));
    for (const adapter of adapters) {
      progress(`stopping ${adapter.name}…`);
      await adapter.stop().catch((error: Error) => progress(`  ${adapter.name} did not stop cleanly: ${error.message}`));
    }
  }

  const saved = path.join(os.tmpdir(), `sigplane-bench-load-${new Date(startMs).toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(saved, JSON.stringify(report));
  progress(`raw report saved to ${saved} (re-render with --from-json)`);
  publish(report, root, values['no-write'] === true);
  if (errors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
