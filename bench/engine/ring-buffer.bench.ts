/**
 * The SharedArrayBuffer ring (engine/ring-buffer.ts):
 *
 * - one thread, benny: push + pop of one record of 64 B, 512 B and 4 KiB,
 *   popping with read() (copies) and with drain(1) (hands a view), and a
 *   batch of 32 pushes + one drain(32) (the shard's batching; per batch);
 * - across threads (a worker spawned from this file, a few seconds): 64 B
 *   records, main -> worker (waitSync, the shard side) and worker -> main
 *   (waitAsync, the I/O thread side), saturated (throughput; latency there is
 *   queueing) and paced, one record per ~0.1 ms sleep of the producer
 *   (one-way latency including the wake-up of a sleeping consumer). Latency percentiles from
 *   hdr-histogram-js, timestamps from process.hrtime (one clock for all
 *   threads).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/engine/ring-buffer.bench.js
 */
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import * as hdr from 'hdr-histogram-js';
import { createRing, RingConsumer, RingProducer } from '../../engine/ring-buffer';

const singleThreadRingBytes = 1 << 20;
const recordSizes: Array<[string, number]> = [
  ['64 B', 64],
  ['512 B', 512],
  ['4 KiB', 4096],
];
const batchRecords = 32;

function filled(recordBytes: number): Uint8Array {
  return new Uint8Array(recordBytes).map((_, i) => (i * 31 + 7) & 0xff);
}

async function runSingleThread(): Promise<Summary> {
  let sink = 0;
  const onRecord = (bytes: Uint8Array): void => {
    sink += bytes[0];
  };
  const cases = recordSizes.flatMap(([label, recordBytes]) => {
    const sab = createRing(singleThreadRingBytes);
    const producer = new RingProducer(sab);
    const consumer = new RingConsumer(sab);
    const record = filled(recordBytes);
    const push = (): void => {
      if (!producer.tryWrite(record)) throw new Error('bench ring full');
    };
    return [
      b.add(`push + read() copy, ${label}`, () => {
        push();
        sink += consumer.read()![0];
      }),
      b.add(`push + drain(1) view, ${label}`, () => {
        push();
        consumer.drain(1, onRecord);
      }),
      b.add(`${batchRecords} x push + drain(${batchRecords}) view, ${label} (per batch)`, () => {
        for (let i = 0; i < batchRecords; i++) push();
        if (consumer.drain(batchRecords, onRecord) !== batchRecords) throw new Error('bench lost records');
      }),
    ];
  });
  const summary = await b.suite(
    'ring-buffer (one thread)',
    ...cases,
    b.configure({ cases: { maxTime: 1, minSamples: 5 } }),
    b.cycle(),
    b.complete(),
  );
  if (sink === 0) throw new Error('sink');
  return summary;
}

// ---- across threads ----

const crossRingBytes = 1 << 16;
const timestampBytes = 8;
/** Sleep between records in the paced runs (Atomics.wait; the kernel adds its slack). */
const pacedSleepMs = 0.1;
/** Sleep of a producer that found the ring full. */
const fullSleepMs = 0.05;
const waitTimeoutMs = 100;

interface CrossScenario {
  name: string;
  direction: 'main-to-worker' | 'worker-to-main';
  recordBytes: number;
  records: number;
  /** Sleep after each record; 0: as fast as the ring takes them. */
  sleepMs: number;
}

const crossRecordBytes = 64;
const crossScenarios: CrossScenario[] = (['main-to-worker', 'worker-to-main'] as const).flatMap((direction) => {
  const label = direction === 'main-to-worker' ? 'main -> worker' : 'worker -> main';
  return [
    { name: `${label}, saturated, 64 B`, direction, recordBytes: crossRecordBytes, records: 500_000, sleepMs: 0 },
    {
      name: `${label}, paced (sleep 0.1 ms), 64 B`,
      direction,
      recordBytes: crossRecordBytes,
      records: 5_000,
      sleepMs: pacedSleepMs,
    },
  ];
});

export interface CrossThreadResult {
  name: string;
  records: number;
  elapsedMs: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number };
  consumerSleeps: number;
}

interface LatencyReport {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  sleeps: number;
}

interface BenchWorkerData {
  role: 'ring-bench-producer' | 'ring-bench-consumer';
  sab: SharedArrayBuffer;
  scenario: CrossScenario;
}

function nowNs(): number {
  return Number(process.hrtime.bigint());
}

function stamp(record: Uint8Array): void {
  new DataView(record.buffer, record.byteOffset, timestampBytes).setFloat64(0, nowNs(), true);
}

