/**
 * One thread's V8 isolate, as process.memoryUsage() says inside it (without
 * the process-wide RSS): what each worker reports for /metrics
 * (io/memory-gauges.ts).
 */
export interface ThreadMemory {
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** C++ objects bound to JS objects, ArrayBuffers included. */
  externalBytes: number;
  arrayBuffersBytes: number;
}

export function threadMemory(): ThreadMemory {
  const m = process.memoryUsage();
  return { heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
}
