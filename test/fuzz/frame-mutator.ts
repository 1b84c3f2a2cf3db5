/**
 * Protobuf-aware mutations of encoded frames. Each mutation knows where the
 * field records are (protobuf-wire.ts parseMessage) and, through the schema,
 * which length-delimited fields hold a nested message, so it can mutate a
 * SignalV1 inside a Frame, or a SignalBody inside a Signed, and re-frame it
 * with a correct length, or deliberately with a lying one:
 *
 *   flip bits · truncate · splice random bytes · duplicate, delete, swap fields
 *   · a field re-tagged with another wire type (0-7, 6 and 7 do not exist)
 *   · unknown field numbers (0, the next Frame members, 2^29-1) · length
 *   prefixes that lie (short, long, 2^32-1) · a Frame oneof with two members
 *   set · varints of 10 and more bytes (overlong padding, values past 64
 *   bits) · deeply nested groups · the whole message repeated (merge).
 */
import type protobuf from 'protobufjs';
import { FrameType, SignalBodyType, SnapshotBodyType } from '@sigplane/protocol';
import type { FuzzRandom } from './fuzz-random';
import type { FrameGenerator } from './frame-generator';
import { concat, parseMessage, readVarint, WireType, WireWriter, type FieldRecord } from './protobuf-wire';

export const mutationNames = [
  'descend',
  'flipBits',
  'truncate',
  'splice',
  'duplicateField',
  'deleteField',
  'swapFields',
  'wrongWireType',
  'unknownField',
  'lyingLength',
  'oneofTwoMembers',
  'longVarint',
  'deepGroups',
  'repeatMessage',
] as const;
export type MutationName = (typeof mutationNames)[number];

const weights: Record<MutationName, number> = {
  descend: 18,
  flipBits: 12,
  truncate: 6,
  splice: 4,
  duplicateField: 8,
  deleteField: 5,
  swapFields: 4,
  wrongWireType: 8,
  unknownField: 8,
  lyingLength: 8,
  oneofTwoMembers: 6,
  longVarint: 8,
  deepGroups: 1,
  repeatMessage: 2,
};
const weightList = mutationNames.map((n) => weights[n]);

/** The message type a length-delimited field holds, if any (Signed.body: the body type of its Frame member). */
function nestedType(type: protobuf.Type, fieldNumber: number, frameKind: number): protobuf.Type | null {
  const field = type.fieldsById[fieldNumber];
  if (field === undefined) return null;
  if (type.name === 'Signed' && field.name === 'body') return frameKind === 3 ? SnapshotBodyType : SignalBodyType;
  const resolved = field.resolvedType;
  return resolved !== null && 'fieldsArray' in resolved ? (resolved as protobuf.Type) : null;
}

export class FrameMutator {
  /** How often each mutation ran (for the report). */
  readonly counts: Record<MutationName, number> = Object.fromEntries(mutationNames.map((n) => [n, 0])) as Record<MutationName, number>;

  constructor(
    private readonly random: FuzzRandom,
    private readonly generator: FrameGenerator,
    /** Mutations never grow a frame past this (deep groups stop at it). */
    private readonly bytesMax: number,
  ) {}

  /** `rounds` mutations of a Frame's bytes. */
  mutateFrame(frame: Uint8Array, rounds = 1): Uint8Array {
    let bytes = frame;
    for (let i = 0; i < rounds; i++) bytes = this.mutate(bytes, FrameType, 0, 0);
    return bytes.length > this.bytesMax ? bytes.subarray(0, this.bytesMax) : bytes;
  }

