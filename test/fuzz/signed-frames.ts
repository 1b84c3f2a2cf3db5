/**
 * Signing for the fuzz sources: v1 and v2 frames under given credentials, and
 * the poison that keeps a guarded subscription's own-key frames out of the
 * freshness window whatever their other fields say.
 */
import protobuf from 'protobufjs';
import { encodeFrame, encodeSignalBody, exactDecimal, FrameType, safeInteger, type Int64, signV1, macV2 } from '@sigplane/protocol';
import { WireType, WireWriter } from './protobuf-wire';

export const SignalV1Type = FrameType.root.lookupType('sigplane.SignalV1');
/** protobufjs types util.Long as a bare constructor; its statics are long.js'. */
const Long = protobuf.util.Long as unknown as { fromString(text: string, unsigned?: boolean): protobuf.Long };

export interface Credentials {
  subscriptionId: string;
  keyId: string;
  /** v2: the raw 32 bytes. */
  key: Buffer;
  /** v1: the secret's hex text. */
  v1Secret: string;
}

/**
 * generated_at values that keep a frame on the I/O thread: far in the future
 * (FUTURE), or beyond 2^53-1 either way (STALE there). A past time in range
 * would not do: a verified signal older than the TTL goes on to the actor,
 * which answers DUPLICATE or STALE (docs/protocol.md), later than the
 * frames after it, and the guarded masters check one answer per frame, in
 * order.
 */
export const poisonedTimes: readonly bigint[] = [4_102_444_800_000n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)];
/** Anything up to this far ahead of now is treated as possibly fresh and re-poisoned. */
const freshWindowMs = 10 * 60_000;

/** Could this generated_at get the frame past the I/O thread's freshness check (fresh, or stale but in range)? */
export function possiblyFresh(generatedAt: Int64 | null | undefined): boolean {
  const ms = safeInteger(generatedAt);
  return ms !== null && ms - Date.now() <= freshWindowMs;
}

/** The v1 signature of a SignalV1 as the server will read it (decoded fields, exact 64-bit decimals). */
export function v1Signature(cred: Credentials, decoded: Record<string, unknown>): string {
  return signV1(cred.v1Secret, {
    subscriptionId: decoded.subscriptionId as string,
    sequence: exactDecimal(decoded.sequenceNumber as Int64),
    generatedAt: exactDecimal(decoded.generatedAt as Int64),
    symbol: decoded.symbol as string,
    orderType: decoded.orderType as number,
    volume: decoded.volume as number,
    price: decoded.price as number,
  });
}

/** A SignalV1 frame of `fields` (protobufjs object form) signed under `cred`. */
export function v1Frame(cred: Credentials, fields: Record<string, unknown>): Uint8Array {
  const message = SignalV1Type.fromObject({ ...fields, signature: '' }) as unknown as Record<string, unknown>;
  return encodeFrame({ signalV1: { ...fields, signature: v1Signature(cred, message) } });
}

/** A SignalV2 frame of `fields` (a SignalBody in object form) MACed under `cred`. */
export function v2Frame(cred: Credentials, fields: Record<string, unknown>): Uint8Array {
  const body = encodeSignalBody(fields);
  return encodeFrame({ signalV2: { body, keyId: cred.keyId, mac: macV2(cred.key, body) } });
}

function poisonField(fieldNumber: number, value: bigint): Uint8Array {
  return new WireWriter().tag(fieldNumber, WireType.VARINT).varint(value).finish();
}

/**
 * `message` (a SignalV1, SignalBody or SnapshotBody) with its generated_at
 * (field 3) set to `time`: appended, the last occurrence winning, or, where
 * the bytes before it swallow the appended field (protobufjs reads a known
 * field by its schema type whatever its wire type), the decoded message
 * encoded again with it. Unchanged when it does not decode at all.
 */
export function poisoned(type: protobuf.Type, message: Uint8Array, time: bigint): Uint8Array {
  const appended = Buffer.concat([message, poisonField(3, time)]);
  const decoded = tryDecode(type, appended);
  if (decoded === null || !possiblyFresh(decoded.generatedAt as Int64)) return appended;
  // As a Buffer, as the server decodes it (protobufjs reads a plain Uint8Array's strings with another reader).
  const again = tryDecode(type, Buffer.from(message.buffer, message.byteOffset, message.byteLength));
  if (again === null) return appended;
  again.generatedAt = Long.fromString(time.toString(), false);
  return type.encode(again).finish();
}

export function assertPoisoned(generatedAt: Int64, bytes: Uint8Array): void {
  if (possiblyFresh(generatedAt)) throw new Error(`guarded frame still fresh after poisoning: ${Buffer.from(bytes).toString('hex')}`);
}

export function tryDecode(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> | null {
  try {
    return type.decode(bytes) as unknown as Record<string, unknown>;
  } catch {
    return null;
  }
}

