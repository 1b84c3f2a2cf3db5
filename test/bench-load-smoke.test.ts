/**
 * The load generator of `npm run bench:load` keeps working: a few seconds
 * at a low rate against a real sigplane server (its own process, on the
 * test Postgres), the ws relay, the floor (sigplane's shape alone), and the bench's own nats-server (core and
 * JetStream), redis-server (pub/sub and Streams with appendfsync always)
 * and Postgres (INSERT + NOTIFY), with exact loss and duplicate counts,
 * and the RESULTS.md section and charts built from the results. Nothing
 * here asserts a timing or a rate: a run's figures are well formed,
 * whatever this machine does meanwhile; whether a rate is sustained is
 * judged on recorded runs (test/bench-load-judging.test.ts) and, for real,
 * by the bench.
 */
import fs from 'node:fs';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsAdapter } from '../bench/load/adapters/nats';
import { NatsJetStreamAdapter } from '../bench/load/adapters/nats-jetstream';
import { PostgresNotifyAdapter } from '../bench/load/adapters/postgres-notify';
import { RedisAdapter } from '../bench/load/adapters/redis';
import { RedisStreamsAdapter } from '../bench/load/adapters/redis-streams';
import { SigplaneAdapter } from '../bench/load/adapters/sigplane';
import { floorAdapter, floorSyncNormalAdapter, wsRelayAdapter } from '../bench/load/adapters/relay';
import { machineInfo } from '../bench/load/machine-info';
import { loadSection } from '../bench/load/results-section';
import { runWorkload, type RunResult } from '../bench/load/run-workload';
import { cpusAllowedOf, serverCpu } from '../bench/load/pinning';
import { runAlone } from '../bench/load/server-pause';
import { measureIdleCpu, type IdleCpuResult } from '../bench/load/suites/idle-cpu';
import { measureIdleMemory } from '../bench/load/suites/idle-memory';
import { lineChartSvg } from '../bench/load/svg-chart';
import type { SystemAdapter } from '../bench/load/system';
import type { Workload } from '../bench/load/workload';
import { replaceSection } from '../bench/results-markdown';

const workload: Workload = { subscriptions: 2, receiversPerSubscription: 3, ratePerSecond: 200, warmupMs: 500, durationMs: 1_500 };
const signalsPerRun = 400; // (0.5 s + 1.5 s) x 200/s, over 2 subscriptions

/**
 * 'stopped' (SIGSTOP, or exited and not yet reaped by its stopped parent: a zombie) or 'running' (any
 * other state), from /proc/<pid>/stat.
 */
function processState(pid: number): 'stopped' | 'running' {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return 'TZ'.includes(stat[stat.lastIndexOf(')') + 2]) ? 'stopped' : 'running';
}

/** The processes of these servers that are not in the state wanted (`running` says which servers should run), as `<system> <pid> <state>`. */
function unwantedStates(adapters: SystemAdapter[], running: (a: SystemAdapter) => boolean): string[] {
  return adapters.flatMap((a) =>
    a
      .serverProcessIds()
      .map((pid) => `${a.name} ${pid} ${processState(pid)}`)
      .filter((line) => !line.endsWith(running(a) ? 'running' : 'stopped')),
  );
}

