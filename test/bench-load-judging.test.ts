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
import type { RunResult } from '../bench/load/run-workload';
import { sustainedAckP99MaxUs, sustainedAckedShareMin, sustainFailures, sustains } from '../bench/load/suites/rate-search';

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
