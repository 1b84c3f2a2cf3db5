/**
 * The shard's work per batch of in-order v1 signals, without the thread and
 * its rings (engine/shard-core.ts): each signal's ring record decoded, its
 * actor step, the effects executed, ONE journal commit (a real SQLite file,
 * sync normal: the fsync of sync full is journal-append's), then every
 * outbound record encoded for the ring back (and dropped). What is left of
 * a worker's loop is the ring's own cost (ring-buffer).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/engine/shard-core.bench.js
 *
 * One subscription, a master and a live receiver attached; batches of 1 and
 * of 32 signals (engine.shardBatchRecordsMax bounds what a worker takes at
 * once). Each signal's ring record is encoded inside the timed batch (a
 * record is used once: its sequence is n+1), which is the I/O thread's
 * work: frame-codec times it alone. Files go to SIGPLANE_BENCH_DIR or the
 * OS temp folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import { Journal } from '../../persistence/journal';
import { ShardCore } from '../../engine/shard-core';
import { encodeInbound, encodeOutbound } from '../../engine/shard-protocol';
import { benchEpochMs, benchSubscriptionId, v1Record } from '../signal-fixtures';

const batchSizes = [1, 32] as const;
const templateCount = 64;

/** A core on a fresh journal, and a function that runs the next batch of `size` signals through it. */
function shard(dir: string, size: number): { journal: Journal; runBatch: () => void; outboundRecords: () => number } {
  const journal = Journal.open(path.join(dir, `shard-core-${size}.sqlite`), { sync: 'normal' });
  let nowMs = benchEpochMs;
  let outbound = 0;
  const core = new ShardCore({
    journal,
    outbound: {
      write: (message) => {
        encodeOutbound(message);
        outbound++;
      },
      notify: () => undefined,
    },
    nowMs: () => nowMs,
    windowRecordsMax: 131_072,
  });
  core.recover();
  core.onRecord(encodeInbound({ t: 'event', sub: benchSubscriptionId, ev: { kind: 'masterAttach', connId: 1 } }));
  core.onRecord(encodeInbound({ t: 'event', sub: benchSubscriptionId, ev: { kind: 'receiverSubscribe', connId: 2, receiverId: 'bench-receiver', lastSequence: 0 } }));
  core.flush();
  const templates = Array.from({ length: templateCount }, (_, i) => v1Record(i + 1, benchEpochMs));
  let sequence = 0;
  const runBatch = (): void => {
    for (let i = 0; i < size; i++) {
      sequence++;
      nowMs++; // 1 ms per signal: reference prices stay fresh
      const record = { ...templates[sequence & (templateCount - 1)]!, sequence, receivedAtMs: nowMs };
      core.onRecord(encodeInbound({ t: 'event', sub: benchSubscriptionId, ev: { kind: 'signal', connId: 1, record }, t0: 1 }));
    }
    core.flush();
  };
  return { journal, runBatch, outboundRecords: () => outbound };
}

export async function run(): Promise<Summary> {
  const dir = fs.mkdtempSync(path.join(process.env.SIGPLANE_BENCH_DIR ?? os.tmpdir(), 'sigplane-shard-core-bench-'));
  const journals: Journal[] = [];
  try {
    const cases = batchSizes.map((size) => {
      const s = shard(dir, size);
      journals.push(s.journal);
      return b.add(`${size} signal${size === 1 ? '' : 's'} per batch: decode, actor, one commit, ack + delivery encoded`, s.runBatch, { maxTime: 3, minSamples: 10 });
    });
    const summary = await b.suite('shard-core', ...cases, b.cycle(), b.complete());
    for (const [i, r] of summary.results.entries()) {
      const size = batchSizes[i]!;
      console.log(`${r.name}: ${Math.round(r.ops * size).toLocaleString('en')} signals/s, ${(1e6 / (r.ops * size)).toFixed(2)} µs per signal (±${r.margin}%)`);
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
