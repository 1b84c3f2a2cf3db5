/**
 * One sample of a sigplane server's memory: its resident set from /proc
 * (the whole process) and, from its /metrics, each thread's V8 heap, its
 * external memory and the ArrayBuffers within it (io/memory-gauges.ts),
 * with what it was doing (connections, signals accepted so far).
 */
import fs from 'node:fs';
import { parseMetricsText } from '../../io/metrics';

export interface ThreadMemorySample {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

export interface ServerMemorySample {
  atMs: number;
  rssBytes: number;
  /** RSS split as /proc says: anonymous memory (heaps, malloc) and mapped files (the binary, libraries). */
  rssAnonBytes: number;
  rssFileBytes: number;
  /** io, shard-0, ... */
  threads: Record<string, ThreadMemorySample>;
  connections: number;
  signalsAccepted: number;
  /** Signals held in the shards' delivery windows, all shards. */
  windowRecords: number;
}

const threadSeries: Record<keyof ThreadMemorySample, string> = {
  heapUsedBytes: 'sigplane_heap_used_bytes',
  heapTotalBytes: 'sigplane_heap_total_bytes',
  externalBytes: 'sigplane_external_memory_bytes',
  arrayBuffersBytes: 'sigplane_array_buffers_bytes',
};

/** The per-thread memory series of a /metrics scrape. */
export function threadMemoryOf(metrics: Map<string, number>): Record<string, ThreadMemorySample> {
  const threads: Record<string, ThreadMemorySample> = {};
  for (const [field, series] of Object.entries(threadSeries) as [keyof ThreadMemorySample, string][]) {
    for (const [key, value] of metrics) {
      const match = new RegExp(`^${series}\\{thread="([a-z0-9-]+)"\\}$`).exec(key);
      if (match === null) continue;
      threads[match[1]!] ??= { heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 };
      threads[match[1]!]![field] = value;
    }
  }
  return threads;
}

export async function sampleServerMemory(pid: number, port: number): Promise<ServerMemorySample> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const metrics = parseMetricsText(await response.text());
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return {
    atMs: Date.now(),
    rssBytes: kB('VmRSS'),
    rssAnonBytes: kB('RssAnon'),
    rssFileBytes: kB('RssFile'),
    threads: threadMemoryOf(metrics),
    connections: (metrics.get('sigplane_connections{role="master"}') ?? 0) + (metrics.get('sigplane_connections{role="receiver"}') ?? 0),
    signalsAccepted: metrics.get('sigplane_signals_accepted_total') ?? 0,
    windowRecords: [...metrics].filter(([key]) => key.startsWith('sigplane_delivery_window_records{')).reduce((sum, [, v]) => sum + v, 0),
  };
}

/** The lowest of each figure over several samples (each heap's floor after its collections), stamped with the last. */
export function floorOf(samples: readonly ServerMemorySample[]): ServerMemorySample {
  if (samples.length === 0) throw new Error('floorOf: no samples');
  const last = samples[samples.length - 1]!;
  const threads: Record<string, ThreadMemorySample> = {};
  for (const name of Object.keys(last.threads)) {
    const of = (field: keyof ThreadMemorySample): number => Math.min(...samples.map((s) => s.threads[name]?.[field] ?? Infinity));
    threads[name] = { heapUsedBytes: of('heapUsedBytes'), heapTotalBytes: of('heapTotalBytes'), externalBytes: of('externalBytes'), arrayBuffersBytes: of('arrayBuffersBytes') };
  }
  return {
    ...last,
    rssBytes: Math.min(...samples.map((s) => s.rssBytes)),
    rssAnonBytes: Math.min(...samples.map((s) => s.rssAnonBytes)),
    rssFileBytes: Math.min(...samples.map((s) => s.rssFileBytes)),
    threads,
  };
}
