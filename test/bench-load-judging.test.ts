/**
 * How `npm run bench:load` judges sustained ingest, and how it reports the
 * search, on recorded runs: real results of bench/load against
 * `sigplane serve` on this project's 2-vCPU host (test/fixtures/
 * bench-load-runs.json says when and how). A test never judges a run it
 * makes itself: what a machine sustains while other work runs is the
 * bench's to measure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineInfo } from '../bench/load/machine-info';
import { loadSection } from '../bench/load/results-section';
import type { RunResult } from '../bench/load/run-workload';
import { sustainedAckP99MaxUs, sustainedAckedShareMin, sustainFailures, sustains } from '../bench/load/suites/rate-search';
import { replaceSection } from '../bench/results-markdown';

interface RecordedRuns {
  recorded: Record<string, string>;
  runs: Record<'offered200' | 'offered500' | 'offered1250' | 'offered2500' | 'offered20000', RunResult>;
}
const { runs } = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'bench-load-runs.json'), 'utf8')) as RecordedRuns;

describe('sustained ingest, judged on recorded runs', () => {
  it('runs that kept up sustain', () => {
    expect(sustainFailures(runs.offered200)).toEqual([]);
    expect(sustainFailures(runs.offered500)).toEqual([]);
    expect(sustains(runs.offered500)).toBe(true);
  });

  it('a run that fell behind misses the acked share and the ack p99', () => {
    // 1,250/s offered: 805/s acked in the window, the ack p99 near a second.
    expect(runs.offered1250.ackedPerSecond).toBeLessThan(sustainedAckedShareMin * 1250);
    expect(sustainFailures(runs.offered1250)).toEqual(['acked-share', 'ack-p99']);
    expect(sustains(runs.offered1250)).toBe(false);
  });

  it('a run a signal a second short of the share does not sustain, though nothing else failed', () => {
    // 2,500/s offered, 2,473.5/s acked in the window: 99 % is 2,475.
    expect(runs.offered2500.ackedPerSecond).toBe(2473.5);
    expect(sustainFailures(runs.offered2500)).toEqual(['acked-share']);
  });

  it('an overloaded run fails on everything it lost', () => {
    expect(runs.offered20000.lost).toBeGreaterThan(0);
    expect(sustainFailures(runs.offered20000)).toEqual(['lost', 'acked-share', 'ack-p99']);
  });

  it('each criterion alone fails a run that kept up', () => {
    const good = runs.offered500;
    expect(sustainFailures({ ...good, resent: 1 })).toEqual(['resent']);
    expect(sustainFailures({ ...good, refused: 1 })).toEqual(['refused']);
    expect(sustainFailures({ ...good, duplicates: 1 })).toEqual(['duplicated']);
    expect(sustainFailures({ ...good, ack: { ...good.ack, count: 0 } })).toEqual(['no-ack']);
    expect(sustainFailures({ ...good, ackedPerSecond: good.workload.ratePerSecond * 0.9 })).toEqual(['acked-share']);
    expect(sustainFailures({ ...good, ack: { ...good.ack, p99Us: sustainedAckP99MaxUs } })).toEqual(['ack-p99']);
  });
});

describe('the load section with a sustained-ingest search', () => {
  it('reports the search below the ingest table and in the targets', () => {
    const ingestRun = runs.offered20000;
    const section = loadSection({
      machine: machineInfo(process.cwd(), Date.now(), [0, 0, 0], 0),
      mode: 'quick',
      command: 'npm run bench:load -- --quick --parts ingest',
      systems: [{ name: 'sigplane', description: 'sigplane serve' }],
      signalBytes: ingestRun.signalBytes,
      warmupMs: ingestRun.workload.warmupMs,
      durationMs: ingestRun.workload.durationMs,
      compare: null,
      ingest: { workloads: [ingestRun.workload], rounds: 1, runs: [{ sigplane: [ingestRun] }], failures: [] },
      ingestSearch: {
        subscriptions: 1,
        receiversPerSubscription: 1,
        bestRatePerSecond: 500,
        best: runs.offered500,
        firstFailure: runs.offered1250,
        probes: [runs.offered500, runs.offered1250],
      },
      fanOut: null,
      rateSearch: null,
      idle: null,
      charts: [],
      errors: [],
    });
    expect(section).toMatch(/\| at least 50,000 signals\/s sustained ingest[^\n]*\| sustained 500\/s \(see below\); offered 20,000\/s[^\n]*\| no \|/);
    expect(section.indexOf('**Highest sustained rate (sigplane)**')).toBeGreaterThan(section.indexOf('### Sustained ingest'));
    expect(section).toMatch(/^\| 500\/s \| [^\n]*\| 1,250\/s: acked 805\/s, ack p99 [^\n]*, lost 0, refused 0 \| /m);
    // A file written before the markers existed is kept as the micro section.
    const legacy = replaceSection('# Benchmark results\n\n## ring-buffer\nold', 'load', 'load v3');
    expect(legacy).toContain('## ring-buffer\nold');
    expect(legacy).toContain('load v3');
  });
});
