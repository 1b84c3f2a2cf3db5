/**
 * Latency histograms (hdr-histogram-js, nanoseconds, 3 significant digits)
 * and their summaries in microseconds. Worker threads send theirs to the
 * main thread encoded, where they are added up: percentiles of the whole
 * run, never averages of percentiles.
 */
import * as hdr from 'hdr-histogram-js';

/** 60 s: anything later is still counted (clamped), never dropped. */
const highestTrackableNs = 60_000_000_000;

export type LatencyHistogram = hdr.Histogram;

export interface LatencySummary {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export function newLatencyHistogram(): LatencyHistogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableNs, numberOfSignificantValueDigits: 3 });
}

export function recordLatency(h: LatencyHistogram, latencyNs: number): void {
  h.recordValue(Math.min(highestTrackableNs, Math.max(1, Math.round(latencyNs))));
}

export function encodeHistogram(h: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function mergeHistograms(encoded: readonly string[]): LatencyHistogram {
  const total = newLatencyHistogram();
  for (const text of encoded) {
    const h = hdr.decodeFromCompressedBase64(text);
    total.add(h);
    h.destroy();
  }
  return total;
}

export function summarize(h: LatencyHistogram): LatencySummary {
  const us = (p: number): number => h.getValueAtPercentile(p) / 1000;
  return { count: h.totalCount, p50Us: us(50), p90Us: us(90), p99Us: us(99), p999Us: us(99.9), maxUs: h.maxValue / 1000 };
}
