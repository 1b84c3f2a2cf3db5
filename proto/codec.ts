/**
 * Encoding and decoding of the wire frames in proto/sigplane.proto.
 *
 * protobufjs builds its encoders and decoders from the schema at start-up
 * (reflection plus generated code) out of sigplane-schema.ts, which is
 * generated from sigplane.proto: the .proto is the only source of truth.
 * 64-bit integers arrive as Long objects: `exactDecimal` turns one into its
 * exact decimal string (for the v1 MAC) and `safeInteger` into a JS number,
 * or null beyond 2^53-1.
 */
import protobuf from 'protobufjs';
import type { DecodedSignalBodyFields, Position, RejectCode, SignalBodyFields, SignalRecord, SubscriptionState } from './records';
import { deliveryTags as hotDeliveryTags, encodeAckFrame, encodeDeliveryFrame, wireType as hotWireType } from './hot-frames';
import { sigplaneSchema } from './sigplane-schema';
import type { DecodedFrame, Int64, PositionFrame, SignalBodyFrame, SnapshotBodyFrame } from './wire-types';

// The schema comes as a module generated from sigplane.proto (proto/scripts/generate-schema.js):
// importing the codec reads no file, wherever it is installed.
const root = protobuf.Root.fromJSON(sigplaneSchema).resolveAll();

export const FrameType = root.lookupType('sigplane.Frame');
export const SignalBodyType = root.lookupType('sigplane.SignalBody');
export const SnapshotBodyType = root.lookupType('sigplane.SnapshotBody');
const RejectCodeEnum = root.lookupEnum('sigplane.RejectCode');
const StateEnum = root.lookupEnum('sigplane.SubscriptionState');
const AckStatusEnum = root.lookupEnum('sigplane.AckStatus');

/** The exact decimal form of a 64-bit field. */
export function exactDecimal(value: Int64 | null | undefined): string {
  if (value === null || value === undefined) return '0';
  if (typeof value === 'number') return String(value);
  return value.toString();
}

/** The field as a JS number when it is an integer in 0..2^53-1 (or -2^53+1..), else null. */
export function safeInteger(value: Int64 | null | undefined): number | null {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  const n = value.high * 4294967296 + (value.low >>> 0);
  const exact = value.unsigned ? (value.high >>> 0) * 4294967296 + (value.low >>> 0) : n;
  return Number.isSafeInteger(exact) ? exact : null;
}

/**
 * The same bytes as a Buffer (a view, nothing copied). protobufjs decodes a
 * Buffer with its BufferReader, whose strings come from Buffer's native
 * utf8Slice; a plain Uint8Array goes through its JavaScript UTF-8 decoder,
 * which made decoding a 146 B signal frame 2.4 times slower (0.6 against
 * 1.5 us on the 2-core Intel bench machine, 2026-11-29). `bytes` fields
 * decoded from it are views into it, as they are from a Uint8Array.
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decode one frame; null when the bytes are not a Frame or carry no message. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame | null {
  let message: protobuf.Message & { kind?: string };
  try {
    message = FrameType.decode(asBuffer(bytes)) as protobuf.Message & { kind?: string };
  } catch {
    return null;
  }
  const kind = message.kind;
  if (kind === undefined) return null;
  return message as unknown as DecodedFrame;
}

export function encodeFrame(frame: Record<string, unknown>): Uint8Array {
  return FrameType.encode(FrameType.fromObject(frame)).finish();
}

export function decodeSignalBody(bytes: Uint8Array): SignalBodyFrame | null {
  try {
    return SignalBodyType.decode(asBuffer(bytes)) as unknown as SignalBodyFrame;
  } catch {
    return null;
  }
}

export function decodeSnapshotBody(bytes: Uint8Array): SnapshotBodyFrame | null {
  try {
    return SnapshotBodyType.decode(asBuffer(bytes)) as unknown as SnapshotBodyFrame;
  } catch {
    return null;
  }
}

export function encodeSignalBody(body: Record<string, unknown>): Uint8Array {
  return SignalBodyType.encode(SignalBodyType.fromObject(body)).finish();
}

export function encodeSnapshotBody(body: Record<string, unknown>): Uint8Array {
  return SnapshotBodyType.encode(SnapshotBodyType.fromObject(body)).finish();
}

// ---- enum names <-> numbers ----

function rejectCodeNumber(code: RejectCode): number {
  const n = RejectCodeEnum.values[code];
  if (n === undefined) throw new Error(`unknown reject code ${code}`);
  return n;
}
export function rejectCodeName(n: number): string {
  return RejectCodeEnum.valuesById[n] ?? 'REJECT_UNSPECIFIED';
}
function stateNumber(state: SubscriptionState): number {
  const n = StateEnum.values[state];
  if (n === undefined) throw new Error(`unknown state ${state}`);
  return n;
}
export function stateName(n: number): string {
  return StateEnum.valuesById[n] ?? 'STATE_UNSPECIFIED';
}
const ackStatus = {
  ACCEPTED: AckStatusEnum.values.ACCEPTED as number,
  DUPLICATE: AckStatusEnum.values.DUPLICATE as number,
} as const;

// ---- frames the server sends ----

export function encodeAck(sequence: number, status: 'ACCEPTED' | 'DUPLICATE'): Uint8Array {
  return encodeAckFrame(sequence, ackStatus[status]) ?? encodeFrame({ ack: { sequenceNumber: sequence, status: ackStatus[status] } });
}

export function encodeReject(code: RejectCode, message: string, sequence: number): Uint8Array {
  return encodeFrame({ reject: { code: rejectCodeNumber(code), message, sequenceNumber: sequence } });
}

export function encodeSyncRequest(fromSequence: number, toSequence: number, full: boolean): Uint8Array {
  return encodeFrame({ syncRequest: { fromSequence, toSequence, full } });
}

export function encodeStateChange(state: SubscriptionState, sequence: number, reason: string): Uint8Array {
  return encodeFrame({ stateChange: { state: stateNumber(state), sequenceNumber: sequence, reason } });
}

/** A master's pacing (Welcome.signals_per_second, signals_burst): whole frames per second and at once; 0 = unknown. */
export interface WelcomePacing {
  signalsPerSecond: number;
  signalsBurst: number;
}