  private mutate(bytes: Uint8Array, type: protobuf.Type, depth: number, frameKind: number): Uint8Array {
    const parsed = parseMessage(bytes);
    const fields = parsed.fields;
    let name = mutationNames[this.random.weighted(weightList)]!;
    if (fields.length === 0 && name !== 'splice' && name !== 'unknownField' && name !== 'deepGroups') name = 'flipBits';
    if (name === 'oneofTwoMembers' && type !== FrameType) name = 'duplicateField';
    if (name === 'descend' && depth > 3) name = 'flipBits';
    this.counts[name]++;
    const r = this.random;
    switch (name) {
      case 'descend': {
        const candidates = fields.filter((f) => f.wireType === WireType.LEN && nestedType(type, f.fieldNumber, frameKind) !== null);
        if (candidates.length === 0) return this.flipBits(bytes);
        const f = r.pick(candidates);
        const kind = type === FrameType ? f.fieldNumber : frameKind;
        const inner = this.mutate(bytes.subarray(f.valueStart, f.end), nestedType(type, f.fieldNumber, frameKind)!, depth + 1, kind);
        const tagEnd = readVarint(bytes, f.start)!.next;
        const w = new WireWriter().raw(bytes.subarray(0, tagEnd)).lengthDelimited(inner).raw(bytes.subarray(f.end));
        return w.finish();
      }
      case 'flipBits':
        return this.flipBits(bytes);
      case 'truncate':
        return bytes.slice(0, r.int(0, Math.max(0, bytes.length - 1)));
      case 'splice': {
        const at = r.int(0, bytes.length);
        const insert = r.bytes(r.int(1, 16));
        const cut = r.chance(0.5) ? Math.min(bytes.length - at, insert.length) : 0;
        return concat([bytes.subarray(0, at), insert, bytes.subarray(at + cut)]);
      }
      case 'duplicateField': {
        const f = r.pick(fields);
        const at = this.boundary(fields, parsed.rest);
        return concat([bytes.subarray(0, at), bytes.subarray(f.start, f.end), bytes.subarray(at)]);
      }
      case 'deleteField': {
        const f = r.pick(fields);
        return concat([bytes.subarray(0, f.start), bytes.subarray(f.end)]);
      }
      case 'swapFields': {
        if (fields.length < 2) return this.flipBits(bytes);
        const i = r.int(0, fields.length - 2);
        const a = fields[i]!;
        const b = fields[i + 1]!;
        return concat([bytes.subarray(0, a.start), bytes.subarray(b.start, b.end), bytes.subarray(a.start, a.end), bytes.subarray(b.end)]);
      }
      case 'wrongWireType':
        return this.wrongWireType(bytes, r.pick(fields));
      case 'unknownField': {
        const at = this.boundary(fields, parsed.rest);
        const number = r.pick([0, 14, 15, 16, 19, 100, 1000, 2 ** 29 - 1, r.int(1, 2 ** 29 - 1), ...type.fieldsArray.map((x) => x.id + 100)]);
        const w = new WireWriter();
        this.anyValue(w, number, r.pick([0, 1, 2, 3, 5, 6, 7]));
        return concat([bytes.subarray(0, at), w.finish(), bytes.subarray(at)]);
      }
      case 'lyingLength': {
        const candidates = fields.filter((f) => f.wireType === WireType.LEN);
        if (candidates.length === 0) return this.flipBits(bytes);
        const f = r.pick(candidates);
        const length = f.end - f.valueStart;
        const lie = r.pick([length + 1, length + r.int(2, 64), Math.max(0, length - 1), 0, r.int(0, length), 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 35, bytes.length]);
        const tagEnd = readVarint(bytes, f.start)!.next;
        return new WireWriter().raw(bytes.subarray(0, tagEnd)).varint(lie).raw(bytes.subarray(f.valueStart)).finish();
      }
      case 'oneofTwoMembers': {
        const existing = new Set(fields.map((f) => f.fieldNumber));
        const others = [...Array(13).keys()].map((i) => i + 1).filter((k) => !existing.has(k));
        const second = this.generator.frame(r.pick(others.length > 0 ? others : [12]));
        return r.chance(0.5) ? concat([bytes, second]) : concat([second, bytes]);
      }
      case 'longVarint':
        return this.longVarint(bytes, r.pick(fields));
      case 'deepGroups': {
        const depthMax = Math.max(1, Math.min(r.chance(0.9) ? r.pick([10, 100, 1000]) : r.pick([20_000, 120_000]), (this.bytesMax - bytes.length) >> 1));
        const number = r.pick([1, 12, 15, 100]);
        const w = new WireWriter().raw(bytes);
        for (let i = 0; i < depthMax; i++) w.tag(number, WireType.START_GROUP);
        if (r.chance(0.5)) for (let i = 0; i < depthMax; i++) w.tag(number, WireType.END_GROUP);
        return w.finish();
      }
      case 'repeatMessage':
        return concat([bytes, bytes]);
    }
  }

