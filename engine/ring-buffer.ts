/**
 * Lock-free single-producer single-consumer ring of variable-length records
 * over a SharedArrayBuffer (layout and diagram: `ring-layout.ts`). One thread
 * holds the RingProducer, another the RingConsumer, both built on the same
 * SharedArrayBuffer.
 *
 * Memory ordering. All Atomics operations are sequentially consistent; an
 * Atomics.load that reads the value of an Atomics.store synchronizes with it,
 * so every plain access before the store happens-before every plain access
 * after the load.
 * - The producer writes the length prefix and the bytes with plain stores,
 *   then publishes the write index with Atomics.store. The consumer reads the
 *   write index with Atomics.load before it reads any byte below it, so it
 *   never sees a half-written record.
 * - The consumer reads (or copies) the bytes, then publishes the read index
 *   with Atomics.store. The producer reads the read index with Atomics.load
 *   before it overwrites anything below it, so it never overwrites bytes the
 *   consumer is still reading.
 * - Each side keeps its own index in a field (it is the only writer) and a
 *   cached copy of the other side's index, reloaded only when the cache says
 *   "full" / "empty". A stale cache only under-estimates free space or
 *   available records: it is always safe, and it keeps the other side's cache
 *   line from bouncing between cores on every record.
 *
 * Wake-up protocol (no syscall per record, no lost wake-up):
 * - Consumer, to sleep: spin a while checking for records (waitSync only);
 *   store sleeping = 1; load the write index W; if W differs from its read
 *   index there are records: store sleeping = 0 and return. Otherwise
 *   Atomics.wait / Atomics.waitAsync on the write index word, expecting W;
 *   on return store sleeping = 0.
 * - Producer: tryWrite / tryWriteParts never notify. After a batch of writes
 *   it calls notify(), which loads sleeping and calls Atomics.notify on the
 *   write index word only when it is 1. While the consumer is busy, a batch
 *   costs one atomic load and no syscall.
 * - Why no wake-up is lost: the producer does store(write) then
 *   load(sleeping); the consumer does store(sleeping = 1) then load(write).
 *   In the single total order of seq-cst operations one of the two loads
 *   comes after the other side's store: either the consumer sees the new
 *   write index and does not wait, or the producer sees sleeping = 1 and
 *   notifies. In the second case, Atomics.wait compares the write index with
 *   W atomically with joining the waiter list: if the producer's store came
 *   first the wait returns at once ('not-equal'); if not, the consumer is
 *   already on the list when notify runs. The flag is only a hint that saves
 *   syscalls; the futex-style value check is what makes waiting safe.
 *
 * Invariants are asserted and throw RingError (code RING_INVARIANT): a ring
 * that looks corrupt stops the thread instead of handing on wrong bytes.
 */

import { engine, SigplaneError } from '@sigplane/protocol';
import { SpinPolicy } from './spin-policy';
import {
  capacitySlot,
  consumerSleepingSlot,
  isPowerOfTwo,
  magicSlot,
  readIndexSlot,
  recordSpanBytes,
  ringLayout,
  ringRecordBytesMax,
  writeIndexSlot,
} from './ring-layout';

export const RingErrorCode = {
  /** A record of 0 bytes or more than recordBytesMax: a caller bug, not "full". */
  RECORD_SIZE: 'RING_RECORD_SIZE',
  /** The buffer is not a ring of this layout, or a ring size is invalid. */
  LAYOUT: 'RING_LAYOUT',
  /** Shared state breaks an invariant (corrupt length, index out of range, two producers...). */
  INVARIANT: 'RING_INVARIANT',
} as const;
export type RingErrorCode = (typeof RingErrorCode)[keyof typeof RingErrorCode];

export class RingError extends SigplaneError<RingErrorCode> {
  constructor(code: RingErrorCode, message: string) {
    super(code, `${code}: ${message}`);
    this.name = 'RingError';
  }
}

function ringAssert(condition: boolean, message: string): asserts condition {
  if (!condition) ringFail(message);
}

/**
 * For checks whose message is built from values: call it as
 * `if (!condition) ringFail(...)`, so that the message is only built on
 * failure (building it on every check cost more than the ring operation).
 */
