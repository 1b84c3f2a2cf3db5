/**
 * The SVG charts of the load section, written into bench/charts/: per
 * system, delivery latency percentiles against offered rate, and one chart
 * with every system's p50 and p99. Points are the medians of the rounds of
 * the side-by-side workloads that differ only in rate.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PinMode } from './pinning';
import { spreadOf, systemsIn, type CompareResult } from './suites/compare';
import { lineChartSvg, type ChartSeries } from './svg-chart';

const percentiles = [
  { name: 'p50', pick: (d: { p50Us: number }) => d.p50Us },
  { name: 'p90', pick: (d: { p90Us: number }) => d.p90Us },
  { name: 'p99', pick: (d: { p99Us: number }) => d.p99Us },
  { name: 'p99.9', pick: (d: { p999Us: number }) => d.p999Us },
] as const;

/** Writes the charts; returns their titles and paths relative to bench/. */
export function writeCharts(compare: CompareResult, benchDir: string, pin: PinMode): { title: string; file: string }[] {
  const chartsDir = path.join(benchDir, 'charts');
  fs.mkdirSync(chartsDir, { recursive: true });
  // The workloads that differ only in rate from the first one.
  const first = compare.workloads[0];
  const indexes = compare.workloads
    .map((w, i) => ({ w, i }))
    .filter(({ w }) => w.subscriptions === first.subscriptions && w.receiversPerSubscription === first.receiversPerSubscription);
  if (indexes.length < 2) return [];
  const shape = `${first.subscriptions} subscription${first.subscriptions === 1 ? '' : 's'} x ${first.receiversPerSubscription} receivers, ${pin}`;
  const medianAt = (system: string, i: number, pick: (d: RunLatency) => number): number | null => {
    const runs = compare.runs[i][system];
    return runs === undefined || runs.length === 0 ? null : spreadOf(runs.map((r) => pick(r.delivery))).median;
  };
  const pointsOf = (system: string, pick: (d: RunLatency) => number): [number, number][] =>
    indexes.flatMap(({ w, i }) => {
      const y = medianAt(system, i, pick);
      return y === null ? [] : [[w.ratePerSecond, y] as [number, number]];
    });
  const written: { title: string; file: string }[] = [];
  const write = (name: string, title: string, series: ChartSeries[]): void => {
    fs.writeFileSync(path.join(chartsDir, name), lineChartSvg({ title, xLabel: 'offered rate (signals/s)', yLabel: 'delivery latency (µs)', series }));
    written.push({ title, file: `charts/${name}` });
  };
  const systems = systemsIn(compare);
  write(
    'delivery-p50-p99-by-system.svg',
    `Delivery p50 (dashed) and p99, ${shape}`,
    systems.flatMap((s, colorIndex) => [
      { name: `${s} p99`, points: pointsOf(s, (d) => d.p99Us), colorIndex },
      { name: `${s} p50`, points: pointsOf(s, (d) => d.p50Us), dashed: true, colorIndex },
    ]),
  );
  for (const s of systems) {
    write(
      `delivery-latency-${s}.svg`,
      `${s}: delivery latency percentiles, ${shape}`,
      percentiles.map((p) => ({ name: p.name, points: pointsOf(s, p.pick) })),
    );
  }
  return written;
}

type RunLatency = { p50Us: number; p90Us: number; p99Us: number; p999Us: number };
