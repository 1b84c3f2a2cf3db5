/**
 * A receiver worker thread of the load generator: opens its share of the
 * receivers, stamps every delivery on the shared clock, and tallies exactly
 * which sequences each receiver got. Latency is from the signal's DUE time
 * (workload.ts), so the sender's lateness is charged too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nowNs, useClockEpoch } from './clock';
import { DeliveryTally } from './delivery-tally';
import { inBatches } from './in-batches';
import { encodeHistogram, newLatencyHistogram, recordLatency } from './latency';
import { receiverOpeners } from './receiver-openers';
import type { FromReceiverWorker, ReceiverWorkerData, ToReceiverWorker } from './receiver-protocol';
import type { ReceiverLink } from './system';
import { dueNsOf, keepUpSliceNs, signalsOf, type Schedule } from './workload';

const data = workerData as ReceiverWorkerData;
useClockEpoch(data.epoch);
const port = parentPort!;
const post = (message: FromReceiverWorker): void => port.postMessage(message);

const histogram = newLatencyHistogram();
/** Delivery latency of the signals due in the first and in the last second of the window (a growing backlog shows between them). */
const firstSecond = newLatencyHistogram();
const lastSecond = newLatencyHistogram();
let schedule: Schedule | null = null;
let tallies: DeliveryTally[] = [];
let deliveriesInWindow = 0;
let eluStart = performance.eventLoopUtilization();
let eluWindow: number | null = null;
const links: ReceiverLink[] = [];

function onDelivery(index: number, sequence: number): void {
  const at = nowNs();
  const s = schedule;
  if (s === null || !tallies[index].record(sequence)) return;
  const due = dueNsOf(s, data.targets[index].sub, sequence);
  if (due >= s.measureFromNs && due < s.measureUntilNs) {
    recordLatency(histogram, at - due);
    if (due < s.measureFromNs + keepUpSliceNs) recordLatency(firstSecond, at - due);
    if (due >= s.measureUntilNs - keepUpSliceNs) recordLatency(lastSecond, at - due);
  }
  if (at >= s.measureFromNs && at < s.measureUntilNs) deliveriesInWindow++;
}

function arm(s: Schedule): void {
  schedule = s;
  tallies = data.targets.map((t) => new DeliveryTally(signalsOf(s, t.sub)));
  setTimeout(() => (eluStart = performance.eventLoopUtilization()), Math.max(0, (s.measureFromNs - nowNs()) / 1e6));
  setTimeout(() => (eluWindow = performance.eventLoopUtilization(eluStart).utilization), Math.max(0, (s.measureUntilNs - nowNs()) / 1e6));
}

async function closeAll(): Promise<void> {
  await inBatches(links, 100, async (link) => link?.close().catch(() => undefined));
}

function report(): void {
  let lost = 0;
  let deliveries = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let unexpected = 0;
  for (const tally of tallies) {
    deliveries += tally.counts.unique;
    lost += tally.expected - tally.counts.unique;
    duplicates += tally.counts.duplicates;
    outOfOrder += tally.counts.outOfOrder;
    unexpected += tally.counts.unexpected;
  }
  post({
    t: 'report',
    report: {
      receivers: data.targets.length,
      histogram: encodeHistogram(histogram),
      firstSecond: encodeHistogram(firstSecond),
      lastSecond: encodeHistogram(lastSecond),
      deliveries,
      deliveriesInWindow,
      lost,
      duplicates,
      outOfOrder,
      unexpected,
      reconnects: links.reduce((n, link) => n + (link?.reconnects ?? 0), 0),
      eventLoopUtilization: eluWindow ?? performance.eventLoopUtilization(eluStart).utilization,
    },
  });
}

function drain(deadlineMs: number): void {
  const check = (): void => {
    if (tallies.every((t) => t.complete) || Date.now() >= deadlineMs) {
      void closeAll().then(report);
      return;
    }
    setTimeout(check, 10);
  };
  check();
}

port.on('message', (message: ToReceiverWorker) => {
  if (message.t === 'arm') {
    arm(message.schedule);
    post({ t: 'armed' });
  } else if (message.t === 'drain') drain(message.deadlineMs);
  else if (message.t === 'close') void closeAll().then(report);
});

const open = receiverOpeners[data.system];
inBatches(data.targets, data.connectConcurrency, async (target, index) => {
  links[index] = await open(target, (sequence) => onDelivery(index, sequence));
}).then(
  () => post({ t: 'ready' }),
  (error: Error) => post({ t: 'error', message: `${data.system} receiver: ${error.message}` }),
);
