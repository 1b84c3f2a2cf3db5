/**
 * `npm run bench:load`: the end-to-end load benchmark of sigplane side by
 * side with the alternatives, not durable (NATS core, Redis pub/sub, a
 * plain ws relay) and durable (Redis Streams with appendfsync always, NATS
 * JetStream on files, Postgres INSERT + NOTIFY), in one interleaved run on
 * this machine, with every server pinned to one core and the load on
 * another, and unpinned (pinning.ts). Writes its section of
 * bench/RESULTS.md (the micro benchmarks' section is left as it was) and
 * its charts into bench/charts/.
 *
 *   npm run bench:load               the full run (about 25 minutes)
 *   npm run bench:load -- --quick    a few minutes, fewer rates and rounds
 *   npm run bench:load -- --help
 *
 * Progress goes to stderr. Needs Postgres for sigplane's configuration
 * (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres),
 * nats-server and redis-server on PATH (the bench starts its own), and
 * taskset to pin; a system that cannot start is reported and left out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clientLimits } from '@sigplane/client';
import { parseCommand, UsageError, type CommandSpec } from '../../cli/args';
import { cpuMark, otherProcessesCores } from '../machine';
import { writeSection } from '../results-markdown';
import { NatsAdapter } from './adapters/nats';
import { NatsJetStreamAdapter } from './adapters/nats-jetstream';
import { PostgresNotifyAdapter } from './adapters/postgres-notify';
import { RedisAdapter } from './adapters/redis';
import { RedisStreamsAdapter } from './adapters/redis-streams';
import { SigplaneAdapter } from './adapters/sigplane';
import { floorAdapter, floorSyncNormalAdapter, wsRelayAdapter } from './adapters/relay';
import { writeCharts } from './charts';
import { killAllServers } from './child-server';
import { machineInfo } from './machine-info';
import { signalBytes } from './payload';
import { checkPinning, pinModes, placeLoadProcess, serverCpusFor, type PinMode } from './pinning';
import { defaultParts, defaultUnpinnedParts, partNames, planFor, type PartName, type Plan } from './plan';
import { cpuSecondsOf } from './process-stats';
import { progress } from './progress';
import { loadSection, type LoadReport, type ModeResults } from './results-section';
import { runWorkload } from './run-workload';
import { runAlone } from './server-pause';
import { runCompare } from './suites/compare';
import { measureIdleCpu } from './suites/idle-cpu';
import { measureIdleMemory } from './suites/idle-memory';
import { searchRate, sustains } from './suites/rate-search';
import type { SystemAdapter } from './system';
import { systemNames, type SystemName, type Workload } from './workload';

const spec: CommandSpec = {
  usage: 'npm run bench:load -- [options]',
  summary:
    'End-to-end load benchmark: sigplane beside NATS core, NATS JetStream, Redis pub/sub, Redis Streams, Postgres NOTIFY and a ws relay, interleaved, ' +
    'servers pinned to one core and unpinned; writes bench/RESULTS.md and bench/charts/.',
  options: {
    quick: { type: 'boolean', help: 'a quick run (minutes): fewer rates, one round, smaller fan-out and idle counts' },
    parts: { type: 'string', help: `comma-separated, of ${partNames.join(',')}`, default: defaultParts.join(',') },
    systems: { type: 'string', help: 'comma-separated systems', default: systemNames.join(',') },
    pin: { type: 'string', help: 'both, pinned (servers on core 1, load on core 0) or unpinned', default: 'both' },
    'unpinned-parts': { type: 'string', help: 'with --pin both: the parts the unpinned half runs too (of --parts)', default: defaultUnpinnedParts.join(',') },
    rounds: { type: 'string', help: 'rounds of each comparison (default: 3 full, 1 quick)' },
    'keep-running': { type: 'boolean', help: 'leave the other servers running while one is measured (default: stopped with SIGSTOP)' },
    'database-url': { type: 'string', help: 'Postgres server for sigplane\'s bench database', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'journal-sync': { type: 'string', help: "the 'sigplane' system's journal sync ('full' is the server's default; 'sigplane-sync-normal' is always normal)", default: 'full' },
    shards: { type: 'string', help: 'sigplane shard worker threads', default: '1' },
    'receiver-ack-every': {
      type: 'string',
      help: "sigplane and JetStream receivers ack after this many deliveries (default: the SDK's ackEvery)",
      default: String(clientLimits.receiver.ackEveryDefault),
    },
    'receiver-ack-interval-ms': {
      type: 'string',
      help: "sigplane receivers ack as the SDK does (client/receiver-acks.ts: at once while its budget lasts, else within this many ms or after --receiver-ack-every; default: the SDK's); 0: every --receiver-ack-every-th delivery only",
      default: String(clientLimits.receiver.ackIntervalMs),
    },
    'cpu-prof-dir': { type: 'string', help: 'run the sigplane server with --cpu-prof into this folder' },
    'no-write': { type: 'boolean', help: 'print the section instead of writing RESULTS.md and charts' },
    'from-json': { type: 'string', help: 'write the section and charts from a report saved by an earlier run of this version (no load is run)' },
  },
};

/** The systems with journal sync normal: compared only at the rates of that target (plan.syncNormalRates). */
const syncNormalSystems: ReadonlySet<SystemName> = new Set(['sigplane-sync-normal', 'floor-sync-normal']);