/** unwantedStates once there are none, or after a second (a signal is delivered asynchronously). */
async function settledUnwanted(adapters: SystemAdapter[], running: (a: SystemAdapter) => boolean): Promise<string[]> {
  for (let i = 0; i < 100 && unwantedStates(adapters, running).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return unwantedStates(adapters, running);
}

function expectComplete(r: RunResult, system: string): void {
  expect(r.system).toBe(system);
  expect(r.signalsSent).toBe(signalsPerRun);
  expect(r.refused).toBe(0);
  expect(r.acked).toBe(signalsPerRun);
  expect(r.expectedDeliveries).toBe(signalsPerRun * workload.receiversPerSubscription);
  expect(r.deliveries).toBe(r.expectedDeliveries);
  expect(r.lost).toBe(0);
  expect(r.duplicates).toBe(0);
  expect(r.outOfOrder).toBe(0);
  // Warm-up excluded: only the signals due in the 1.5 s window are in the histograms.
  expect(r.delivery.count).toBe(300 * workload.receiversPerSubscription);
  expect(r.ack.count).toBe(300);
  for (const summary of [r.delivery, r.ack, r.senderLateness]) {
    expect(summary.p50Us).toBeLessThanOrEqual(summary.p99Us);
    expect(summary.p99Us).toBeLessThanOrEqual(summary.maxUs);
  }
  for (const rate of [r.sentPerSecond, r.ackedPerSecond, r.deliveriesPerSecond]) expect(Number.isFinite(rate) && rate >= 0).toBe(true);
  expect(r.loadCpuCores).toBeGreaterThan(0);
  expect(r.receiverThreads).toBe(1);
  expect(r.signalBytes).toBeGreaterThan(100);
}

/**
 * The distinct CPU masks of those of `pids` still running, and how many
 * were read: a backend can end between the listing and the read of its
 * /proc status, and an ended process has no mask to check.
 */
function masksOfLiving(pids: number[]): { read: number; masks: string[] } {
  const masks = pids.map((pid) => cpusAllowedOf(pid)).filter((mask): mask is string => mask !== null);
  return { read: masks.length, masks: [...new Set(masks)] };
}

describe('load generator (bench/load) against real servers', () => {
  const results: RunResult[] = [];
  const idleCpu: IdleCpuResult[] = [];
  const adapters: SystemAdapter[] = [];

  beforeAll(() => {
    adapters.push(
      new SigplaneAdapter({ databaseServerUrl: inject('databaseUrl'), shards: 1, journalSync: 'normal', receiverAckEvery: 10 }),
      wsRelayAdapter(),
      new NatsAdapter(),
      new RedisAdapter(),
      new RedisStreamsAdapter(),
      new NatsJetStreamAdapter(10),
      new PostgresNotifyAdapter(),
      floorAdapter(),
      floorSyncNormalAdapter(),
    );
  });

  afterAll(async () => {
    for (const adapter of adapters) await adapter.stop();
  });

  it('sigplane (its own process): every signal acked after the journal, delivered to every receiver exactly once, server CPU and RSS read', async () => {
    await adapters[0].start();
    const r = await runWorkload(adapters[0], workload);
    expectComplete(r, 'sigplane');
    expect(r.serverCpuCores).toBeGreaterThan(0);
    expect(r.serverPeakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    results.push(r);
  }, 120_000);

  it('the ws relay (its own process)', async () => {
    await adapters[1].start();
    const r = await runWorkload(adapters[1], workload);
    expectComplete(r, 'ws-relay');
    expect(r.serverPeakRssBytes).toBeGreaterThan(0);
    results.push(r);
  }, 120_000);

  it('NATS core pub/sub (its own nats-server)', async () => {
    await adapters[2].start();
    expect(adapters[2].serverPid).not.toBeNull();
    const r = await runWorkload(adapters[2], workload);
    expectComplete(r, 'nats');
    results.push(r);
  }, 120_000);

  it('Redis pub/sub (its own redis-server)', async () => {
    await adapters[3].start();
    expect(adapters[3].serverPid).not.toBeNull();
    const r = await runWorkload(adapters[3], workload);
    expectComplete(r, 'redis');
    results.push(r);
  }, 120_000);

  it('Redis Streams with appendfsync always (its own redis-server), pinned to one core', async () => {
    const streams = adapters[4];
    await streams.start(String(serverCpu));
    expect(cpusAllowedOf(streams.serverPid!)).toBe(String(serverCpu));
    expect(streams.durability).toBe('durable');
    expect(streams.description).toContain('appendfsync always');
    const r = await runWorkload(streams, workload);
    expectComplete(r, 'redis-streams');
    results.push(r);
  }, 120_000);

  it('NATS JetStream with file storage (its own nats-server)', async () => {
    const jetStream = adapters[5];
    await jetStream.start();
    expect(jetStream.durability).toBe('crash-safe');
    const r = await runWorkload(jetStream, workload);
    expectComplete(r, 'nats-jetstream');
    results.push(r);
  }, 120_000);

  it('Postgres INSERT + NOTIFY (its own cluster), every process of it pinned to one core', async () => {
    const notify = adapters[6];
    await notify.start(String(serverCpu));
    // The postmaster and its background processes, each on the one core.
    expect(masksOfLiving(notify.serverProcessIds())).toEqual({ read: expect.any(Number), masks: [String(serverCpu)] });
    expect(masksOfLiving(notify.serverProcessIds()).read).toBeGreaterThan(1);
    const r = await runWorkload(notify, workload);
    expectComplete(r, 'postgres-notify');
    expect(r.serverCpuCores).toBeGreaterThan(0);
    // A backend forked for this run's connections inherited the mask.
    expect(masksOfLiving(notify.serverProcessIds())).toEqual({ read: expect.any(Number), masks: [String(serverCpu)] });
    results.push(r);
  }, 120_000);

  it("the floor (sigplane's shape with none of its work, its own process): acked after its SQLite commit, delivered exactly once", async () => {
    const floor = adapters[7];
    await floor.start();
    expect(floor.durability).toBe('durable');
    expect(floor.description).toContain('synchronous FULL');
    const r = await runWorkload(floor, workload);
    expectComplete(r, 'floor');
    expect(r.serverCpuCores).toBeGreaterThan(0);
    results.push(r);
  }, 120_000);

  it('the floor with journal sync normal (its own process): crash-safe, every signal acked and delivered exactly once', async () => {
    const floor = adapters[8];
    await floor.start();
    expect(floor.durability).toBe('crash-safe');
    const r = await runWorkload(floor, workload);
    expectComplete(r, 'floor-sync-normal');
    results.push(r);
  }, 120_000);

  it('runs one system alone: the other servers are stopped meanwhile, and all continue after', async () => {
    const started = adapters.filter((a) => a.serverPid !== null);
    expect(started).toHaveLength(adapters.length);
    try {
      runAlone(started, started[2], true);
      expect(await settledUnwanted(started, (a) => a === started[2])).toEqual([]);
    } finally {
      runAlone(started, null, true);
    }
    expect(await settledUnwanted(started, () => true)).toEqual([]);
  });

  it('measures idle server CPU with the connections open, then at a low rate', async () => {
    const measured = await measureIdleCpu([adapters[0], adapters[2]], { receivers: 3, idleMs: 500, lowRatePerSecond: 10, warmupMs: 200 });
    expect(measured.map((x) => x.system)).toEqual(['sigplane', 'nats']);
    for (const idle of measured) {
      expect(idle.idleCores).toBeGreaterThanOrEqual(0);
      expect(idle.lowRateRun!.signalsSent).toBe(7); // (0.2 s + 0.5 s) x 10/s
      expect(idle.lowRateRun!.lost).toBe(0);
      expect(idle.lowRateCores).toBeGreaterThanOrEqual(0);
    }
    idleCpu.push(...measured);
  }, 60_000);

  it('turns the runs into the load section of RESULTS.md, which replaces only itself', async () => {
    expect(results.map((r) => r.system)).toEqual(['sigplane', 'ws-relay', 'nats', 'redis', 'redis-streams', 'nats-jetstream', 'postgres-notify', 'floor', 'floor-sync-normal']);
    const idle = [await measureIdleMemory(adapters[0], 20, 1)];
    expect(idle[0].bytesPerConnection).not.toBeNull();
    const byName = (rs: RunResult[]): Record<string, RunResult[]> => Object.fromEntries(rs.map((r) => [r.system, [r]]));
    // The same runs filed under the workloads the targets name, and sigplane's also as sigplane-sync-normal:
    // this checks the tables and the targets' rows, not the figures.
    const as = (w: Workload): RunResult[] => results.map((r) => ({ ...r, workload: w }));
    const targetWorkloads = [1_000, 5_000, 10_000].map((rate): Workload => ({ ...workload, subscriptions: 1, receiversPerSubscription: 10, ratePerSecond: rate }));
    const syncNormal: RunResult = { ...results[0], system: 'sigplane-sync-normal', workload: targetWorkloads[0] };
    const fanOutWorkload: Workload = { ...workload, subscriptions: 1, receiversPerSubscription: 1_000, ratePerSecond: 100 };
    const section = loadSection({
      machine: machineInfo(process.cwd(), Date.now(), [0, 0, 0], 0),
      mode: 'quick',
      command: 'npm run bench:load -- --quick',
      systems: adapters.map((a) => ({ name: a.name, description: a.description, durability: a.durability })),
      signalBytes: results[0].signalBytes,
      warmupMs: workload.warmupMs,
      durationMs: workload.durationMs,
      modes: (['pinned', 'unpinned'] as const).map((pin) => ({
        pin,
        compare: {
          workloads: [workload, ...targetWorkloads],
          rounds: 1,
          runs: [byName(results), { ...byName(as(targetWorkloads[0])), 'sigplane-sync-normal': [syncNormal] }, byName(as(targetWorkloads[1])), byName(as(targetWorkloads[2]))],
          failures: [],
          skipped: ['postgres-notify at 1 sub x 1,000 recv: each LISTEN receiver is a Postgres backend'],
        },
        ingest: null,
        fanOut: { workloads: [fanOutWorkload], rounds: 1, runs: [byName(as(fanOutWorkload))], failures: [] },
        rateSearch: null,
        idleCpu,
      })),
      idle,
      charts: [],
      errors: [],
    });
    expect(section).toContain('## End-to-end load');
    expect(section).toContain('strictly more work');
    for (const name of ['sigplane', 'ws-relay', 'nats', 'redis', 'redis-streams', 'nats-jetstream', 'postgres-notify', 'floor', 'floor-sync-normal']) {
      expect(section).toMatch(new RegExp(`^\\| ${name} \\| `, 'm')); // the systems table
    }
    // Table rows say what each system's ack means (then † when the load side may have been the bottleneck).
    for (const label of ['sigplane \\(crash-safe\\)', 'nats \\(not durable\\)', 'redis-streams \\(durable\\)', 'nats-jetstream \\(crash-safe\\)', 'postgres-notify \\(durable\\)']) {
      expect(section).toMatch(new RegExp(`^\\| ${label}( †1/1)? \\| `, 'm'));
    }
    // A targets table for each pin mode, the pinned one first, with every target of issue 16 judged.
    const pinnedTargets = section.indexOf('### Targets (issue 16), servers pinned to core 1, load on core 0');
    expect(pinnedTargets).toBeGreaterThan(0);
    expect(section.indexOf('### Targets (issue 16), unpinned')).toBeGreaterThan(pinnedTargets);
    for (const target of [
      /1,000\/s x 10, journal sync full: p50 and p99 at or below Redis Streams/,
      /1,000\/s x 10, journal sync normal: p50 within 1\.5x of NATS core/,
      /1,000\/s x 10: server CPU per delivery at or below 2x NATS's/,
      /5,000\/s x 10: server CPU per delivery at or below 2x NATS's/,
      /idle server CPU below 1% of a core/,
      /5,000\/s x 10 on one pinned core keeps up: no growing backlog, p99 under 20 ms/,
      /10,000\/s x 10 on one pinned core keeps up/,
      /fan-out, 1,000 receivers on one subscription at 100\/s: p99 at or below NATS's/,
      /server memory per idle receiver connection at or below 6\.6 KiB/,
    ]) {
      expect(section).toMatch(new RegExp(`^\\| ${target.source}[^\\n]*\\| (yes|no) \\|$`, 'm'));
    }
    // Beside each target, the floor's own figure from the same run (sigplane's shape alone), or 'not run'.
    expect(section).toContain("| target | this run | the floor (sigplane's shape alone, same run) | met |");
    expect(section).toMatch(/^\| 1,000\/s x 10: server CPU per delivery at or below 2x NATS's \| sigplane [^|]+ \| [\d.,]+ µs \([\d.]+x\) \| (yes|no) \|$/m);
    expect(section).toMatch(/^\| server memory per idle receiver connection at or below 6\.6 KiB \| [^|]+ \| not run \| (yes|no) \|$/m);
    // The sync normal target's floor is the floor with journal sync normal.
    expect(section).toMatch(/^\| 1,000\/s x 10, journal sync normal: p50 within 1\.5x of NATS core \| [^|]+ \| [\d.,]+ µs \([\d.]+x; journal sync normal\) \| (yes|no) \|$/m);
    expect(section.indexOf('### Side by side, servers pinned to core 1')).toBeGreaterThan(pinnedTargets);
    expect(section).toContain('### Side by side, unpinned');
    expect(section).toContain('### Idle server CPU, servers pinned to core 1');
    expect(section).toContain('- postgres-notify at 1 sub x 1,000 recv: each LISTEN receiver is a Postgres backend');

    const withLoad = replaceSection(null, 'load', section);
    const withBoth = replaceSection(withLoad, 'micro', '## Micro benchmarks\n\nmicro v1');
    const loadAgain = replaceSection(withBoth, 'load', '## End-to-end load\n\nload v2');
    expect(loadAgain).toContain('micro v1');
    expect(loadAgain).toContain('load v2');
    expect(loadAgain).not.toContain('strictly more work');
    expect(loadAgain.indexOf('micro v1')).toBeLessThan(loadAgain.indexOf('load v2'));
    // What follows the sections is written by hand and survives every rewrite, in place.
    const withNotes = `${loadAgain}\n## Where the time goes\n\nby hand\n`;
    const rewritten = replaceSection(replaceSection(withNotes, 'micro', '## Micro benchmarks\n\nmicro v2'), 'load', '## End-to-end load\n\nload v4');
    expect(rewritten).toContain('micro v2');
    expect(rewritten).toContain('load v4');
    expect(rewritten.match(/## Where the time goes\n\nby hand/g)).toHaveLength(1);
    expect(rewritten.indexOf('load v4')).toBeLessThan(rewritten.indexOf('## Where the time goes'));
  });

  it('reports the sustained-ingest search below the ingest table and in the targets', () => {
    const sigplaneRun = results.find((r) => r.system === 'sigplane')!;

    const section = loadSection({
      machine: machineInfo(process.cwd(), Date.now(), [0, 0, 0], 0),
      mode: 'quick',
      command: 'npm run bench:load -- --quick --parts ingest',
      systems: adapters.map((a) => ({ name: a.name, description: a.description, durability: a.durability })),
      signalBytes: sigplaneRun.signalBytes,
      warmupMs: workload.warmupMs,
      durationMs: workload.durationMs,
      modes: [
        {
          pin: 'unpinned',
          compare: null,
          ingest: { workloads: [workload], rounds: 1, runs: [{ sigplane: [sigplaneRun] }], failures: [] },
          ingestSearch: { subscriptions: 1, receiversPerSubscription: 1, bestRatePerSecond: 200, best: sigplaneRun, firstFailure: null, probes: [sigplaneRun] },
          fanOut: null,
          rateSearch: null,
          idleCpu: null,
        },
      ],
      idle: null,
      charts: [],
      errors: [],
    });
    expect(section).toMatch(/\| sustained ingest, signed and journaled, nothing lost: at or above NATS's acked rate in the same run \(NATS not run\) \| sustained 200\/s \(see below\); offered 200\/s[^\n]*\| no \|/);
    expect(section.indexOf('**Highest sustained rate (sigplane)**')).toBeGreaterThan(section.indexOf('### Sustained ingest'));
    expect(section).toMatch(/^\| 200\/s \| [^\n]*\| none up to the cap \| /m);
    // A file written before the markers existed is kept as the micro section.
    const legacy = replaceSection('# Benchmark results\n\n## ring-buffer\nold', 'load', 'load v3');
    expect(legacy).toContain('## ring-buffer\nold');
    expect(legacy).toContain('load v3');
  });

  it('draws a chart as standalone SVG', () => {
    const svg = lineChartSvg({
      title: 'a & b',
      xLabel: 'rate',
      yLabel: 'µs',
      series: [{ name: 'p99', points: [[1000, 250], [20_000, 900]] }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('<polyline');
    expect(svg).toContain('a &amp; b');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});
