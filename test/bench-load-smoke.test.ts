/**
 * The load generator of `npm run bench:load` keeps working: a few seconds
 * at a low rate against a real sigplane server (its own process, on the
 * test Postgres), the ws relay, NATS and Redis (the machine's services),
 * with exact loss and duplicate counts, and the RESULTS.md section and
 * charts built from the results. Nothing here asserts a timing or a rate:
 * a run's figures are well formed, whatever this machine does meanwhile;
 * whether a rate is sustained is judged on recorded runs
 * (test/bench-load-judging.test.ts) and, for real, by the bench.
 */
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsAdapter } from '../bench/load/adapters/nats';
import { RedisAdapter } from '../bench/load/adapters/redis';
import { SigplaneAdapter } from '../bench/load/adapters/sigplane';
import { WsRelayAdapter } from '../bench/load/adapters/ws-relay';
import { machineInfo } from '../bench/load/machine-info';
import { loadSection } from '../bench/load/results-section';
import { runWorkload, type RunResult } from '../bench/load/run-workload';
import { lineChartSvg } from '../bench/load/svg-chart';
import type { SystemAdapter } from '../bench/load/system';
import type { Workload } from '../bench/load/workload';
import { replaceSection } from '../bench/results-markdown';

const workload: Workload = { subscriptions: 2, receiversPerSubscription: 3, ratePerSecond: 200, warmupMs: 500, durationMs: 1_500 };
const signalsPerRun = 400; // (0.5 s + 1.5 s) x 200/s, over 2 subscriptions

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

describe('load generator (bench/load) against real servers', () => {
  const results: RunResult[] = [];
  const adapters: SystemAdapter[] = [];

  beforeAll(() => {
    adapters.push(
      new SigplaneAdapter({ databaseServerUrl: inject('databaseUrl'), shards: 1, journalSync: 'normal', receiverAckEvery: 10 }),
      new WsRelayAdapter(),
      new NatsAdapter(),
      new RedisAdapter(),
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

  it('NATS core pub/sub (127.0.0.1:4222)', async () => {
    await adapters[2].start();
    expect(adapters[2].serverPid).not.toBeNull();
    const r = await runWorkload(adapters[2], workload);
    expectComplete(r, 'nats');
    results.push(r);
  }, 120_000);

  it('Redis pub/sub (127.0.0.1:6379)', async () => {
    await adapters[3].start();
    expect(adapters[3].serverPid).not.toBeNull();
    const r = await runWorkload(adapters[3], workload);
    expectComplete(r, 'redis');
    results.push(r);
  }, 120_000);

  it('turns the runs into the load section of RESULTS.md, which replaces only itself', () => {
    expect(results.map((r) => r.system)).toEqual(['sigplane', 'ws-relay', 'nats', 'redis']);
    const runs = Object.fromEntries(results.map((r) => [r.system, [r]]));
    const section = loadSection({
      machine: machineInfo(process.cwd(), Date.now(), [0, 0, 0], 0),
      mode: 'quick',
      command: 'npm run bench:load -- --quick',
      systems: adapters.map((a) => ({ name: a.name, description: a.description })),
      signalBytes: results[0].signalBytes,
      warmupMs: workload.warmupMs,
      durationMs: workload.durationMs,
      compare: { workloads: [workload], rounds: 1, runs: [runs], failures: [] },
      ingest: null,
      fanOut: null,
      rateSearch: null,
      idle: null,
      charts: [],
      errors: [],
    });
    expect(section).toContain('## End-to-end load');
    expect(section).toContain('strictly more work');
    for (const name of ['sigplane', 'ws-relay', 'nats', 'redis']) expect(section).toMatch(new RegExp(`^\\| ${name} `, 'm'));

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
