/**
 * The protobuf wire format by hand, for fuzzing: a writer that can also
 * write what protobufjs never would (overlong and over-10-byte varints,
 * lengths that lie, invalid UTF-8 under a string tag, wire types that do not
 * match the schema), and a tolerant reader that splits a message into its
 * field records so mutations can work field by field.
 *
 * Wire types: 0 varint, 1 fixed64, 2 length-delimited, 3 start group,
 * 4 end group, 5 fixed32 (6 and 7 do not exist).
 */

export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const;

const TWO_64 = 1n << 64n;
const scratch = new DataView(new ArrayBuffer(8));

/** A growable byte buffer (reused across frames by the generators). */
export class WireWriter {
  private buf = new Uint8Array(64);
  length = 0;

  reset(): this {
    this.length = 0;
    return this;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.length++] = b & 0xff;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /**
   * A varint of `value` (a non-negative integer below 2^53, or a bigint; a
   * negative bigint is written as its 64-bit two's complement). `padBytes`
   * continuation bytes are added after the significant ones: the value is
   * unchanged, the encoding overlong (past 10 bytes in all it is invalid).
   */
  varint(value: number | bigint, padBytes = 0): this {
    if (typeof value === 'number' && value >= 0 && value < 0x80 && padBytes === 0) return this.byte(value);
    this.ensure(11 + padBytes);
    const buf = this.buf;
    if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER) {
      // No BigInt on the common path: 7 bits at a time by division.
      let v = value;
      while (v >= 0x80) {
        buf[this.length++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      return this.pad(v, padBytes);
    }
    let v = typeof value === 'bigint' ? value : BigInt(value);
    if (v < 0n) v = ((v % TWO_64) + TWO_64) % TWO_64;
    while (v >= 0x80n) {
      buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    return this.pad(Number(v), padBytes);
  }

  /** The last significant 7 bits, then `padBytes` bytes that add nothing to the value. */
  private pad(last: number, padBytes: number): this {
    if (padBytes === 0) {
      this.buf[this.length++] = last;
      return this;
    }
    this.buf[this.length++] = last | 0x80;
    for (let i = 0; i < padBytes - 1; i++) this.buf[this.length++] = 0x80;
    this.buf[this.length++] = 0x00;
    return this;
  }

  tag(fieldNumber: number, wireType: number, padBytes = 0): this {
    return this.varint(fieldNumber * 8 + wireType, padBytes);
  }

  double(value: number): this {
    scratch.setFloat64(0, value, true);
    this.ensure(8);
    for (let i = 0; i < 8; i++) this.buf[this.length++] = scratch.getUint8(i);
    return this;
  }

  /** Eight bytes given as their bit pattern (NaN payloads, negative NaN). */
  fixed64Bits(hi: number, lo: number): this {
    this.ensure(8);
    scratch.setUint32(0, lo, true);
    scratch.setUint32(4, hi, true);
    for (let i = 0; i < 8; i++) this.buf[this.length++] = scratch.getUint8(i);
    return this;
  }

  fixed32(value: number): this {
    this.ensure(4);
    scratch.setUint32(0, value >>> 0, true);
    for (let i = 0; i < 4; i++) this.buf[this.length++] = scratch.getUint8(i);
    return this;
  }

  /** A length prefix (which may lie by `lieBy`) and the bytes. */
  lengthDelimited(bytes: Uint8Array, lieBy = 0, padBytes = 0): this {
    this.varint(Math.max(0, bytes.length + lieBy), padBytes);
    return this.raw(bytes);
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** One field record of a message: [start, end) covers tag and value. */
export interface FieldRecord {
  fieldNumber: number;
  wireType: number;
  start: number;
  /** Where the value starts (after the tag, and after the length prefix for LEN). */
  valueStart: number;
  end: number;
}

/** A message split into records; `rest` is where parsing stopped (bytes.length when it all parsed). */
export interface ParsedMessage {
  fields: FieldRecord[];
  rest: number;
}

/** Reads a varint at `pos` (up to 10 bytes); null when it runs off the end or is longer. */
export function readVarint(bytes: Uint8Array, pos: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= bytes.length) return null;
    const b = bytes[pos + i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  return null;
}

/** Splits a message into field records as far as it is well-formed (groups are one record each). */
export function parseMessage(bytes: Uint8Array, fieldsMax = 4096): ParsedMessage {
  const fields: FieldRecord[] = [];
  let pos = 0;
  while (pos < bytes.length && fields.length < fieldsMax) {
    const record = parseRecord(bytes, pos, 0);
    if (record === null) break;
    fields.push(record);
    pos = record.end;
  }
  return { fields, rest: pos };
}

function parseRecord(bytes: Uint8Array, start: number, depth: number): FieldRecord | null {
  const tag = readVarint(bytes, start);
  if (tag === null || tag.value > 0xffffffff) return null;
  const fieldNumber = Math.floor(tag.value / 8);
  const wireType = tag.value % 8;
  let pos = tag.next;
  let valueStart = pos;
  switch (wireType) {
    case WireType.VARINT: {
      const v = readVarint(bytes, pos);
      if (v === null) return null;
      pos = v.next;
      break;
    }
    case WireType.FIXED64:
      pos += 8;
      break;
    case WireType.FIXED32:
      pos += 4;
      break;
    case WireType.LEN: {
      const n = readVarint(bytes, pos);
      if (n === null) return null;
      valueStart = n.next;
      pos = n.next + n.value;
      break;
    }
    case WireType.START_GROUP: {
      if (depth > 32) return null;
      for (;;) {
        const inner = readVarint(bytes, pos);
        if (inner === null) return null;
        if (inner.value % 8 === WireType.END_GROUP) {
          pos = inner.next;
          break;
        }
        const record = parseRecord(bytes, pos, depth + 1);
        if (record === null) return null;
        pos = record.end;
      }
      break;
    }
    default:
      return null;
  }
  if (pos > bytes.length) return null;
  return { fieldNumber, wireType, start, valueStart, end: pos };
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
