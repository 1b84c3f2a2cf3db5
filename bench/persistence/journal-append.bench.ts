/**
 * Journal append cost: one `commit` of 1, 16 and 128 signals (~120 B of
 * content each), with PRAGMA synchronous NORMAL and FULL, on real files.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/persistence/journal-append.bench.js
 *
 * benny gives throughput (commits/s); per-commit latency percentiles for
 * batch size 1 come from an HDR histogram, plus a raw write+fdatasync of one
 * 4 KiB page as the disk's floor. Both are timed back to back and paced (one
 * every `pacedGapMs`, the thread asleep between, as a shard is at 1,000
 * signals/s): on a VM an fsync issued from idle is slower than one in a
 * run. Files go to SIGPLANE_BENCH_DIR or the OS
 * temp folder: put it on the disk the data folder uses (tmpfs fsyncs are free).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import { build } from 'hdr-histogram-js';
import type { SignalRecord } from '@sigplane/protocol';
import { Journal, type JournalBatch, type JournalSync } from '../../persistence/journal';

const batchSizes = [1, 16, 128] as const;
const syncModes: JournalSync[] = ['normal', 'full'];
const contentBytes = 120;
/** Commits timed per sync mode for the latency histogram, after warm-up. */
const latencyCommits: Record<JournalSync, number> = { normal: 20_000, full: 2_000 };
const latencyWarmupCommits = 200;
const fsyncSamples = 1_000;
/** The sleep before each paced sample: a commit per millisecond is 1,000 signals/s. */
const pacedGapMs = 1;
const pacedSamples = 2_000;
const pacedSleepCell = new Int32Array(new SharedArrayBuffer(4));

function signal(subscriptionId: string, sequence: number, content: Uint8Array): SignalRecord {
  return {
    subscriptionId,
    sequence,
    generatedAtMs: Date.now(),
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    action: 0,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 2,
    content,
    receivedAtMs: Date.now(),
  };
}

/** A journal and a function committing the next batch of `size` signals. */
function appender(dir: string, name: string, sync: JournalSync, size: number): { journal: Journal; commitNext: () => void } {
  const journal = Journal.open(path.join(dir, `${name}-${sync}-${size}.sqlite`), { sync });
  const subscriptionId = '6f1c2b1e-8f0a-4e59-9a43-0d6b1f0f7c2a';
  const content = new Uint8Array(contentBytes).map((_, i) => (i * 31) & 0xff);
  let sequence = 0;
  const commitNext = (): void => {
    const batch: JournalBatch = { signals: [], snapshots: [], cursors: [], states: [], securityEvents: [] };
    for (let i = 0; i < size; i++) batch.signals.push(signal(subscriptionId, ++sequence, content));
    journal.commit(batch);
  };
  return { journal, commitNext };
}

interface LatencyResult {
  name: string;
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** `fn` timed `count` times after `warmup` untimed calls; with `gapMs`, the thread sleeps that long before each (not timed). */
function timed(name: string, count: number, warmup: number, fn: () => void, gapMs = 0): LatencyResult {
  for (let i = 0; i < warmup; i++) fn();
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) Atomics.wait(pacedSleepCell, 0, 0, gapMs);
    const t0 = process.hrtime.bigint();
    fn();
    histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
  }
  const result = {
    name,
    count,
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    maxUs: histogram.maxValue,
  };
  histogram.destroy();
  return result;
}

/**
 * Per-commit latency, batch size 1: both sync modes back to back, sync full
 * paced, and a raw 4 KiB write + fdatasync back to back and paced.
 */
function measureCommitLatency(dir: string): LatencyResult[] {
  const results: LatencyResult[] = [];
  for (const sync of syncModes) {
    const { journal, commitNext } = appender(dir, 'latency', sync, 1);
    results.push(timed(`commit 1 signal, sync ${sync}`, latencyCommits[sync], latencyWarmupCommits, commitNext));
    if (sync === 'full') {
      results.push(timed(`commit 1 signal, sync full, one every ${pacedGapMs} ms`, pacedSamples, 20, commitNext, pacedGapMs));
    }
    journal.close();
  }
  const fd = fs.openSync(path.join(dir, 'fsync-probe'), 'w');
  const page = Buffer.alloc(4096, 7);
  let offset = 0;
  const writeAndSync = (): void => {
    fs.writeSync(fd, page, 0, page.length, offset);
    offset = (offset + page.length) % (1024 * page.length);
    fs.fdatasyncSync(fd);
  };
  results.push(timed('raw write 4 KiB + fdatasync', fsyncSamples, 20, writeAndSync));
  results.push(timed(`raw write 4 KiB + fdatasync, one every ${pacedGapMs} ms`, pacedSamples, 20, writeAndSync, pacedGapMs));
  fs.closeSync(fd);
  return results;
}

export async function run(): Promise<Summary> {
  const dir = fs.mkdtempSync(path.join(process.env.SIGPLANE_BENCH_DIR ?? os.tmpdir(), 'sigplane-journal-bench-'));
  const journals: Journal[] = [];
  try {
    const cases = [];
    for (const sync of syncModes) {
      for (const size of batchSizes) {
        const { journal, commitNext } = appender(dir, 'throughput', sync, size);
        journals.push(journal);
        cases.push(b.add(`commit ${size} signals, sync ${sync}`, commitNext, { maxTime: 3, minSamples: 10 }));
      }
    }
    const summary = await b.suite('journal append', ...cases, b.cycle(), b.complete());
    for (const r of summary.results) {
      const size = Number(/commit (\d+)/.exec(r.name)?.[1] ?? 1);
      console.log(`${r.name}: ${Math.round(r.ops)} commits/s, ${Math.round(r.ops * size)} signals/s (±${r.margin}%)`);
    }
    for (const journal of journals.splice(0)) journal.close();

    console.log(`\nper-commit latency (µs), files in ${dir}:`);
    for (const l of measureCommitLatency(dir)) {
      console.log(`${l.name} (n=${l.count}): p50 ${l.p50Us}  p90 ${l.p90Us}  p99 ${l.p99Us}  p99.9 ${l.p999Us}  max ${l.maxUs}`);
    }
    return summary;
  } finally {
    for (const journal of journals) journal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
