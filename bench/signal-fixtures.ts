/**
 * Realistic signals for the benches: the fields of a v1 EURUSD / XAUUSD
 * market order as a Master EA sends them, and the SignalRecord
 * (proto/records.ts) the I/O thread builds from one after its checks; v1
 * and v2 frames as a master sends them.
 */
import { encodeFrame, encodeSignalBody, macV2, signV1, type SignalRecord, v1PayloadBytes, type V1Fields } from '@sigplane/protocol';

export const benchSubscriptionId = '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e';
export const benchV1Secret = Buffer.from('k3y-For-Subscription-A', 'utf8');
/** 2026-01-01T00:00:00Z */
export const benchEpochMs = 1_767_225_600_000;

/** The seven v1 fields of signal `sequence`: alternating BUY / SELL, prices a few pips apart. */
export function v1Fields(sequence: number): V1Fields {
  const eurusd = sequence % 4 < 2;
  return {
    subscriptionId: benchSubscriptionId,
    sequence: String(sequence),
    generatedAt: String(benchEpochMs + sequence * 250),
    symbol: eurusd ? 'EURUSD' : 'XAUUSD',
    orderType: sequence % 2, // BUY, SELL: the net position stays within 0.1 lot
    volume: 0.1,
    price: eurusd ? 1.08765 + (sequence % 8) / 100_000 : 2650.5 + (sequence % 8) / 100,
  };
}

/** The record the I/O thread hands the shard for a verified v1 signal. */
export function v1Record(sequence: number, receivedAtMs: number): SignalRecord {
  const fields = v1Fields(sequence);
  return {
    subscriptionId: fields.subscriptionId,
    sequence,
    generatedAtMs: Number(fields.generatedAt),
    symbol: fields.symbol,
    orderType: fields.orderType,
    volume: fields.volume,
    price: fields.price,
    action: 0, // NETTING: v1 carries no action
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: v1PayloadBytes(fields),
    receivedAtMs,
  };
}

/** The v2 key (and its id) the bench's v2 frames are signed with. */
export const benchV2KeyId = '2026-11';
export const benchV2Key = Buffer.from(new Uint8Array(32).map((_, j) => (j * 13 + 5) & 0xff));

/** Signal `sequence` as a v1 frame object, signed, ready for encodeFrame. */
export function v1FrameObject(sequence: number): Record<string, unknown> {
  const fields = v1Fields(sequence);
  return {
    signalV1: {
      subscriptionId: fields.subscriptionId,
      sequenceNumber: fields.sequence,
      generatedAt: fields.generatedAt,
      symbol: fields.symbol,
      orderType: fields.orderType,
      volume: fields.volume,
      price: fields.price,
      signature: signV1(benchV1Secret, fields),
    },
  };
}

/** A v2 OPEN with stops and a magic number: every SignalBody field set. */
export function v2Body(sequence: number): Uint8Array {
  return encodeSignalBody({
    subscriptionId: benchSubscriptionId,
    sequenceNumber: sequence,
    generatedAt: benchEpochMs + sequence * 250,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.25,
    price: 1.08765 + (sequence % 8) / 100_000,
    action: 1,
    positionId: String(5_000_000_000 + sequence),
    stopLoss: 1.08265,
    takeProfit: 1.09765,
    magic: '20260101',
  });
}

/** Signal `sequence` as an encoded v2 Signed frame. */
export function v2Frame(sequence: number): Uint8Array {
  const body = v2Body(sequence);
  return encodeFrame({ signalV2: { body, keyId: benchV2KeyId, mac: macV2(benchV2Key, body) } });
}
