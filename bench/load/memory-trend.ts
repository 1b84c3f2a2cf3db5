/**
 * Does a memory series level off? Pure arithmetic on samples, for the
 * memory soak (soak-memory.ts).
 *
 * A V8 heap saws up and down with each collection, and a collector that is
 * in no hurry lets it climb for minutes before a full one, so raw samples
 * say little. Each series is reduced to its floor per window (the lowest
 * sample of each minute, say: what was live after the last collection),
 * and a series levels off when its floors over the last half of the run
 * rise by less than a given slope (least squares, bytes per minute).
 */

export interface TrendPoint {
  atMs: number;
  value: number;
}

/** The lowest point of each window of `windowMs`, counted from the first point, stamped at the window's start. */
export function floors(points: readonly TrendPoint[], windowMs: number): TrendPoint[] {
  if (!(windowMs > 0)) throw new Error(`floors: windowMs must be > 0, got ${windowMs}`);
  if (points.length === 0) return [];
  const startMs = points[0]!.atMs;
  const byWindow = new Map<number, number>();
  for (const p of points) {
    const index = Math.floor((p.atMs - startMs) / windowMs);
    const seen = byWindow.get(index);
    if (seen === undefined || p.value < seen) byWindow.set(index, p.value);
  }
  return [...byWindow].sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ atMs: startMs + index * windowMs, value }));
}

/** Least-squares slope of value over time, per minute; 0 for fewer than two distinct times. */
export function slopePerMinute(points: readonly TrendPoint[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  let meanT = 0;
  let meanV = 0;
  for (const p of points) {
    meanT += p.atMs / 60_000 / n;
    meanV += p.value / n;
  }
  let num = 0;
  let den = 0;
  for (const p of points) {
    const dt = p.atMs / 60_000 - meanT;
    num += dt * (p.value - meanV);
    den += dt * dt;
  }
  return den === 0 ? 0 : num / den;
}

export interface TrendVerdict {
  /** Slope of the floors over the last half of the run, per minute. */
  lastHalfSlopePerMinute: number;
  /** Slope of the floors over the whole run, per minute. */
  wholeSlopePerMinute: number;
  firstFloor: number;
  lastFloor: number;
  levelsOff: boolean;
}

/** Floors per `windowMs`; levels off when the last half's slope is at most maxSlopePerMinute. Needs at least four floors. */
export function judgeTrend(points: readonly TrendPoint[], windowMs: number, maxSlopePerMinute: number): TrendVerdict {
  const f = floors(points, windowMs);
  if (f.length < 4) throw new Error(`judgeTrend: ${f.length} windows of ${windowMs} ms; a verdict needs at least 4`);
  const lastHalf = f.slice(Math.floor(f.length / 2));
  const lastHalfSlopePerMinute = slopePerMinute(lastHalf);
  return {
    lastHalfSlopePerMinute,
    wholeSlopePerMinute: slopePerMinute(f),
    firstFloor: f[0]!.value,
    lastFloor: f[f.length - 1]!.value,
    levelsOff: lastHalfSlopePerMinute <= maxSlopePerMinute,
  };
}
