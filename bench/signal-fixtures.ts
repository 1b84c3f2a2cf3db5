/**
 * Realistic signals for the benches: the fields of a v1 EURUSD / XAUUSD
 * market order as a Master EA sends them, and the SignalRecord
 * (proto/records.ts) the I/O thread builds from one after its checks.
 */
import { type SignalRecord, v1PayloadBytes, type V1Fields } from '@sigplane/protocol';

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
