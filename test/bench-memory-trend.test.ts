/**
 * How the memory soak judges a series (bench/load/memory-trend.ts) and
 * reports it (bench/load/soak-report.ts), on made-up samples: a heap that
 * saws but levels off, one that leaks, and the verdict in the Markdown.
 */
import { describe, expect, it } from 'vitest';
import { floors, judgeTrend, slopePerMinute, type TrendPoint } from '../bench/load/memory-trend';
import { soakMarkdown, type SoakPhaseSample, type SoakResult } from '../bench/load/soak-report';

const MiB = 2 ** 20;
const minute = 60_000;

/** Every 5 s for `minutes`: a sawtooth (collections every 30 s) on top of `base(t)`. */
function series(minutes: number, base: (tMinutes: number) => number): TrendPoint[] {
  const out: TrendPoint[] = [];
  for (let atMs = 0; atMs < minutes * minute; atMs += 5_000) {
    out.push({ atMs, value: base(atMs / minute) + ((atMs % 30_000) / 30_000) * 20 * MiB });
  }
  return out;
}

describe('memory trend', () => {
  it('takes the lowest sample of each window', () => {
    const f = floors([{ atMs: 0, value: 5 }, { atMs: 10, value: 3 }, { atMs: 60, value: 9 }, { atMs: 70, value: 8 }], 60);
    expect(f).toEqual([{ atMs: 0, value: 3 }, { atMs: 60, value: 8 }]);
  });

  it('measures a straight line per minute', () => {
    expect(slopePerMinute([{ atMs: 0, value: 10 }, { atMs: minute, value: 12 }, { atMs: 2 * minute, value: 14 }])).toBeCloseTo(2);
    expect(slopePerMinute([{ atMs: 0, value: 10 }])).toBe(0);
  });

  it('finds that a sawing heap which stops growing levels off', () => {
    const warmingUp = series(10, (t) => (100 + 40 * Math.min(t, 3)) * MiB);
    const v = judgeTrend(warmingUp, minute, MiB);
    expect(v.levelsOff).toBe(true);
    expect(v.wholeSlopePerMinute).toBeGreaterThan(MiB); // it did grow, early
    expect(v.lastHalfSlopePerMinute).toBeCloseTo(0);
  });

  it('finds that a leak does not', () => {
    const v = judgeTrend(series(10, (t) => (100 + 3 * t) * MiB), minute, MiB);
    expect(v.levelsOff).toBe(false);
    expect(v.lastHalfSlopePerMinute / MiB).toBeCloseTo(3);
  });

  it('gives no verdict on fewer than four windows', () => {
    expect(() => judgeTrend(series(3, () => MiB), minute, MiB)).toThrow(/at least 4/);
  });
});

describe('soak report', () => {
  function result(leakMiBPerMinute: number): SoakResult {
    const samples: SoakPhaseSample[] = series(8, (t) => (200 + leakMiBPerMinute * t) * MiB).map((p, i) => ({
      phase: 'steady',
      atMs: p.atMs,
      rssBytes: p.value,
      rssAnonBytes: p.value - 50 * MiB,
      rssFileBytes: 50 * MiB,
      threads: { io: { heapUsedBytes: 15 * MiB, heapTotalBytes: 40 * MiB, externalBytes: 4 * MiB, arrayBuffersBytes: MiB } },
      connections: 12,
      signalsAccepted: i * 4_500,
      windowRecords: 12_288,
    }));
    return {
      machine: {
        cpuModel: 'test cpu', nproc: 2, memoryBytesTotal: 8 * 2 ** 30, nodeVersion: 'v20', platform: 'linux', dateIso: '2026-12-07T00:00:00.000Z',
        gitCommit: 'abc1234', loadAverageAtStart: [1, 1, 1], loadAverageAtEnd: [1, 1, 1], elapsedSeconds: 480, otherProcessesCores: null,
      },
      command: 'npm run bench:soak',
      workload: { ratePerSecond: 900, subscriptions: 3, receiversPerSubscription: 3, minutes: 8, journalSync: 'full', shards: 1, receiverAckEvery: 100 },
      samples,
      restarts: [],
      fullSubscriptions: null,
      clients: { signalsAcked: 432_000, busy: 0, refused: {}, deliveries: 1_296_000, duplicates: 0, gaps: 0, snapshots: 0, reconnects: 0 },
    };
  }

  it('says every series levels off when they do, with the rate the server took', () => {
    const text = soakMarkdown(result(0));
    expect(text).toContain('### Memory soak, 2026-12-07');
    expect(text).toContain('**Every series levels off.**');
    expect(text).toMatch(/\| 1 \| 900 \|/);
  });

  it('names the series that does not', () => {
    const text = soakMarkdown(result(4));
    expect(text).toContain('Not every series levels off');
    expect(text).toMatch(/\| RSS \(process\) \|[^\n]*\| \*\*no\*\* \|/);
    expect(text).toMatch(/\| heap used \(io\) \|[^\n]*\| yes \|/);
  });
});