export function encodeWelcome(
  subscriptionId: string,
  state: SubscriptionState,
  lastSequence: number,
  role: 'master' | 'receiver',
  pacing: WelcomePacing = { signalsPerSecond: 0, signalsBurst: 0 },
): Uint8Array {
  const { signalsPerSecond, signalsBurst } = pacing;
  return encodeFrame({ welcome: { subscriptionId, state: stateNumber(state), lastSequence, role, signalsPerSecond, signalsBurst } });
}

export function encodeHeartbeat(sentAtMs: number): Uint8Array {
  return encodeFrame({ heartbeat: { sentAt: sentAtMs } });
}

/**
 * A decoded SignalBody's execution fields (records.ts SignalBodyFields):
 * sequence and generated_at as JS numbers (null beyond 2^53-1), position
 * id and magic as their exact decimals. What the I/O thread checks and
 * keeps of a v2 signal, and what a receiver's client is delivered.
 */
export function signalBodyFields(body: SignalBodyFrame): DecodedSignalBodyFields {
  return {
    subscriptionId: body.subscriptionId,
    sequence: safeInteger(body.sequenceNumber),
    generatedAtMs: safeInteger(body.generatedAt),
    symbol: body.symbol,
    orderType: body.orderType,
    volume: body.volume,
    price: body.price,
    action: body.action,
    positionId: exactDecimal(body.positionId),
    stopLoss: body.stopLoss,
    takeProfit: body.takeProfit,
    magic: exactDecimal(body.magic),
  };
}

/**
 * The reverse: a signal's fields as a SignalBody object for the encoder, as
 * receivers see it, every execution field whatever the signing version.
 * 64-bit ids travel as decimal strings: fromObject converts them exactly.
 */
function signalBodyObject(record: SignalBodyFields): Record<string, unknown> {
  return {
    subscriptionId: record.subscriptionId,
    sequenceNumber: record.sequence,
    generatedAt: record.generatedAtMs,
    symbol: record.symbol,
    orderType: record.orderType,
    volume: record.volume,
    price: record.price,
    action: record.action,
    positionId: record.positionId === '' ? 0 : record.positionId,
    stopLoss: record.stopLoss,
    takeProfit: record.takeProfit,
    magic: record.magic === '' ? 0 : record.magic,
  };
}

/** The Frame object of a Delivery of `record`, as protobufjs takes it (encodeDelivery's fallback and reference). */
export function deliveryFrameObject(record: SignalRecord): Record<string, unknown> {
  return {
    delivery: {
      subscriptionId: record.subscriptionId,
      sequenceNumber: record.sequence,
      signal: signalBodyObject(record),
      signingVersion: record.signingVersion,
      acceptedAt: record.receivedAtMs,
    },
  };
}

/** Protobuf wire types, and the tags of a Delivery frame: for readers that take a field or two off the wire (the bench's receivers). */
export const wireType = hotWireType;
export const deliveryTags = hotDeliveryTags;

/** Written directly by hot-frames.ts (the same bytes as protobufjs writes); protobufjs for what that does not take. */
export function encodeDelivery(record: SignalRecord): Uint8Array {
  return encodeDeliveryFrame(record) ?? encodeFrame(deliveryFrameObject(record));
}

/** A decoded Position as the engine keeps it; null when opened_sequence is beyond 2^53-1. */
export function positionFromFrame(p: PositionFrame): Position | null {
  const openedSequence = safeInteger(p.openedSequence);
  if (openedSequence === null) return null;
  return {
    positionId: p.positionId,
    symbol: p.symbol,
    orderType: p.orderType,
    volume: p.volume,
    openPrice: p.openPrice,
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    magic: exactDecimal(p.magic),
    openedSequence,
  };
}

export function positionObject(p: Position): Record<string, unknown> {
  return {
    positionId: p.positionId,
    symbol: p.symbol,
    orderType: p.orderType,
    volume: p.volume,
    openPrice: p.openPrice,
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    magic: p.magic === '' ? 0 : p.magic,
    openedSequence: p.openedSequence,
  };
}

export function encodeSnapshot(subscriptionId: string, sequence: number, positions: readonly Position[]): Uint8Array {
  return encodeFrame({ snapshot: { subscriptionId, sequenceNumber: sequence, positions: positions.map(positionObject) } });
}

/** The server's answer to a journaled execution report: the client forgets it. */
export function encodeExecutionReportAck(sequence: number, masterPositionId: string, kindNumber: number): Uint8Array {
  return encodeFrame({ executionReportAck: { sequenceNumber: sequence, masterPositionId, kind: kindNumber } });
}