function ringFail(message: string): never {
  throw new RingError(RingErrorCode.INVARIANT, message);
}

const noBytes = new Uint8Array(0);
const spinChecksPerClockRead = 64;

/** A new, empty ring whose data area holds `ringBytes` (a power of two). */
export function createRing(ringBytes: number = engine.ringBytes): SharedArrayBuffer {
  if (
    !isPowerOfTwo(ringBytes) ||
    ringBytes < ringLayout.capacityBytesMin ||
    ringBytes > ringLayout.capacityBytesMax
  ) {
    const range = `${ringLayout.capacityBytesMin}..${ringLayout.capacityBytesMax}`;
    throw new RingError(RingErrorCode.LAYOUT, `ringBytes must be a power of two in ${range}, got ${ringBytes}`);
  }
  const sab = new SharedArrayBuffer(ringLayout.headerBytes + ringBytes);
  const header = new Int32Array(sab, 0, ringLayout.headerBytes >> 2);
  header[magicSlot] = ringLayout.magic;
  header[capacitySlot] = ringBytes;
  // Posting the SharedArrayBuffer to another thread orders these stores
  // before anything that thread does with it.
  return sab;
}

/** Views over one ring, shared by both ends. */
class RingViews {
  readonly header: Int32Array;
  readonly data: Uint8Array;
  /** The data area as int32s: record length prefixes (4-byte aligned). */
  readonly lengths: Int32Array;
  readonly capacityBytes: number;
  readonly mask: number;
  readonly recordBytesMax: number;

  constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < ringLayout.headerBytes) {
      throw new RingError(RingErrorCode.LAYOUT, 'not a SharedArrayBuffer ring');
    }
    this.header = new Int32Array(sab, 0, ringLayout.headerBytes >> 2);
    const capacityBytes = this.header[capacitySlot];
    if (
      this.header[magicSlot] !== ringLayout.magic ||
      !isPowerOfTwo(capacityBytes) ||
      sab.byteLength !== ringLayout.headerBytes + capacityBytes
    ) {
      throw new RingError(RingErrorCode.LAYOUT, 'not a ring made by createRing (magic or size mismatch)');
    }
    this.capacityBytes = capacityBytes;
    this.mask = capacityBytes - 1;
    this.recordBytesMax = ringRecordBytesMax(capacityBytes, engine.ringRecordBytesMax);
    this.data = new Uint8Array(sab, ringLayout.headerBytes, capacityBytes);
    this.lengths = new Int32Array(sab, ringLayout.headerBytes, capacityBytes >> 2);
  }

  /** Bytes in use between a read and a write index, asserted within the ring. */
  usedBytes(writeIndex: number, readIndex: number): number {
    const used = (writeIndex - readIndex) | 0;
    if (!(used >= 0 && used <= this.capacityBytes)) {
      ringFail(`indices out of range: write ${writeIndex}, read ${readIndex}, capacity ${this.capacityBytes}`);
    }
    return used;
  }
}

export class RingProducer {
  readonly capacityBytes: number;
  /** Largest record this ring carries (engine.ringRecordBytesMax, or half a small ring). */
  readonly recordBytesMax: number;
  private readonly ring: RingViews;
  /** Our write index: this producer is its only writer. */
  private writeIndex: number;
  /** Last read index loaded; stale is safe (under-estimates free space). */
  private readIndexSeen: number;

  constructor(sab: SharedArrayBuffer) {
    this.ring = new RingViews(sab);
    this.capacityBytes = this.ring.capacityBytes;
    this.recordBytesMax = this.ring.recordBytesMax;
    this.writeIndex = Atomics.load(this.ring.header, writeIndexSlot);
    this.readIndexSeen = Atomics.load(this.ring.header, readIndexSlot);
    this.ring.usedBytes(this.writeIndex, this.readIndexSeen);
  }

  /**
   * Appends one record (a copy of `bytes`) and publishes it. Returns false,
   * changing nothing, when the ring has no room. Does not wake the consumer:
   * call notify() after a batch. Throws RING_RECORD_SIZE for an empty record
   * or one over recordBytesMax (it would never fit: not the same as full).
   */
  tryWrite(bytes: Uint8Array): boolean {
    return this.writeRecord(bytes, noBytes);
  }

