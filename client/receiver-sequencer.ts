/**
 * The receiver's ordering rules as a pure state machine: no socket, no
 * timer, the time passed in. ReceiverClient feeds it every delivery and
 * snapshot, one at a time, and performs what it decides.
 *
 *   sequence <= lastExecuted        -> duplicate: ignore
 *   sequence == lastExecuted + 1    -> execute (then executed(sequence))
 *   sequence >  lastExecuted + 1    -> gap: ask once for lastExecuted + 1 ..,
 *                                      ignore out-of-order ones until filled
 *   snapshot at s >= lastExecuted   -> apply (then snapshotApplied(s))
 *   snapshot at s <  lastExecuted   -> stale: ignore (never go back in time)
 *
 * A gap is filled when lastExecuted reaches the highest sequence seen while
 * it was open. With no progress for gapRetryMs the request is repeated.
 * lastExecuted null means "not known yet" (the receiver subscribed without a
 * cursor): the first delivery or snapshot sets the baseline.
 */

export type DeliveryDecision =
  | { kind: 'execute' }
  | { kind: 'duplicate' }
  /** Send syncRequest { fromSequence: syncFrom }. */
  | { kind: 'gap'; syncFrom: number }
  /** A gap is already being filled: ignore this one. */
  | { kind: 'out-of-order' };

export type SnapshotDecision = { kind: 'apply' } | { kind: 'stale' };

export interface SequencerCounters {
  executed: number;
  snapshotsApplied: number;
  duplicatesIgnored: number;
  outOfOrderIgnored: number;
  staleSnapshotsIgnored: number;
  gapsSeen: number;
  syncRequestsSent: number;
}

interface OpenGap {
  /** The highest sequence seen while the gap is open: filled when lastExecuted reaches it. */
  highestSeen: number;
  /** When the last sync request went out or progress was last made. */
  lastActivityMs: number;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function assertSequence(sequence: number): void {
  assert(Number.isSafeInteger(sequence) && sequence >= 0, `sequence ${sequence} is a non-negative safe integer`);
}

export class ReceiverSequencer {
  private last: number | null;
  private gap: OpenGap | null = null;
  /** A delivery or snapshot was handed out and not yet reported done. */
  private pending: { kind: 'execute' | 'snapshot'; sequence: number } | null = null;
  readonly counters: SequencerCounters = {
    executed: 0,
    snapshotsApplied: 0,
    duplicatesIgnored: 0,
    outOfOrderIgnored: 0,
    staleSnapshotsIgnored: 0,
    gapsSeen: 0,
    syncRequestsSent: 0,
  };

  constructor(
    lastExecuted: number | null,
    private readonly gapRetryMs: number,
  ) {
    if (lastExecuted !== null) assertSequence(lastExecuted);
    assert(gapRetryMs > 0, 'gapRetryMs > 0');
    this.last = lastExecuted;
  }

  /** The last sequence executed (or covered by an applied snapshot); null when not known yet. */
  get lastExecuted(): number | null {
    return this.last;
  }

  get gapOpen(): boolean {
    return this.gap !== null;
  }

  /** The sequence to be executed next; null while the baseline is unknown. */
  get expected(): number | null {
    return this.last === null ? null : this.last + 1;
  }

  onDelivery(sequence: number, nowMs: number): DeliveryDecision {
    assertSequence(sequence);
    assert(this.pending === null, 'one delivery or snapshot at a time');
    const last = this.last;
    if (last === null || sequence === last + 1) {
      this.pending = { kind: 'execute', sequence };
      return { kind: 'execute' };
    }
    if (sequence <= last) {
      this.counters.duplicatesIgnored++;
      return { kind: 'duplicate' };
    }
    // sequence > last + 1
    if (this.gap === null) {
      this.gap = { highestSeen: sequence, lastActivityMs: nowMs };
      this.counters.gapsSeen++;
      this.counters.syncRequestsSent++;
      return { kind: 'gap', syncFrom: last + 1 };
    }
    if (sequence > this.gap.highestSeen) this.gap.highestSeen = sequence;
    this.counters.outOfOrderIgnored++;
    return { kind: 'out-of-order' };
  }

  /** The delivery handed out by onDelivery was executed. */
  executed(sequence: number, nowMs: number): void {
    const pending = this.pending;
    assert(pending !== null && pending.kind === 'execute' && pending.sequence === sequence, `executed(${sequence}) matches the delivery handed out`);
    this.pending = null;
    this.last = sequence;
    this.counters.executed++;
    this.progress(nowMs);
  }

  /** The delivery handed out by onDelivery was not executed (the handler failed): it can come again. */
  abandoned(): void {
    assert(this.pending !== null, 'something was handed out');
    this.pending = null;
  }

  onSnapshot(sequence: number): SnapshotDecision {
    assertSequence(sequence);
    assert(this.pending === null, 'one delivery or snapshot at a time');
    if (this.last !== null && sequence < this.last) {
      this.counters.staleSnapshotsIgnored++;
      return { kind: 'stale' };
    }
    this.pending = { kind: 'snapshot', sequence };
    return { kind: 'apply' };
  }

  snapshotApplied(sequence: number, nowMs: number): void {
    const pending = this.pending;
    assert(pending !== null && pending.kind === 'snapshot' && pending.sequence === sequence, `snapshotApplied(${sequence}) matches the snapshot handed out`);
    this.pending = null;
    this.last = sequence;
    this.counters.snapshotsApplied++;
    this.progress(nowMs);
  }

  /** Repeat the sync request when a gap has made no progress for gapRetryMs: the fromSequence, or null. */
  tick(nowMs: number): number | null {
    const gap = this.gap;
    if (gap === null || this.last === null) return null;
    if (nowMs - gap.lastActivityMs < this.gapRetryMs) return null;
    gap.lastActivityMs = nowMs;
    this.counters.syncRequestsSent++;
    return this.last + 1;
  }

  /** A new connection: its subscribe (with lastExecuted) replaces any open gap request. */
  onReconnect(): void {
    this.gap = null;
  }

  private progress(nowMs: number): void {
    const gap = this.gap;
    if (gap === null) return;
    if (this.last !== null && this.last >= gap.highestSeen) this.gap = null;
    else gap.lastActivityMs = nowMs;
  }
}
