/**
 * Random messages of the sigplane schema, written by hand on the wire so
 * every field can carry what an encoder would refuse: extreme integers
 * (0, 2^53±1, 2^63, 2^64-1, negatives as 10-byte varints), every special
 * double (NaN with either sign and a payload, ±Infinity, -0, subnormals),
 * empty and huge strings, and invalid UTF-8 under a string tag.
 *
 * The schema is read from proto/sigplane.proto through protobufjs'
 * reflection (proto/codec.ts), so a new field is fuzzed without a change here.
 */
import type protobuf from 'protobufjs';
import { FrameType, SignalBodyType, SnapshotBodyType } from '@sigplane/protocol';
import type { FuzzRandom } from './fuzz-random';
import { WireType, WireWriter } from './protobuf-wire';

FrameType.root.resolveAll();

/** What a string or id field may be filled with (the connection's own ids reach deeper checks). */
export interface GeneratorVocabulary {
  subscriptionIds: readonly string[];
  keyIds: readonly string[];
}

export interface GenerateOptions {
  /** Rough upper bound of one frame's bytes (huge strings stay under it). */
  budgetBytes: number;
  vocabulary: GeneratorVocabulary;
}

const TWO_53 = 2 ** 53;

/** Varint-typed values worth trying, as bigints (negatives become 10-byte varints). */
const interestingIntegers: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 5n, 8n, 9n, 16n, 127n, 128n, 255n, 256n, 16383n, 16384n,
  2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n,
  BigInt(TWO_53) - 1n, BigInt(TWO_53), BigInt(TWO_53) + 1n,
  2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n,
  -1n, -2n, -(2n ** 31n), -(2n ** 53n), -(2n ** 63n),
  1_600_000_000_000n, 4_102_444_800_000n,
];

/** [hi, lo] bit patterns of doubles worth trying. */
const interestingDoubleBits: readonly [number, number][] = [
  [0x7ff80000, 0], // NaN
  [0xfff80000, 0], // negative NaN
  [0x7ff00000, 1], // signalling NaN with a payload
  [0xffffffff, 0xffffffff], // NaN, all ones
  [0x7ff00000, 0], // +Infinity
  [0xfff00000, 0], // -Infinity
  [0x80000000, 0], // -0
  [0, 0], // 0
  [0, 1], // smallest subnormal
  [0x80000000, 1], // negative smallest subnormal
  [0x000fffff, 0xffffffff], // largest subnormal
  [0x7fefffff, 0xffffffff], // MAX_VALUE
  [0xffefffff, 0xffffffff], // -MAX_VALUE
];

const interestingDoubles: readonly number[] = [
  0.1, 0.01, 1, 1.08765, 0.000005, 0.000015, 0.0000049999, 99.999995, 100, 100.00000000000001, 100.000005,
  1e21, 1e-7, -1, -0.1, 2 ** 53, 123456.789, 1e300, 5e-324,
];

const symbols = ['EURUSD', 'GBPUSD', 'XAUUSD', 'US30', 'A', 'AAAAAAAAAAAAAAAAAAAA', 'EURUSD.m', 'EUR|USD', 'ЕURUSD', 'eurusd', '1'];

/** Byte sequences that are not UTF-8: lone continuation, overlong NUL, surrogate, truncated, 0xff. */
const invalidUtf8: readonly number[][] = [
  [0x80], [0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98],
];

/** Schema-driven random message bytes. One instance per stream (it reuses buffers). */
export class FrameGenerator {
  private readonly textEncoder = new TextEncoder();

  constructor(private readonly random: FuzzRandom, private readonly options: GenerateOptions) {}

  /** A Frame with one member (kind: a Frame field number) filled with random values. */
  frame(kind: number): Uint8Array {
    const field = FrameType.fieldsById[kind];
    if (field === undefined) throw new Error(`no Frame member ${kind}`);
    const body = this.message(field.resolvedType as protobuf.Type, 0, kind);
    return new WireWriter().tag(kind, WireType.LEN).lengthDelimited(body).finish();
  }

  /** A random instance of `type` (fields in random order, some missing, some repeated). */
  message(type: protobuf.Type, depth: number, frameKind = 0): Uint8Array {
    const w = new WireWriter();
    const fields = type.fieldsArray;
    const order = this.random.chance(0.8) ? fields : shuffled(fields, this.random);
    for (const field of order) {
      if (!this.random.chance(0.75)) continue;
      const copies = field.repeated ? this.repeatCount() : this.random.chance(0.03) ? 2 : 1;
      for (let i = 0; i < copies; i++) this.field(w, type, field, depth, frameKind);
    }
    return w.finish();
  }

  private repeatCount(): number {
    const r = this.random.next();
    if (r < 0.5) return this.random.int(0, 3);
    if (r < 0.99) return this.random.int(0, Math.min(40, this.options.budgetBytes >> 6));
    // Past wire.snapshotPositionsMax (2000) when the budget allows it.
    return this.random.int(0, Math.min(2100, this.options.budgetBytes >> 4));
  }