  private flipBits(bytes: Uint8Array): Uint8Array {
    const out = Uint8Array.from(bytes);
    if (out.length === 0) return this.random.bytes(this.random.int(1, 4));
    const flips = this.random.int(1, 4);
    for (let i = 0; i < flips; i++) out[this.random.int(0, out.length - 1)]! ^= 1 << this.random.int(0, 7);
    return out;
  }

  /** A field boundary to insert at (before a field, or at the end of what parsed). */
  private boundary(fields: readonly FieldRecord[], rest: number): number {
    const i = this.random.int(0, fields.length);
    return i === fields.length ? rest : fields[i]!.start;
  }

  /** A well-formed record of `wireType` (or garbage after an invalid one) for field `number`. */
  private anyValue(w: WireWriter, number: number, wireType: number): void {
    const r = this.random;
    w.tag(number, wireType);
    switch (wireType) {
      case WireType.VARINT:
        w.varint(this.generator.integer());
        return;
      case WireType.FIXED64:
        this.generator.double(w);
        return;
      case WireType.LEN:
        w.lengthDelimited(r.chance(0.5) ? r.bytes(r.length(64)) : this.generator.message(r.pick(FrameType.fieldsArray).resolvedType as protobuf.Type, 2));
        return;
      case WireType.START_GROUP:
        if (r.chance(0.5)) w.tag(1, WireType.VARINT).varint(r.int(0, 1000));
        w.tag(r.chance(0.8) ? number : number + 1, WireType.END_GROUP); // sometimes a mismatched end
        return;
      case WireType.FIXED32:
        w.fixed32(r.u32());
        return;
      default:
        w.raw(r.bytes(r.int(0, 8)));
    }
  }

  private wrongWireType(bytes: Uint8Array, f: FieldRecord): Uint8Array {
    const r = this.random;
    const choices = [0, 1, 2, 3, 4, 5, 6, 7].filter((t) => t !== f.wireType);
    const wireType = r.pick(choices);
    const w = new WireWriter().raw(bytes.subarray(0, f.start));
    if (r.chance(0.5)) {
      // Same value bytes under the new wire type: the reader drifts.
      w.tag(f.fieldNumber, wireType).raw(bytes.subarray(readVarint(bytes, f.start)!.next, f.end));
    } else {
      this.anyValue(w, f.fieldNumber, wireType);
    }
    return w.raw(bytes.subarray(f.end)).finish();
  }

  /** Re-encode a tag, a length prefix or a varint value with 10 or more bytes, or past 64 bits. */
  private longVarint(bytes: Uint8Array, f: FieldRecord): Uint8Array {
    const r = this.random;
    const tag = readVarint(bytes, f.start)!;
    const pad = r.pick([1, 4, 9, 10, 11, 15]);
    const w = new WireWriter().raw(bytes.subarray(0, f.start));
    const where = r.int(0, 2);
    if (where === 0 || (f.wireType !== WireType.VARINT && f.wireType !== WireType.LEN)) {
      w.varint(tag.value, pad).raw(bytes.subarray(tag.next, f.end));
    } else if (f.wireType === WireType.LEN) {
      w.raw(bytes.subarray(f.start, tag.next)).varint(f.end - f.valueStart, pad).raw(bytes.subarray(f.valueStart, f.end));
    } else if (r.chance(0.5)) {
      // The value with padding (overlong, maybe past 10 bytes).
      const value = readVarint(bytes, tag.next);
      w.raw(bytes.subarray(f.start, tag.next)).varint(value === null ? 0 : value.value, pad);
    } else {
      // Ten bytes whose last one carries bits past 2^64 (or an 11th byte).
      w.raw(bytes.subarray(f.start, tag.next));
      for (let i = 0; i < 9; i++) w.byte(0xff);
      w.byte(r.pick([0x01, 0x02, 0x7f, 0xff]));
      if (r.chance(0.3)) w.byte(0x01);
    }
    return w.raw(bytes.subarray(f.end)).finish();
  }
}
