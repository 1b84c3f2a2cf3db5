/**
 * Does a system keep up with a rate? Two checks, as issue 16 states them:
 * no growing backlog, and delivery p99 under 20 ms. A system that falls
 * behind queues more every second, so the signals due in the last second
 * of the window wait longer than those due in its first; one that keeps up
 * stays within its jitter. The growth is the difference of their p50s.
 */
import type { RunResult } from './run-workload';

/** A p50 that grows by more than this from the window's first second to its last is a growing backlog. */
export const backlogGrowthMaxUs = 5_000;
/** Delivery p99 at or above this is flagged. */
export const keepUpP99MaxUs = 20_000;

/** How much later, at p50, the last second's signals arrived than the first second's (µs; negative: earlier). */
export function backlogGrowthUs(r: Pick<RunResult, 'deliveryFirstSecond' | 'deliveryLastSecond'>): number {
  return r.deliveryLastSecond.p50Us - r.deliveryFirstSecond.p50Us;
}

/** No growing backlog: both seconds delivered, nothing lost or duplicated, and the p50 grew by at most backlogGrowthMaxUs. */
export function noGrowingBacklog(r: RunResult): boolean {
  return (
    r.deliveryFirstSecond.count > 0 &&
    r.deliveryLastSecond.count > 0 &&
    r.lost === 0 &&
    r.duplicates === 0 &&
    backlogGrowthUs(r) <= backlogGrowthMaxUs
  );
}

/** Keeps up: no growing backlog and delivery p99 under keepUpP99MaxUs. */
export function keepsUp(r: RunResult): boolean {
  return noGrowingBacklog(r) && r.delivery.p99Us < keepUpP99MaxUs;
}
