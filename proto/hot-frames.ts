/**
 * The two frames the shard encodes for every accepted signal, the Delivery
 * to its receivers and the Ack to its master, written straight into one
 * buffer of their exact size. protobufjs builds a list of operations per
 * field before it writes (about 4 KB of short-lived objects per signal for
 * these two frames, some 40 % of what the shard allocated per signal:
 * docs/benchmarks.md); this writes the same bytes without them.
 *
 * The same bytes, not merely equivalent ones: fields in field-number order,
 * every field the codec's object sets written even when it is zero (as
 * protobufjs writes a field its fromObject set), 64-bit integers as
 * varints of their exact value. test/hot-frames.test.ts compares both
 * encoders byte for byte. A record outside what this writes exactly (an
 * integer beyond 2^53-1, a negative one, a 64-bit decimal that is not
 * plain digits, text that is not ASCII) gets null, and the codec falls
 * back to protobufjs.
 *
 * Field numbers and wire types: proto/sigplane.proto (Frame.delivery = 8,
 * Frame.ack = 4; Delivery, SignalBody, Ack). A change there that this file
 * does not follow fails the byte-for-byte test, whose reference encoder is
 * built from the schema.
 */
import type { SignalRecord } from './records';

/** Protobuf wire types (what a tag's low 3 bits say about the value that follows). */
export const wireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;
const wireVarint = wireType.varint;
const wireFixed64 = wireType.fixed64;
const wireLengthDelimited = wireType.lengthDelimited;

const tag = (field: number, type: number): number => (field << 3) | type;

const frameDelivery = tag(8, wireLengthDelimited);
const frameAck = tag(4, wireLengthDelimited);

const delivery = {
  subscriptionId: tag(1, wireLengthDelimited),
  sequenceNumber: tag(2, wireVarint),
  signal: tag(3, wireLengthDelimited),
  signingVersion: tag(4, wireVarint),
  acceptedAt: tag(5, wireVarint),
} as const;

const body = {
  subscriptionId: tag(1, wireLengthDelimited),
  sequenceNumber: tag(2, wireVarint),
  generatedAt: tag(3, wireVarint),
  symbol: tag(4, wireLengthDelimited),
  orderType: tag(5, wireVarint),
  volume: tag(6, wireFixed64),
  price: tag(7, wireFixed64),
  action: tag(8, wireVarint),
  positionId: tag(9, wireVarint),
  stopLoss: tag(10, wireFixed64),
  takeProfit: tag(11, wireFixed64),
  magic: tag(12, wireVarint),
} as const;

/** The tags a reader of Delivery frames looks for (bench/load/delivery-sequence.ts). */
export const deliveryTags = { frame: frameDelivery, sequenceNumber: delivery.sequenceNumber } as const;

const ack = {
  sequenceNumber: tag(1, wireVarint),
  status: tag(2, wireVarint),
} as const;

const uint64Max = (1n << 64n) - 1n;
/** Decimal strings of at most this many digits are below 2^53 and are read as numbers. */
const safeDecimalDigitsMax = 15;
const digitsOnly = /^[0-9]{1,20}$/;

/** A non-negative integer to write as a varint: a number up to 2^53-1, or a bigint up to 2^64-1. */
type Unsigned = number | bigint;

