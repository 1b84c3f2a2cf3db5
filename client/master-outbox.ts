/**
 * The master client's two bounded stores, free of sockets and clocks:
 *
 * - MasterOutbox: signals published and not yet answered, in sequence
 *   order. Full means publish() refuses; it never grows past its capacity.
 * - SentLog: the exact frames recently sent, by sequence, to answer the
 *   server's sync requests with the same bytes. Oldest are evicted first.
 */

export interface OutboxEntry<W> {
  sequence: number;
  /** The encoded Frame exactly as (to be) sent. */
  frame: Uint8Array;
  /** Whoever waits for the answer (publish's resolve/reject). */
  waiter: W;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export class MasterOutbox<W> {
  private readonly entries = new Map<number, OutboxEntry<W>>();
  private highest = 0;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'outbox capacity is a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  get isFull(): boolean {
    return this.entries.size >= this.capacity;
  }

  /** The highest sequence held, 0 when empty. */
  get highestSequence(): number {
    return this.highest;
  }

  /** The lowest sequence held, 0 when empty. */
  get lowestSequence(): number {
    for (const key of this.entries.keys()) return key; // ascending insertion order: the first is the lowest
    return 0;
  }

  /** How many entries have a sequence <= `sequence` (without copying the outbox). */
  countUpTo(sequence: number): number {
    let n = 0;
    for (const key of this.entries.keys()) {
      if (key > sequence) break;
      n++;
    }
    return n;
  }

  /** Add the next signal; sequences must ascend and the outbox must have room. */
  add(sequence: number, frame: Uint8Array, waiter: W): void {
    assert(Number.isSafeInteger(sequence) && sequence > 0, 'sequence is a positive safe integer');
    assert(!this.isFull, 'outbox has room');
    assert(sequence > this.highest, 'outbox sequences ascend');
    this.entries.set(sequence, { sequence, frame, waiter });
    this.highest = sequence;
  }

  get(sequence: number): OutboxEntry<W> | undefined {
    return this.entries.get(sequence);
  }

  /** Remove and return one entry (answered). */
  take(sequence: number): OutboxEntry<W> | undefined {
    const entry = this.entries.get(sequence);
    if (entry !== undefined) {
      this.entries.delete(sequence);
      if (sequence === this.highest) this.recomputeHighest();
    }
    return entry;
  }

  /** Remove and return every entry with sequence <= `sequence`, in order. */
  takeUpTo(sequence: number): OutboxEntry<W>[] {
    const taken: OutboxEntry<W>[] = [];
    for (const [key, entry] of this.entries) {
      if (key > sequence) break; // insertion order is ascending
      taken.push(entry);
    }
    for (const entry of taken) this.entries.delete(entry.sequence);
    if (this.entries.size === 0) this.highest = 0;
    return taken;
  }

  /** Remove and return everything, in order. */
  takeAll(): OutboxEntry<W>[] {
    const taken = [...this.entries.values()];
    this.entries.clear();
    this.highest = 0;
    return taken;
  }

  private recomputeHighest(): void {
    let highest = 0;
    for (const key of this.entries.keys()) highest = key; // ascending insertion order: the last is the highest
    this.highest = highest;
  }

  /** The entries in sequence order (a copy: safe to mutate the outbox while iterating). */
  list(): OutboxEntry<W>[] {
    return [...this.entries.values()];
  }
}

export interface SentFrame {
  sequence: number;
  frame: Uint8Array;
}

export class SentLog {
  private readonly frames = new Map<number, Uint8Array>();

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'sent log capacity is a positive integer');
  }

  get size(): number {
    return this.frames.size;
  }

  /** Keep the first frame sent for a sequence; evict the oldest past capacity. */
  record(sequence: number, frame: Uint8Array): void {
    assert(Number.isSafeInteger(sequence) && sequence > 0, 'sequence is a positive safe integer');
    if (this.frames.has(sequence)) return;
    this.frames.set(sequence, frame);
    while (this.frames.size > this.capacity) {
      const oldest = this.frames.keys().next().value as number;
      this.frames.delete(oldest);
    }
  }

  get(sequence: number): Uint8Array | undefined {
    return this.frames.get(sequence);
  }

  /** Drop a sequence (its signal was rejected: it must never be resent). */
  forget(sequence: number): void {
    this.frames.delete(sequence);
  }

  /** The highest sequence held, 0 when empty. */
  get highestSequence(): number {
    let highest = 0;
    for (const key of this.frames.keys()) if (key > highest) highest = key;
    return highest;
  }
}

export interface ResendPlan {
  /** The frames to send again, in sequence order. */
  frames: SentFrame[];
  /** Sequences of the range held neither by the outbox nor by the log. */
  missingCount: number;
}

/**
 * What answers a sync request for [fromSequence, toSequence]: the exact
 * frames first sent, from the outbox (unanswered) or the log (recent). The
 * work is bounded by what the two can hold: a larger range is partly
 * missing by definition.
 */
export function planResend<W>(outbox: MasterOutbox<W>, log: SentLog, fromSequence: number, toSequence: number): ResendPlan {
  assert(Number.isSafeInteger(fromSequence) && Number.isSafeInteger(toSequence), 'range bounds are safe integers');
  const frames: SentFrame[] = [];
  if (toSequence < fromSequence) return { frames, missingCount: 0 };
  const span = toSequence - fromSequence + 1;
  const scanned = Math.min(span, outbox.capacity + log.capacity);
  let missingCount = span - scanned;
  for (let sequence = fromSequence; sequence < fromSequence + scanned; sequence++) {
    const frame = outbox.get(sequence)?.frame ?? log.get(sequence);
    if (frame === undefined) missingCount++;
    else frames.push({ sequence, frame });
  }
  return { frames, missingCount };
}
