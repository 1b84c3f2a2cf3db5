/**
 * One clock for every thread and process of a load run: CLOCK_MONOTONIC
 * (process.hrtime) in nanoseconds since an epoch that the main process picks
 * and hands to its workers, as a JS number (exact below 2^53 ns, 104 days).
 * Monotonic time is system-wide on Linux, so a send stamped in one thread
 * and a receive stamped in another are comparable.
 */

let epoch = process.hrtime.bigint();

/** The epoch as decimal text, to hand to a worker. */
export function clockEpoch(): string {
  return epoch.toString();
}

/** Adopt the main process's epoch (workers call this first). */
export function useClockEpoch(text: string): void {
  epoch = BigInt(text);
}

export function nowNs(): number {
  return Number(process.hrtime.bigint() - epoch);
}

/** Busy-waits until `targetNs`: only for the last few tens of microseconds before a send. */
export function spinUntil(targetNs: number): void {
  while (nowNs() < targetNs) {
    // spin
  }
}
