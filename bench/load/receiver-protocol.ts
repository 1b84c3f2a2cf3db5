/** Messages between the load generator's main thread and its receiver worker threads. */
import type { ReceiverTarget } from './system';
import type { Schedule, SystemName } from './workload';

export interface ReceiverWorkerData {
  epoch: string;
  system: SystemName;
  targets: ReceiverTarget[];
  /** Receivers connecting at once. */
  connectConcurrency: number;
}

export type ToReceiverWorker =
  /** Signals are about to flow on this schedule. */
  | { t: 'arm'; schedule: Schedule }
  /** Report once every receiver has everything, or at `deadlineMs` (Date.now()) at the latest. */
  | { t: 'drain'; deadlineMs: number }
  /** Close every receiver and report (idle connections). */
  | { t: 'close' };

export interface ReceiverWorkerReport {
  receivers: number;
  /** Delivery latency of first deliveries of signals due in the measured window (encoded HDR histogram, ns). */
  histogram: string;
  /** The same, for the signals due in the first second of the window, and in its last second. */
  firstSecond: string;
  lastSecond: string;
  /** Distinct deliveries, whole run. */
  deliveries: number;
  /** Deliveries (first ones) that arrived inside the measured window. */
  deliveriesInWindow: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  unexpected: number;
  /** Times the server closed one of these receivers and it resumed from its last sequence on a new connection. */
  reconnects: number;
  /** Event-loop utilization of this thread over the measured window (1: saturated). */
  eventLoopUtilization: number;
}

export type FromReceiverWorker =
  | { t: 'ready' }
  | { t: 'armed' }
  | { t: 'report'; report: ReceiverWorkerReport }
  | { t: 'error'; message: string };