  /** Like tryWrite, for one record made of `head` then `tail`, without concatenating them. */
  tryWriteParts(head: Uint8Array, tail: Uint8Array): boolean {
    return this.writeRecord(head, tail);
  }

  /**
   * Wakes the consumer if it announced it is sleeping. Call once after each
   * batch of writes (a batch left without notify() is only seen when the
   * consumer's wait times out: latency, not loss). Returns whether
   * Atomics.notify was called.
   */
  notify(): boolean {
    // This seq-cst load comes after the seq-cst store of the write index in
    // writeRecord: see "Why no wake-up is lost" in the header comment.
    if (Atomics.load(this.ring.header, consumerSleepingSlot) === 0) return false;
    Atomics.notify(this.ring.header, writeIndexSlot, 1);
    return true;
  }

  /** Bytes written and not yet released by the consumer (records, prefixes and padding). */
  depthBytes(): number {
    this.readIndexSeen = Atomics.load(this.ring.header, readIndexSlot);
    return this.ring.usedBytes(this.writeIndex, this.readIndexSeen);
  }

  private writeRecord(head: Uint8Array, tail: Uint8Array): boolean {
    const ring = this.ring;
    const length = head.length + tail.length;
    if (length < 1 || length > this.recordBytesMax) {
      throw new RingError(
        RingErrorCode.RECORD_SIZE,
        `record of ${length} bytes, allowed 1..${this.recordBytesMax}`,
      );
    }
    const writeIndex = this.writeIndex;
    ringAssert(
      Atomics.load(ring.header, writeIndexSlot) === writeIndex,
      'write index moved under the producer: two producers on one ring?',
    );
    const spanBytes = recordSpanBytes(length);
    const position = writeIndex & ring.mask;
    const tailRoomBytes = ring.capacityBytes - position;
    // A record never straddles the end: if it does not fit before it, the
    // rest of the area becomes padding (>= 4 bytes, positions are aligned).
    const padBytes = spanBytes <= tailRoomBytes ? 0 : tailRoomBytes;
    const needBytes = padBytes + spanBytes;
    if (!this.hasFreeBytes(needBytes)) return false;

    let recordPosition = position;
    if (padBytes > 0) {
      ring.lengths[position >> 2] = ringLayout.skipMarker;
      recordPosition = 0;
    }
    ring.lengths[recordPosition >> 2] = length;
    const bytesPosition = recordPosition + ringLayout.recordPrefixBytes;
    ring.data.set(head, bytesPosition);
    if (tail.length > 0) ring.data.set(tail, bytesPosition + head.length);

    // Publish last: the plain stores above happen-before any consumer load
    // that sees this index.
    this.writeIndex = (writeIndex + needBytes) | 0;
    Atomics.store(ring.header, writeIndexSlot, this.writeIndex);
    return true;
  }

  private hasFreeBytes(needBytes: number): boolean {
    const ring = this.ring;
    if (ring.capacityBytes - ring.usedBytes(this.writeIndex, this.readIndexSeen) >= needBytes) {
      return true;
    }
    // The cache says no room: look at what the consumer has released since.
    // This load synchronizes with the consumer's store of the read index, so
    // its reads of the released bytes happen-before our overwrites.
    this.readIndexSeen = Atomics.load(ring.header, readIndexSlot);
    return ring.capacityBytes - ring.usedBytes(this.writeIndex, this.readIndexSeen) >= needBytes;
  }
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs: number) => WaitAsyncResult;
// Atomics.waitAsync is in Node 20 but in TypeScript's ES2024 lib, not ES2022.
const atomicsWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

export class RingConsumer {
  readonly capacityBytes: number;
  readonly recordBytesMax: number;
  private readonly ring: RingViews;
  /** Our read index, possibly ahead of the published one inside drain(). */
  private readIndex: number;
  private readIndexPublished: number;
  /** Last write index loaded; stale is safe (under-estimates available records). */
  private writeIndexSeen: number;
  private draining = false;
  private sleeps = 0;
  private readonly spinPolicy = new SpinPolicy();

