/**
 * What one load run does, and its sending schedule. The schedule is fixed
 * before the first send (open loop): signal k of the run (k = 0, 1, ...) is
 * due at start + k / rate, for subscription k mod S, with sequence
 * floor(k / S) + 1. Every thread computes a signal's due time from these
 * numbers alone, so latency is measured from when a signal was DUE, not when
 * the load generator got round to sending it: a stall anywhere (server or
 * load side) is charged, and no sample is dropped (no coordinated omission).
 */

export const systemNames = [
  'sigplane',
  'sigplane-sync-normal',
  'nats',
  'nats-jetstream',
  'redis',
  'redis-streams',
  'postgres-notify',
  'ws-relay',
  'floor',
  'floor-sync-normal',
] as const;
export type SystemName = (typeof systemNames)[number];

export interface Workload {
  /** S: subscriptions (channels); each has one master connection (N = S). */
  subscriptions: number;
  /** M: receiver connections per subscription. */
  receiversPerSubscription: number;
  /** R: signals per second, all subscriptions together. */
  ratePerSecond: number;
  /** Sent at the same rate before the measured window; not in the latency figures (loss is still counted). */
  warmupMs: number;
  /** The measured window. */
  durationMs: number;
}

export interface Schedule {
  startNs: number;
  intervalNs: number;
  subscriptions: number;
  /** Signals in the whole run (warm-up included). */
  total: number;
  /** Signals due before this are warm-up. */
  measureFromNs: number;
  measureUntilNs: number;
}

/** The slices of the window (its first and its last second) whose delivery latency tells whether a system keeps up. */
export const keepUpSliceNs = 1e9;

export function scheduleFor(w: Workload, startNs: number): Schedule {
  const intervalNs = 1e9 / w.ratePerSecond;
  const total = Math.max(w.subscriptions, Math.round(((w.warmupMs + w.durationMs) / 1000) * w.ratePerSecond));
  const measureFromNs = startNs + w.warmupMs * 1e6;
  return { startNs, intervalNs, subscriptions: w.subscriptions, total, measureFromNs, measureUntilNs: measureFromNs + w.durationMs * 1e6 };
}

export function dueNs(s: Schedule, k: number): number {
  return s.startNs + k * s.intervalNs;
}

/** Due time of `sequence` (1-based) on subscription `sub` (0-based). */
export function dueNsOf(s: Schedule, sub: number, sequence: number): number {
  return dueNs(s, (sequence - 1) * s.subscriptions + sub);
}

/** Signals subscription `sub` gets in the whole run. */
export function signalsOf(s: Schedule, sub: number): number {
  return Math.floor(s.total / s.subscriptions) + (sub < s.total % s.subscriptions ? 1 : 0);
}


export function describeWorkload(w: Workload): string {
  return `${w.subscriptions} sub x ${w.receiversPerSubscription} recv @ ${w.ratePerSecond.toLocaleString('en')}/s`;
}
