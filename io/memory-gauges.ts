/**
 * The server's memory on /metrics: the process's resident set, and per
 * thread (the I/O thread, each shard worker as it last reported) its V8
 * heap, its external memory and the ArrayBuffers within it. RSS alone
 * cannot say which thread holds what, nor tell a heap V8 has not collected
 * yet from one that grows (docs/operations.md, "Memory").
 */
import { threadMemory, type ThreadMemory } from '../persistence/thread-memory';
import type { Metrics } from './metrics';

export interface ThreadMemorySources {
  /** Each shard worker's, as it last reported. */
  shards: () => Iterable<[number, ThreadMemory]>;
  /** The journal shipper thread's, as it last reported (undefined: no shipper, or no report yet). */
  shipper: () => ThreadMemory | undefined;
}

export function registerMemoryGauges(metrics: Metrics, sources: ThreadMemorySources): void {
  const perThread = (field: keyof ThreadMemory) => () => {
    const out = [{ labels: { thread: 'io' }, value: threadMemory()[field] }];
    for (const [index, memory] of sources.shards()) out.push({ labels: { thread: `shard-${index}` }, value: memory[field] });
    const shipper = sources.shipper();
    if (shipper !== undefined) out.push({ labels: { thread: 'shipper' }, value: shipper[field] });
    return out;
  };
  metrics.gauge('sigplane_resident_memory_bytes', 'Resident memory of the whole server process (all threads, native buffers, SQLite page caches).', () => [
    { labels: {}, value: process.memoryUsage.rss() },
  ]);
  metrics.gauge('sigplane_heap_used_bytes', 'V8 heap in use, per thread (io; shard-N and shipper as they last reported).', perThread('heapUsedBytes'));
  metrics.gauge('sigplane_heap_total_bytes', 'V8 heap reserved, per thread.', perThread('heapTotalBytes'));
  metrics.gauge('sigplane_external_memory_bytes', 'Memory of C++ objects bound to JS objects (ArrayBuffers included), per thread.', perThread('externalBytes'));
  metrics.gauge('sigplane_array_buffers_bytes', 'ArrayBuffers and Buffers, per thread.', perThread('arrayBuffersBytes'));
}