/** The unrecorded first run on each fresh server. */
const firstRunMs = 1_500;

function positiveInteger(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${String(value)}`);
  return n;
}

function makeAdapter(name: SystemName, values: Record<string, string | boolean | undefined>): SystemAdapter {
  const receiverAckEvery = positiveInteger(values['receiver-ack-every'], 'receiver-ack-every');
  const receiverAckIntervalMs = Number(values['receiver-ack-interval-ms']);
  if (!(Number.isInteger(receiverAckIntervalMs) && receiverAckIntervalMs >= 0)) {
    throw new UsageError(`--receiver-ack-interval-ms must be a non-negative integer, got ${String(values['receiver-ack-interval-ms'])}`);
  }
  const sigplane = (journalSync: 'full' | 'normal', systemName: 'sigplane' | 'sigplane-sync-normal'): SigplaneAdapter =>
    new SigplaneAdapter({
      name: systemName,
      databaseServerUrl: values['database-url'] as string,
      shards: positiveInteger(values.shards, 'shards'),
      journalSync,
      receiverAckEvery,
      receiverAckIntervalMs,
      cpuProfileDir: values['cpu-prof-dir'] as string | undefined,
    });
  switch (name) {
    case 'sigplane': {
      const journalSync = values['journal-sync'];
      if (journalSync !== 'full' && journalSync !== 'normal') throw new UsageError('--journal-sync must be full or normal');
      return sigplane(journalSync, 'sigplane');
    }
    case 'sigplane-sync-normal':
      return sigplane('normal', 'sigplane-sync-normal');
    case 'nats':
      return new NatsAdapter();
    case 'nats-jetstream':
      return new NatsJetStreamAdapter(receiverAckEvery);
    case 'redis':
      return new RedisAdapter();
    case 'redis-streams':
      return new RedisStreamsAdapter();
    case 'postgres-notify':
      return new PostgresNotifyAdapter();
    case 'ws-relay':
      return wsRelayAdapter();
    case 'floor':
      return floorAdapter();
    case 'floor-sync-normal':
      return floorSyncNormalAdapter();
  }
}

function listOption<T extends string>(value: string, allowed: readonly T[], name: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new UsageError(`--${name}: unknown ${item} (one of ${allowed.join(', ')})`);
  return items as T[];
}

function pinModesOf(value: unknown): PinMode[] {
  if (value === 'both') return [...pinModes];
  if (value === 'pinned' || value === 'unpinned') return [value];
  throw new UsageError(`--pin must be both, pinned or unpinned, got ${String(value)}`);
}

/** CPU seconds of the servers under test, so that "other processes" means other people's work. */
function serversCpuSeconds(adapters: SystemAdapter[]): number {
  return adapters.reduce((n, a) => n + a.serverProcessIds().reduce((m, pid) => m + (cpuSecondsOf(pid) ?? 0), 0), 0);
}

/** Writes the section and the charts (or prints the section with --no-write). */
function publish(report: LoadReport, root: string, noWrite: boolean): void {
  const benchDir = path.join(root, 'bench');
  if (noWrite) {
    process.stdout.write(`${loadSection(report)}\n`);
    return;
  }
  const charted = report.modes.find((m) => m.compare !== null);
  if (charted !== undefined) report.charts = writeCharts(charted.compare!, benchDir, charted.pin);
  const resultsPath = path.join(benchDir, 'RESULTS.md');
  writeSection(resultsPath, 'load', loadSection(report));
  progress(`wrote the load section of ${resultsPath} and ${report.charts.length} charts`);
}

/** Starts the servers of one pin mode; those that cannot start are reported and left out. */
async function startAll(wanted: SystemName[], values: Record<string, string | boolean | undefined>, pin: PinMode, errors: string[]): Promise<SystemAdapter[]> {
  const adapters: SystemAdapter[] = [];
  for (const name of wanted) {
    const adapter = makeAdapter(name, values);
    progress(`starting ${name} (${pin})…`);
    try {
      await adapter.start(serverCpusFor(pin));
      adapters.push(adapter);
    } catch (error) {
      errors.push(`${name} could not start (${pin}): ${(error as Error).message}`);
      progress(`  ${name} could not start: ${(error as Error).message}`);
      await adapter.stop().catch(() => undefined);
    }
  }
  return adapters;
}

async function stopAll(adapters: SystemAdapter[]): Promise<void> {
  runAlone(adapters, null, false);
  for (const adapter of adapters) {
    progress(`stopping ${adapter.name}…`);
    await adapter.stop().catch((error: Error) => progress(`  ${adapter.name} did not stop cleanly: ${error.message}`));
  }
}

/** The parts of one pin mode, on servers started for it. */
async function runMode(
  pin: PinMode,
  adapters: SystemAdapter[],
  plan: Plan,
  parts: readonly string[],
  pauseOthers: boolean,
  part: (name: string, fn: () => Promise<void>) => Promise<void>,
): Promise<ModeResults> {
  const results: ModeResults = { pin, compare: null, ingest: null, ingestSearch: null, fanOut: null, rateSearch: null, idleCpu: null };
  const sigplane = adapters.find((a) => a.name === 'sigplane');
  const workload = (rate: number, receivers: number): Workload => ({
    subscriptions: 1,
    receiversPerSubscription: receivers,
    ratePerSecond: rate,
    warmupMs: plan.warmupMs,
    durationMs: plan.durationMs,
  });
  const alone = async <T>(adapter: SystemAdapter, fn: () => Promise<T>): Promise<T> => {
    runAlone(adapters, adapter, pauseOthers);
    try {
      return await fn();
    } finally {
      runAlone(adapters, null, false);
    }
  };
  // A short unrecorded run on each fresh server first: its first connections and JIT warm-up are no round's figure.
  for (const adapter of adapters) {
    await part(`first run of ${adapter.name} (${pin}, not recorded)`, async () => {
      progress(`first run of ${adapter.name} (not recorded)…`);
      await alone(adapter, () => runWorkload(adapter, { ...workload(plan.compareRates[0], plan.compareReceivers), warmupMs: 0, durationMs: firstRunMs }));
    });
  }
  if (parts.includes('idle-cpu')) {
    await part(`idle server CPU (${pin})`, async () => {
      results.idleCpu = await measureIdleCpu(adapters, { ...plan.idleCpu, warmupMs: plan.warmupMs, pauseOthers });
    });
  }
  if (parts.includes('compare')) {
    await part(`side by side (${pin})`, async () => {
      results.compare = await runCompare(adapters, plan.compareRates.map((rate) => workload(rate, plan.compareReceivers)), plan.rounds, {
        include: (system, w) => !syncNormalSystems.has(system) || plan.syncNormalRates.includes(w.ratePerSecond),
        pauseOthers,
      });
    });
  }
  if (parts.includes('ingest')) {
    await part(`sustained ingest (${pin})`, async () => {
      results.ingest = await runCompare(adapters, [workload(plan.ingestRate, 1)], plan.rounds, {
        include: (system) => plan.ingestSystems.includes(system),
        pauseOthers,
      });
    });
    if (sigplane !== undefined) {
      await part(`sustained ingest search (${pin})`, async () => {
        results.ingestSearch = await alone(sigplane, () =>
          searchRate(
            sigplane,
            { subscriptions: 1, receiversPerSubscription: 1 },
            { ...plan.ingestSearch, warmupMs: plan.warmupMs, durationMs: plan.durationMs },
            sustains,
          ),
        );
      });
    }
  }
  if (parts.includes('fanout')) {
    await part(`fan-out (${pin})`, async () => {
      results.fanOut = await runCompare(adapters, plan.fanOutRates.map((rate) => workload(rate, plan.fanOutReceivers)), plan.fanOutRounds, {
        include: (system) => !syncNormalSystems.has(system),
        pauseOthers,
      });
    });
  }
  if (parts.includes('search') && sigplane !== undefined) {
    await part(`rate search (${pin})`, async () => {
      results.rateSearch = [];
      for (const c of plan.searchCases) {
        await part(`rate search ${c.subscriptions} sub x ${c.receiversPerSubscription} recv (${pin})`, async () => {
          results.rateSearch!.push(
            await alone(sigplane, () =>
              searchRate(sigplane, c, {
                startRate: 250,
                maxRate: plan.searchMaxRate,
                bisections: plan.searchBisections,
                warmupMs: plan.warmupMs,
                durationMs: plan.durationMs,
              }),
            ),
          );
        });
      }
    });
  }
  return results;
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
  const parts = listOption(values.parts as string, partNames, 'parts');
  const wanted = listOption(values.systems as string, systemNames, 'systems');
  const pins = pinModesOf(values.pin);
  const unpinnedParts = listOption(values['unpinned-parts'] as string, partNames, 'unpinned-parts');
  /** The parts of one half: all that were asked for, but only unpinnedParts of them in the unpinned half of a run with both. */
  const partsOf = (pin: PinMode): PartName[] => (pin === 'unpinned' && pins.length > 1 ? parts.filter((p) => unpinnedParts.includes(p)) : parts);
  if (pins.includes('pinned')) checkPinning();
  const pauseOthers = values['keep-running'] !== true;
  const startMs = Date.now();
  const loadAverageAtStart = os.loadavg();
  const errors: string[] = [];
  progress(`${plan.mode} run: ${pins.map((pin) => `${pin}: ${partsOf(pin).join(', ')}`).join('; then ')}; on ${wanted.join(', ')}; load average ${loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}`);

  let adapters: SystemAdapter[] = [];
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping the servers…`);
    runAlone(adapters, null, false);
    killAllServers();
    void Promise.race([Promise.all(adapters.map((a) => a.stop().catch(() => undefined))), new Promise((resolve) => setTimeout(resolve, 10_000))]).then(() =>
      process.exit(130),
    );
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const report: LoadReport = {
    machine: machineInfo(root, startMs, loadAverageAtStart, null),
    mode: plan.mode,
    command: `npm run bench:load${plan.mode === 'quick' ? ' -- --quick' : ''}`,
    systems: [],
    signalBytes,
    warmupMs: plan.warmupMs,
    durationMs: plan.durationMs,
    modes: [],
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
  const startCpu = cpuMark();
  let serversCpu = 0;
  for (const pin of pins) {
    if (pins.includes('pinned')) placeLoadProcess(pin);
    adapters = await startAll(wanted, values, pin, errors);
    for (const a of adapters) if (!report.systems.some((s) => s.name === a.name)) report.systems.push({ name: a.name, description: a.description, durability: a.durability });
    const serversStart = serversCpuSeconds(adapters);
    try {
      // First, on fresh servers: a server that already ran the load reuses freed heap, which hides what connections cost.
      if (partsOf(pin).includes('idle') && report.idle === null) {
        await part('idle connections', async () => {
          report.idle = [];
          for (const adapter of adapters.filter((a) => plan.idleSystems.includes(a.name))) {
            runAlone(adapters, adapter, pauseOthers);
            report.idle.push(await measureIdleMemory(adapter, plan.idleReceivers, 3));
          }
          runAlone(adapters, null, false);
        });
      }
      report.modes.push(await runMode(pin, adapters, plan, partsOf(pin), pauseOthers, part));
    } finally {
      serversCpu += serversCpuSeconds(adapters) - serversStart;
      await stopAll(adapters);
      adapters = [];
    }
  }
  if (pins.includes('pinned')) placeLoadProcess('unpinned');
  const others = otherProcessesCores(startCpu, cpuMark());
  const seconds = startCpu === null ? 0 : (performance.now() - startCpu.atMs) / 1000;
  const serversCores = seconds > 0 ? serversCpu / seconds : 0;
  report.machine = machineInfo(root, startMs, loadAverageAtStart, others === null ? null : Math.max(0, others - serversCores));

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