  constructor(sab: SharedArrayBuffer) {
    this.ring = new RingViews(sab);
    this.capacityBytes = this.ring.capacityBytes;
    this.recordBytesMax = this.ring.recordBytesMax;
    this.readIndex = Atomics.load(this.ring.header, readIndexSlot);
    this.readIndexPublished = this.readIndex;
    this.writeIndexSeen = Atomics.load(this.ring.header, writeIndexSlot);
    this.ring.usedBytes(this.writeIndexSeen, this.readIndex);
    // We own the flag; a previous consumer may have died asleep.
    Atomics.store(this.ring.header, consumerSleepingSlot, 0);
  }

  /** Times this consumer went to sleep (reached Atomics.wait / waitAsync): a metric. */
  get sleepCount(): number {
    return this.sleeps;
  }

  /** The next record as a copy (safe to keep), or null when the ring is empty. Releases it at once. */
  read(): Uint8Array | null {
    this.assertNotDraining();
    const position = this.peek();
    if (position < 0) return null;
    const length = this.ring.lengths[position >> 2];
    const bytesPosition = position + ringLayout.recordPrefixBytes;
    // slice() copies into a new, non-shared ArrayBuffer before we release.
    const copy = this.ring.data.slice(bytesPosition, bytesPosition + length);
    this.readIndex = (this.readIndex + recordSpanBytes(length)) | 0;
    this.publish();
    return copy;
  }