function isUnsignedSafe(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** A uint64 field's decimal string ('' is 0) as a value to write, or null when it is not plain digits below 2^64. */
function decimalUint64(text: string): Unsigned | null {
  if (text === '') return 0;
  if (!digitsOnly.test(text)) return null;
  if (text.length <= safeDecimalDigitsMax) return Number(text);
  const value = BigInt(text);
  return value <= uint64Max ? value : null;
}

function varintSize(value: Unsigned): number {
  if (typeof value === 'bigint') {
    let size = 1;
    for (let v = value >> 7n; v > 0n; v >>= 7n) size++;
    return size;
  }
  let size = 1;
  for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** Every tag here fits one byte (field numbers up to 15). */
const tagBytes = 1;
const doubleFieldBytes = tagBytes + 8;
const uintFieldBytes = (value: Unsigned): number => tagBytes + varintSize(value);
/** A string or message field: tag, length varint, payload. */
const delimitedFieldBytes = (payloadBytes: number): number => tagBytes + varintSize(payloadBytes) + payloadBytes;

/** Writes fields into a buffer sized in advance; `at` is where the next byte goes. */
class FrameWriter {
  readonly bytes: Buffer;
  at = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }

  uintField(tag: number, value: Unsigned): void {
    this.varint(tag);
    this.varint(value);
  }

  doubleField(tag: number, value: number): void {
    this.varint(tag);
    this.at = this.bytes.writeDoubleLE(value, this.at);
  }

  stringField(tag: number, value: string, byteLength: number): void {
    this.messageHeader(tag, byteLength);
    this.at += this.bytes.write(value, this.at, byteLength, 'utf8');
  }

  /** A message field's tag and length; its fields follow. */
  messageHeader(tag: number, byteLength: number): void {
    this.varint(tag);
    this.varint(byteLength);
  }

  private varint(value: Unsigned): void {
    if (typeof value === 'bigint') {
      let v = value;
      while (v >= 0x80n) {
        this.bytes[this.at++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.bytes[this.at++] = Number(v);
      return;
    }
    let v = value;
    while (v >= 0x80) {
      this.bytes[this.at++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.at++] = v;
  }
}

const isUintUpTo = (value: number, max: number): boolean => Number.isInteger(value) && value >= 0 && value <= max;
const int32Max = 0x7fffffff;
const uint32Max = 0xffffffff;

/** `Frame { delivery }` for `record`, as codec.ts encodeDelivery writes it; null when the record needs protobufjs. */
export function encodeDeliveryFrame(record: SignalRecord): Uint8Array | null {
  const { sequence, generatedAtMs, receivedAtMs, orderType, action, signingVersion } = record;
  if (!isUnsignedSafe(sequence) || !isUnsignedSafe(generatedAtMs) || !isUnsignedSafe(receivedAtMs)) return null;
  if (!isUintUpTo(orderType, int32Max) || !isUintUpTo(action, int32Max) || !isUintUpTo(signingVersion, uint32Max)) return null;
  const positionId = decimalUint64(record.positionId);
  const magic = decimalUint64(record.magic);
  if (positionId === null || magic === null) return null;

  const subscriptionIdBytes = Buffer.byteLength(record.subscriptionId, 'utf8');
  const symbolBytes = Buffer.byteLength(record.symbol, 'utf8');
  // Non-ASCII text goes to protobufjs, whose own UTF-8 writer (short strings) may differ from Buffer's on lone surrogates.
  if (subscriptionIdBytes !== record.subscriptionId.length || symbolBytes !== record.symbol.length) return null;
  const bodyBytes =
    delimitedFieldBytes(subscriptionIdBytes) +
    uintFieldBytes(sequence) +
    uintFieldBytes(generatedAtMs) +
    delimitedFieldBytes(symbolBytes) +
    uintFieldBytes(orderType) +
    2 * doubleFieldBytes +
    uintFieldBytes(action) +
    uintFieldBytes(positionId) +
    2 * doubleFieldBytes +
    uintFieldBytes(magic);
  const deliveryBytes =
    delimitedFieldBytes(subscriptionIdBytes) +
    uintFieldBytes(sequence) +
    delimitedFieldBytes(bodyBytes) +
    uintFieldBytes(signingVersion) +
    uintFieldBytes(receivedAtMs);
  const w = new FrameWriter(delimitedFieldBytes(deliveryBytes));

  w.messageHeader(frameDelivery, deliveryBytes);
  w.stringField(delivery.subscriptionId, record.subscriptionId, subscriptionIdBytes);
  w.uintField(delivery.sequenceNumber, sequence);
  w.messageHeader(delivery.signal, bodyBytes);
  w.stringField(body.subscriptionId, record.subscriptionId, subscriptionIdBytes);
  w.uintField(body.sequenceNumber, sequence);
  w.uintField(body.generatedAt, generatedAtMs);
  w.stringField(body.symbol, record.symbol, symbolBytes);
  w.uintField(body.orderType, orderType);
  w.doubleField(body.volume, record.volume);
  w.doubleField(body.price, record.price);
  w.uintField(body.action, action);
  w.uintField(body.positionId, positionId);
  w.doubleField(body.stopLoss, record.stopLoss);
  w.doubleField(body.takeProfit, record.takeProfit);
  w.uintField(body.magic, magic);
  w.uintField(delivery.signingVersion, signingVersion);
  w.uintField(delivery.acceptedAt, receivedAtMs);
  if (w.at !== w.bytes.length) throw new Error(`encodeDeliveryFrame wrote ${w.at} of ${w.bytes.length} bytes`);
  return w.bytes;
}

/** `Frame { ack }`, as codec.ts encodeAck writes it; null when the sequence needs protobufjs. */
export function encodeAckFrame(sequence: number, status: number): Uint8Array | null {
  if (!isUnsignedSafe(sequence) || !isUintUpTo(status, int32Max)) return null;
  const ackBytes = uintFieldBytes(sequence) + uintFieldBytes(status);
  const w = new FrameWriter(delimitedFieldBytes(ackBytes));
  w.messageHeader(frameAck, ackBytes);
  w.uintField(ack.sequenceNumber, sequence);
  w.uintField(ack.status, status);
  return w.bytes;
}
