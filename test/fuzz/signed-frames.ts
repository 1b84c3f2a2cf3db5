/**
 * Signing for the fuzz sources: v1 and v2 frames under given credentials, and
 * the poison that keeps a guarded subscription's own-key frames out of the
 * freshness window whatever their other fields say.
 */
import type protobuf from 'protobufjs';
import { encodeFrame, encodeSignalBody, exactDecimal, FrameType, safeInteger, type Int64 } from '../../proto/codec';
import { signV1 } from '../../engine/signing-v1';
import { macV2 } from '../../engine/signing-v2';
import { WireType, WireWriter } from './protobuf-wire';

export const SignalV1Type = FrameType.root.lookupType('sigplane.SignalV1');

export interface Credentials {
  subscriptionId: string;
  keyId: string;
  /** v2: the raw 32 bytes. */
  key: Buffer;
  /** v1: the secret's hex text. */
  v1Secret: string;
}

/** generated_at values no clock can call fresh. */
export const poisonedTimes: readonly bigint[] = [0n, 1n, 1_600_000_000_000n, 4_102_444_800_000n, -1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)];
/** Anything within this of now is treated as possibly fresh and re-poisoned. */
const freshWindowMs = 10 * 60_000;

export function possiblyFresh(generatedAt: Int64 | null | undefined): boolean {
  const ms = safeInteger(generatedAt);
  return ms !== null && Math.abs(ms - Date.now()) <= freshWindowMs;
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

export function poisonField(fieldNumber: number, value: bigint): Uint8Array {
  return new WireWriter().tag(fieldNumber, WireType.VARINT).varint(value).finish();
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