  private field(w: WireWriter, parent: protobuf.Type, field: protobuf.Field, depth: number, frameKind: number): void {
    const pad = this.random.chance(0.02) ? this.random.int(1, 9) : 0;
    const resolved = field.resolvedType;
    if (resolved !== null && 'fieldsArray' in resolved) {
      if (depth > 3) return;
      w.tag(field.id, WireType.LEN, pad).lengthDelimited(this.message(resolved as protobuf.Type, depth + 1, frameKind));
      return;
    }
    switch (field.type) {
      case 'string':
        w.tag(field.id, WireType.LEN, pad).lengthDelimited(this.stringBytes(field.name));
        return;
      case 'bytes':
        w.tag(field.id, WireType.LEN, pad).lengthDelimited(this.bytesValue(parent, field, depth, frameKind));
        return;
      case 'double':
        w.tag(field.id, WireType.FIXED64, pad);
        this.double(w);
        return;
      default:
        // int32, uint32, int64, uint64, bool, enums: all varints on the wire.
        w.tag(field.id, WireType.VARINT, pad).varint(this.integer(field), this.random.chance(0.03) ? this.random.int(1, 4) : 0);
    }
  }

  /** A varint value for a field: small valid values most often, the extremes often enough. */
  integer(field?: protobuf.Field): bigint {
    const r = this.random.next();
    if (r < 0.35) return BigInt(this.random.int(0, 20));
    if (r < 0.75) return this.random.pick(interestingIntegers);
    if (r < 0.85 && field !== undefined && /generated|sent|accepted/i.test(field.name)) {
      return BigInt(this.random.pick([0, 1_600_000_000_000, 4_102_444_800_000, 1_700_000_000_000 + this.random.int(0, 2 ** 30)]));
    }
    return (BigInt(this.random.u32()) << 32n) | BigInt(this.random.u32());
  }

  double(w: WireWriter): void {
    const r = this.random.next();
    if (r < 0.35) {
      const [hi, lo] = this.random.pick(interestingDoubleBits);
      w.fixed64Bits(hi, lo);
    } else if (r < 0.75) {
      w.double(this.random.pick(interestingDoubles));
    } else if (r < 0.9) {
      w.double(this.random.next() * 200 - 50);
    } else {
      w.fixed64Bits(this.random.u32(), this.random.u32());
    }
  }

  /** String field bytes: ids from the vocabulary, symbols, empty, huge, invalid UTF-8. */
  stringBytes(fieldName: string): Uint8Array {
    const r = this.random.next();
    const vocabulary = this.options.vocabulary;
    if (r < 0.12) return new Uint8Array(0);
    if (r < 0.35 && /subscription/i.test(fieldName) && vocabulary.subscriptionIds.length > 0) {
      const id = this.random.pick(vocabulary.subscriptionIds);
      return this.textEncoder.encode(this.random.chance(0.2) ? id.toUpperCase() : id);
    }
    if (r < 0.35 && /key/i.test(fieldName) && vocabulary.keyIds.length > 0) {
      return this.textEncoder.encode(this.random.pick(vocabulary.keyIds));
    }
    if (r < 0.5) return this.textEncoder.encode(this.random.pick(symbols));
    if (r < 0.62) return this.invalidUtf8Bytes(this.random.length(64));
    if (r < 0.98) return this.asciiBytes(this.random.length(80));
    // Huge: up to most of the budget, sometimes invalid UTF-8 (which decodes to 3-byte U+FFFD each).
    const n = this.random.int(0, Math.max(0, this.options.budgetBytes - 64));
    return this.random.chance(0.5) ? this.asciiBytes(n) : this.invalidUtf8Bytes(n);
  }

  asciiBytes(n: number): Uint8Array {
    const out = this.random.bytes(n);
    for (let i = 0; i < n; i++) out[i] = 0x20 + (out[i]! % 95);
    return out;
  }

  /** `n` bytes of mostly ASCII with invalid sequences mixed in (every string ≥ 1 holds at least one). */
  invalidUtf8Bytes(n: number): Uint8Array {
    const out = this.asciiBytes(n);
    if (n === 0) return out;
    const runs = 1 + Math.floor(n / 16);
    for (let k = 0; k < runs; k++) {
      const seq = this.random.pick(invalidUtf8);
      const at = this.random.int(0, Math.max(0, n - seq.length));
      for (let i = 0; i < seq.length && at + i < n; i++) out[at + i] = seq[i]!;
    }
    if (n > 1024 && this.random.chance(0.5)) out.fill(0xff);
    return out;
  }

  /** bytes fields: Signed.body holds an encoded body (random), mac 32 bytes (random) or other sizes. */
  private bytesValue(parent: protobuf.Type, field: protobuf.Field, depth: number, frameKind: number): Uint8Array {
    if (parent.name === 'Signed' && field.name === 'body' && this.random.chance(0.7)) {
      const bodyType = frameKind === 3 ? SnapshotBodyType : frameKind === 2 ? SignalBodyType : this.random.pick([SignalBodyType, SnapshotBodyType]);
      return this.message(bodyType, depth + 1, frameKind);
    }
    if (parent.name === 'Signed' && field.name === 'mac' && this.random.chance(0.7)) return this.random.bytes(32);
    return this.random.bytes(this.random.length(96));
  }
}

function shuffled<T>(items: readonly T[], random: FuzzRandom): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