  /**
   * Calls onRecord for up to `max` records, then releases them all with one
   * store of the read index. `bytes` is a VIEW into the ring, valid until
   * drain returns (copy it with bytes.slice() to keep it). onRecord must not
   * call read() or drain(). If onRecord throws, the records before it are
   * released, that record is not (it comes again), and the error propagates.
   * Returns the number of records handled.
   */
  drain(max: number, onRecord: (bytes: Uint8Array) => void): number {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`drain max must be a positive integer, got ${max}`);
    this.assertNotDraining();
    const ring = this.ring;
    let count = 0;
    this.draining = true;
    try {
      while (count < max) {
        const position = this.peek();
        if (position < 0) break;
        const length = ring.lengths[position >> 2];
        const bytesPosition = position + ringLayout.recordPrefixBytes;
        onRecord(ring.data.subarray(bytesPosition, bytesPosition + length));
        this.readIndex = (this.readIndex + recordSpanBytes(length)) | 0;
        count += 1;
      }
    } finally {
      this.draining = false;
      this.publish();
    }
    return count;
  }

  /**
   * Bytes written by the producer and not yet released (records, prefixes
   * and padding); inside drain(), the records of the batch count until it ends.
   */
  depthBytes(): number {
    this.writeIndexSeen = Atomics.load(this.ring.header, writeIndexSlot);
    return this.ring.usedBytes(this.writeIndexSeen, this.readIndexPublished);
  }

  /**
   * For worker threads: returns at once if records are waiting, else spins
   * up to engine.ringSpinMs checking when that pays (SpinPolicy), then
   * sleeps (Atomics.wait) until the producer's notify() or `timeoutMs`.
   * Returns whether records are waiting.
   */
  waitSync(timeoutMs: number): boolean {
    this.assertNotDraining();
    if (this.hasRecords()) return true;
    const spinning = this.spinPolicy.shouldSpin();
    const startMs = performance.now();
    if (spinning) {
      const spinEndMs = startMs + engine.ringSpinMs;
      for (let i = 1; ; i++) {
        if (this.hasRecords()) {
          this.spinPolicy.record(true);
          return true;
        }
        // The clock costs more than a check: read it every spinChecksPerClockRead checks.
        if (i % spinChecksPerClockRead === 0 && performance.now() >= spinEndMs) break;
      }
    }
    const writeIndexSeen = this.announceSleep();
    if (writeIndexSeen === null) {
      this.spinPolicy.record(!spinning || performance.now() - startMs <= engine.ringSpinMs);
      return true;
    }
    this.sleeps += 1;
    const result = Atomics.wait(this.ring.header, writeIndexSlot, writeIndexSeen, timeoutMs);
    Atomics.store(this.ring.header, consumerSleepingSlot, 0);
    // Would a spin have caught these records? Only a wake within the spin window says yes.
    if (result !== 'timed-out') this.spinPolicy.record(performance.now() - startMs <= engine.ringSpinMs);
    return this.hasRecords();
  }

  /**
   * For the main thread: like waitSync without spinning and without blocking
   * the event loop (Atomics.waitAsync). One wait at a time per consumer.
   */
  async waitAsync(timeoutMs: number): Promise<boolean> {
    if (atomicsWaitAsync === undefined) {
      throw new RingError(RingErrorCode.LAYOUT, 'Atomics.waitAsync is missing (needs Node >= 16)');
    }
    this.assertNotDraining();
    if (this.hasRecords()) return true;
    const writeIndexSeen = this.announceSleep();
    if (writeIndexSeen === null) return true;
    this.sleeps += 1;
    const result = atomicsWaitAsync(this.ring.header, writeIndexSlot, writeIndexSeen, timeoutMs);
    if (result.async) await result.value;
    Atomics.store(this.ring.header, consumerSleepingSlot, 0);
    return this.hasRecords();
  }

  /**
   * Sets sleeping = 1, then re-checks the write index (this order is what
   * makes the protocol safe, see the header comment). Returns the write index
   * to wait on, or null (flag cleared) if records arrived meanwhile.
   */
  private announceSleep(): number | null {
    const header = this.ring.header;
    Atomics.store(header, consumerSleepingSlot, 1);
    const writeIndex = Atomics.load(header, writeIndexSlot);
    if (writeIndex !== this.readIndex) {
      Atomics.store(header, consumerSleepingSlot, 0);
      return null;
    }
    return writeIndex;
  }

  private hasRecords(): boolean {
    return this.availableBytes() > 0;
  }

  /** Published bytes past our read index; reloads the write index only when the cache says none. */
  private availableBytes(): number {
    const cached = (this.writeIndexSeen - this.readIndex) | 0;
    if (cached !== 0) return cached;
    // This load synchronizes with the producer's store of the write index:
    // the bytes below it are complete when we read them.
    this.writeIndexSeen = Atomics.load(this.ring.header, writeIndexSlot);
    return this.ring.usedBytes(this.writeIndexSeen, this.readIndex);
  }

  /**
   * Position of the next record's length prefix, or -1 when empty. Steps over
   * a skip marker (locally: published with the record that follows it) and
   * asserts that the length and the record's extent are sane.
   */
  private peek(): number {
    const ring = this.ring;
    let availableBytes = this.availableBytes();
    if (availableBytes === 0) return -1;
    let position = this.readIndex & ring.mask;
    if ((position & (ringLayout.recordAlignBytes - 1)) !== 0) ringFail(`misaligned read index ${this.readIndex}`);
    let length = ring.lengths[position >> 2];
    if (length === ringLayout.skipMarker) {
      const padBytes = ring.capacityBytes - position;
      if (!(padBytes < availableBytes)) ringFail(`skip marker at ${position} not followed by a record`);
      this.readIndex = (this.readIndex + padBytes) | 0;
      availableBytes -= padBytes;
      position = 0;
      length = ring.lengths[0];
      if (!(length >= 1 && recordSpanBytes(length) > padBytes)) {
        ringFail(`skip marker of ${padBytes} bytes before a record that would have fit (length ${length})`);
      }
    }
    if (!(length >= 1 && length <= ring.recordBytesMax)) {
      ringFail(`corrupt record length ${length} at position ${position} (allowed 1..${ring.recordBytesMax})`);
    }
    const spanBytes = recordSpanBytes(length);
    if (!(spanBytes <= availableBytes && position + spanBytes <= ring.capacityBytes)) {
      ringFail(`record of ${length} bytes at position ${position} runs past the published data or the end`);
    }
    return position;
  }

  private publish(): void {
    if (this.readIndex === this.readIndexPublished) return;
    const header = this.ring.header;
    ringAssert(
      Atomics.load(header, readIndexSlot) === this.readIndexPublished,
      'read index moved under the consumer: two consumers on one ring?',
    );
    // Release last: our reads of the bytes happen-before the producer's
    // overwrites, which follow its load of this index.
    Atomics.store(header, readIndexSlot, this.readIndex);
    this.readIndexPublished = this.readIndex;
  }

  private assertNotDraining(): void {
    ringAssert(!this.draining, 'read(), drain() or a wait called from inside a drain() callback');
  }
}
