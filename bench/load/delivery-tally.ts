/**
 * Exactly which sequences one receiver got: a bit per expected sequence, so
 * loss and duplication are counted exactly (not estimated from counters),
 * and deliveries that arrive below one already seen are counted as out of
 * order.
 */
export interface TallyCounts {
  /** Distinct expected sequences received. */
  unique: number;
  duplicates: number;
  outOfOrder: number;
  /** Sequences outside 1..expected (should never happen). */
  unexpected: number;
}

export class DeliveryTally {
  private readonly seen: Uint8Array;
  private highest = 0;
  readonly counts: TallyCounts = { unique: 0, duplicates: 0, outOfOrder: 0, unexpected: 0 };

  constructor(readonly expected: number) {
    this.seen = new Uint8Array(Math.ceil(expected / 8) + 1);
  }

  /** True when `sequence` is new (its latency counts); false for a duplicate or an unexpected one. */
  record(sequence: number): boolean {
    if (!Number.isInteger(sequence) || sequence < 1 || sequence > this.expected) {
      this.counts.unexpected++;
      return false;
    }
    const byte = sequence >>> 3;
    const bit = 1 << (sequence & 7);
    if ((this.seen[byte] & bit) !== 0) {
      this.counts.duplicates++;
      return false;
    }
    this.seen[byte] |= bit;
    this.counts.unique++;
    if (sequence < this.highest) this.counts.outOfOrder++;
    else this.highest = sequence;
    return true;
  }

  get complete(): boolean {
    return this.counts.unique === this.expected;
  }
}
