/**
 * The server's memory on /metrics: the process's resident set, and per
 * thread (the I/O thread, each shard worker as it last reported) its V8
 * heap, its external memory and the ArrayBuffers within it. RSS alone
 * cannot say which thread holds what, nor tell a heap V8 has not collected
 * yet from one that grows (docs/operations.md, "Memory").
 */
import { threadMemory, type ThreadMemory } from '../engine/shard-protocol';
import type { Metrics } from './metrics';

export function registerMemoryGauges(metrics: Metrics, shardMemory: () => Iterable<[number, ThreadMemory]>): void {
  const perThread = (field: keyof ThreadMemory) => () => {
    const out = [{ labels: { thread: 'io' }, value: threadMemory()[field] }];
    for (const [index, memory] of shardMemory()) out.push({ labels: { thread: `shard-${index}` }, value: memory[field] });
    return out;
  };
  metrics.gauge('sigplane_resident_memory_bytes', 'Resident memory of the whole server process (all threads, native buffers, SQLite page caches).', () => [
    { labels: {}, value: process.memoryUsage.rss() },
  ]);
  metrics.gauge('sigplane_heap_used_bytes', 'V8 heap in use, per thread (io, shard-N as last reported).', perThread('heapUsedBytes'));
  metrics.gauge('sigplane_heap_total_bytes', 'V8 heap reserved, per thread.', perThread('heapTotalBytes'));
  metrics.gauge('sigplane_external_memory_bytes', 'Memory of C++ objects bound to JS objects (ArrayBuffers included), per thread.', perThread('externalBytes'));
  metrics.gauge('sigplane_array_buffers_bytes', 'ArrayBuffers and Buffers, per thread.', perThread('arrayBuffersBytes'));
}