function newLatencyRecorder() {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10_000_000_000, // 10 s in ns
    numberOfSignificantValueDigits: 3,
  });
  return {
    onRecord(bytes: Uint8Array): void {
      const sentNs = new DataView(bytes.buffer, bytes.byteOffset, timestampBytes).getFloat64(0, true);
      histogram.recordValue(Math.max(1, nowNs() - sentNs));
    },
    report(sleeps: number): LatencyReport {
      const us = (percentile: number): number => histogram.getValueAtPercentile(percentile) / 1000;
      return { p50: us(50), p90: us(90), p99: us(99), p999: us(99.9), max: histogram.maxValue / 1000, sleeps };
    },
  };
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps without spinning (blocks this thread: never used where a consumer shares the thread). */
function sleepMs(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

/** Producer loop: batches of 64 (one notify each) when saturated, else one record per sleep. */
function produce(sab: SharedArrayBuffer, scenario: CrossScenario): void {
  const producer = new RingProducer(sab);
  const record = filled(scenario.recordBytes);
  const batchMax = scenario.sleepMs > 0 ? 1 : 64;
  for (let sent = 0; sent < scenario.records; ) {
    let batch = 0;
    for (; batch < batchMax && sent < scenario.records; batch++, sent++) {
      stamp(record);
      if (!producer.tryWrite(record)) break;
    }
    producer.notify();
    if (batch < batchMax && sent < scenario.records) sleepMs(fullSleepMs);
    else if (scenario.sleepMs > 0) sleepMs(scenario.sleepMs);
  }
}

function consumeSync(consumer: RingConsumer, scenario: CrossScenario): LatencyReport {
  const latency = newLatencyRecorder();
  for (let received = 0; received < scenario.records; ) {
    const taken = consumer.drain(1024, latency.onRecord);
    received += taken;
    if (taken === 0) consumer.waitSync(waitTimeoutMs);
  }
  return latency.report(consumer.sleepCount);
}

async function consumeAsync(sab: SharedArrayBuffer, scenario: CrossScenario): Promise<LatencyReport> {
  const consumer = new RingConsumer(sab);
  const latency = newLatencyRecorder();
  for (let received = 0; received < scenario.records; ) {
    const taken = consumer.drain(1024, latency.onRecord);
    received += taken;
    if (taken === 0) await consumer.waitAsync(waitTimeoutMs);
  }
  return latency.report(consumer.sleepCount);
}

function benchWorkerFile(): string {
  // Workers load compiled JS: when this file runs as TypeScript, use its build.
  if (__filename.endsWith('.js')) return __filename;
  return path.resolve(__dirname, '../../dist/bench/engine/ring-buffer.bench.js');
}

async function runScenario(scenario: CrossScenario): Promise<CrossThreadResult> {
  const sab = createRing(crossRingBytes);
  const role = scenario.direction === 'main-to-worker' ? 'ring-bench-consumer' : 'ring-bench-producer';
  const data: BenchWorkerData = { role, sab, scenario };
  const worker = new Worker(benchWorkerFile(), { workerData: data });
  const messages: unknown[] = [];
  let onMessage: (() => void) | null = null;
  let failure: Error | null = null;
  worker.on('message', (message: unknown) => {
    messages.push(message);
    onMessage?.();
  });
  worker.once('error', (err: Error) => {
    failure = err;
    onMessage?.();
  });
  worker.once('exit', (code) => {
    failure ??= new Error(`ring bench worker exited (code ${code})`);
    onMessage?.();
  });
  const nextMessage = async (): Promise<unknown> => {
    while (messages.length === 0) {
      if (failure !== null) throw failure;
      await new Promise<void>((resolve) => (onMessage = resolve));
    }
    return messages.shift();
  };
  // The worker says 'ready' once its modules are loaded and its end is built,
  // so that start-up is not measured as latency.
  await nextMessage();
  const startNs = nowNs();
  let latency: LatencyReport;
  if (role === 'ring-bench-consumer') {
    produce(sab, scenario);
    latency = (await nextMessage()) as LatencyReport;
  } else {
    const consumed = consumeAsync(sab, scenario);
    worker.postMessage('go');
    latency = await consumed;
    await nextMessage();
  }
  const elapsedMs = (nowNs() - startNs) / 1e6;
  await worker.terminate();
  const { sleeps, ...latencyUs } = latency;
  return {
    name: scenario.name,
    records: scenario.records,
    elapsedMs: Math.round(elapsedMs),
    recordsPerSecond: Math.round(scenario.records / (elapsedMs / 1000)),
    megabytesPerSecond: Math.round((scenario.records * scenario.recordBytes) / (elapsedMs / 1000) / 1e6),
    latencyUs,
    consumerSleeps: sleeps,
  };
}

async function runCrossThread(): Promise<CrossThreadResult[]> {
  const results: CrossThreadResult[] = [];
  for (const scenario of crossScenarios) {
    const result = await runScenario(scenario);
    const { p50, p99, p999, max } = result.latencyUs;
    console.log(
      `  ${result.name}: ${result.recordsPerSecond.toLocaleString('en')} records/s, ` +
        `${result.megabytesPerSecond} MB/s; latency us p50 ${p50} p99 ${p99} p99.9 ${p999} max ${max}; ` +
        `consumer slept ${result.consumerSleeps}x`,
    );
    results.push(result);
  }
  return results;
}

/** benny's summary of the one-thread suite, plus the cross-thread results. */
export async function run(): Promise<Summary & { crossThread: CrossThreadResult[] }> {
  const summary = await runSingleThread();
  console.log('ring-buffer (across threads)');
  const crossThread = await runCrossThread();
  return { ...summary, crossThread };
}

function runBenchWorker(data: BenchWorkerData): void {
  if (data.role === 'ring-bench-consumer') {
    const consumer = new RingConsumer(data.sab);
    parentPort!.postMessage('ready');
    parentPort!.postMessage(consumeSync(consumer, data.scenario));
  } else {
    parentPort!.once('message', () => {
      produce(data.sab, data.scenario);
      parentPort!.postMessage('done');
    });
    parentPort!.postMessage('ready');
  }
}

const benchWorkerData = workerData as BenchWorkerData | undefined;
if (!isMainThread && benchWorkerData?.role !== undefined && benchWorkerData.role.startsWith('ring-bench-')) {
  runBenchWorker(benchWorkerData);
} else if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
