/**
 * The message the alternatives carry: as many bytes as sigplane's signed v1
 * master frame (measured, not assumed), starting with the subscription index
 * and the sequence (u32 LE each) so that a receiver can count it, the rest
 * filler. The alternatives do not sign, decode or check anything.
 */
import { encodeFrame, signV1 } from '@sigplane/protocol';

export interface SignalFields {
  subscriptionId: string;
  sequence: number;
  generatedAtMs: number;
}

/** A v1 EURUSD market order, alternating BUY and SELL (the net position stays within 0.1 lot), as a master sends it. */
export function sigplaneSignalFrame(macSecretHex: string, f: SignalFields): Uint8Array {
  const fields = {
    subscriptionId: f.subscriptionId,
    sequence: String(f.sequence),
    generatedAt: String(f.generatedAtMs),
    symbol: 'EURUSD',
    orderType: f.sequence % 2,
    volume: 0.1,
    price: 1.08765 + (f.sequence % 8) / 100_000,
  };
  return encodeFrame({
    signalV1: {
      subscriptionId: fields.subscriptionId,
      sequenceNumber: f.sequence,
      generatedAt: f.generatedAtMs,
      symbol: fields.symbol,
      orderType: fields.orderType,
      volume: fields.volume,
      price: fields.price,
      signature: signV1(macSecretHex, fields),
    },
  });
}

/** Bytes of one signal on the wire (WebSocket payload of a master frame). */
export const signalBytes = sigplaneSignalFrame('0'.repeat(64), {
  subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
  sequence: 1_000_000,
  generatedAtMs: Date.UTC(2026, 0, 1),
}).length;

export function alternativePayload(sub: number, sequence: number): Buffer {
  const bytes = Buffer.alloc(signalBytes, 0x2e);
  bytes.writeUInt32LE(sub, 0);
  bytes.writeUInt32LE(sequence, 4);
  return bytes;
}

export function sequenceOfPayload(bytes: Uint8Array): number {
  return bytes.length < 8 ? -1 : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(4);
}
