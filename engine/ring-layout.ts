/**
 * SharedArrayBuffer layout of one single-producer single-consumer ring.
 * Imported by both sides (producer thread and consumer thread) and by tests;
 * the ring code itself is in `ring-buffer.ts`.
 *
 * Header: each field that changes at run time has a 64-byte cache line to
 * itself, so the producer's stores to the write index do not invalidate the
 * line the consumer keeps storing its read index to (no false sharing).
 *
 *   byte 0          64          128         192         256             256 + capacityBytes
 *   +-----------+-----------+-----------+-----------+---------------------------+
 *   | write     | read      | consumer  | magic     | data area                 |
 *   | index     | index     | sleeping  | capacity  | capacityBytes, a power of |
 *   | int32     | int32     | int32 0/1 | int32 x2  | two, records back to back |
 *   +-----------+-----------+-----------+-----------+---------------------------+
 *     producer    consumer    consumer    createRing
 *     stores      stores      stores      (read-only afterwards)
 *
 * Indices are free-running int32 byte counters: they only grow (wrapping at
 * 2^32), the position in the data area is `index & (capacityBytes - 1)`, the
 * bytes in use are `(write - read) | 0`. Empty is `write === read`, full is
 * `write - read === capacityBytes`: no slot is wasted to tell them apart.
 * They are int32 (not uint32) because Atomics.wait only works on Int32Array.
 *
 * One record in the data area, 4-byte aligned, never split across the end:
 *
 *   +----------------+---------------------+-----------+
 *   | length: int32  | bytes (length)      | pad 0..3  |
 *   +----------------+---------------------+-----------+
 *
 *   length 1..recordBytesMax: a record.
 *   length -1 (skip marker): the record did not fit before the end of the data
 *   area; the rest of the area is padding and the record starts at byte 0.
 */

export const ringLayout = {
  cacheLineBytes: 64,
  writeIndexOffsetBytes: 0,
  readIndexOffsetBytes: 64,
  consumerSleepingOffsetBytes: 128,
  magicOffsetBytes: 192,
  capacityOffsetBytes: 196,
  /** Bytes before the data area; a multiple of the cache line. */
  headerBytes: 256,
  /** Identifies a ring of this layout version ('SGR1'). */
  magic: 0x53475231,
  /** Bytes of a record's length prefix. */
  recordPrefixBytes: 4,
  /** Every record starts on this boundary. */
  recordAlignBytes: 4,
  /** Length value that marks the rest of the data area as padding. */
  skipMarker: -1,
  /** Smallest data area (its largest record is then 60 bytes). */
  capacityBytesMin: 128,
  /** Largest data area: keeps `write - read` exact in int32 arithmetic. */
  capacityBytesMax: 1 << 30,
} as const;

/** Int32Array index of a header field given its byte offset. */
export function int32Slot(offsetBytes: number): number {
  return offsetBytes >> 2;
}

export const writeIndexSlot = int32Slot(ringLayout.writeIndexOffsetBytes);
export const readIndexSlot = int32Slot(ringLayout.readIndexOffsetBytes);
export const consumerSleepingSlot = int32Slot(ringLayout.consumerSleepingOffsetBytes);
export const magicSlot = int32Slot(ringLayout.magicOffsetBytes);
export const capacitySlot = int32Slot(ringLayout.capacityOffsetBytes);

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Bytes one record of `length` bytes occupies: prefix + bytes, rounded up to the alignment. */
export function recordSpanBytes(length: number): number {
  const align = ringLayout.recordAlignBytes;
  return (ringLayout.recordPrefixBytes + length + align - 1) & ~(align - 1);
}

/**
 * Largest record a ring of `capacityBytes` carries: the engine limit, or less
 * for a small ring. A record plus the worst-case padding before it (just under
 * one record span) must fit in an empty ring, otherwise a writer could wait
 * forever for room that never comes; hence at most half the data area.
 */
export function ringRecordBytesMax(capacityBytes: number, engineRecordBytesMax: number): number {
  const halfRecordBytesMax = capacityBytes / 2 - ringLayout.recordPrefixBytes;
  return Math.min(engineRecordBytesMax, halfRecordBytesMax);
}
