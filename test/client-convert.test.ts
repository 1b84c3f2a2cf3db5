import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeDelivery,
  encodeSnapshot,
  encodeWelcome,
  stateName,
  type Position,
  type SignalRecord,
} from '@sigplane/protocol';
import { toDelivery, toSignalFields, toSnapshot, toWelcome, type DeliveryFrame } from '../client/convert';
import { SigplaneClientError } from '../client/errors';

const record: SignalRecord = {
  subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
  sequence: 9_007_199_254_740_991,
  generatedAtMs: 1_767_225_600_000,
  symbol: 'EURUSD',
  orderType: 1,
  volume: 0.1,
  price: 1.08765,
  action: 3,
  positionId: '18446744073709551615',
  stopLoss: 1.07,
  takeProfit: 1.1,
  magic: '123456789012345678',
  signingVersion: 2,
  content: new Uint8Array(),
  receivedAtMs: 1_767_225_600_012,
};

function decodedDelivery(r: SignalRecord): DeliveryFrame {
  const frame = decodeFrame(encodeDelivery(r));
  if (frame === null || frame.kind !== 'delivery') throw new Error('not a delivery');
  return frame.delivery;
}

describe('client conversions', () => {
  it('turns a decoded delivery into plain numbers and exact decimal strings', () => {
    const delivery = toDelivery(decodedDelivery(record));
    expect(delivery).toEqual({
      subscriptionId: record.subscriptionId,
      sequenceNumber: 9_007_199_254_740_991,
      signingVersion: 2,
      acceptedAt: 1_767_225_600_012,
      signal: {
        subscriptionId: record.subscriptionId,
        sequence: 9_007_199_254_740_991,
        generatedAt: 1_767_225_600_000,
        symbol: 'EURUSD',
        orderType: 1,
        volume: 0.1,
        price: 1.08765,
        action: 3,
        positionId: '18446744073709551615',
        stopLoss: 1.07,
        takeProfit: 1.1,
        magic: '123456789012345678',
      },
    });
  });

  it('toSignalFields takes a decoded delivery, its body, or an already converted delivery', () => {
    const raw = decodedDelivery(record);
    const fromRaw = toSignalFields(raw);
    expect(toSignalFields(raw.signal!)).toEqual(fromRaw);
    expect(toSignalFields(toDelivery(raw))).toEqual(fromRaw);
    const v1 = toSignalFields(decodedDelivery({ ...record, sequence: 7, action: 0, positionId: '', magic: '', signingVersion: 1 }));
    expect(v1).toMatchObject({ sequence: 7, action: 0, positionId: '0', magic: '0' });
  });

  it('refuses a sequence beyond 2^53-1 instead of rounding it', () => {
    const raw = decodedDelivery(record);
    const tampered = { ...raw, sequenceNumber: { low: -1, high: -1, unsigned: true, toString: () => '18446744073709551615' } };
    expect(() => toDelivery(tampered)).toThrow(SigplaneClientError);
    expect(() => toDelivery({ ...raw, signal: null })).toThrow(/without a signal/);
  });

  it('turns a snapshot into records Positions and a welcome into names', () => {
    const positions: Position[] = [
      { positionId: '42', symbol: 'XAUUSD', orderType: 0, volume: 1.5, openPrice: 2650.5, stopLoss: 0, takeProfit: 2700, magic: '77', openedSequence: 12 },
      { positionId: 'v1:EURUSD', symbol: 'EURUSD', orderType: 1, volume: 0.3, openPrice: 1.08, stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 3 },
    ];
    const frame = decodeFrame(encodeSnapshot(record.subscriptionId, 99, positions));
    if (frame === null || frame.kind !== 'snapshot') throw new Error('not a snapshot');
    expect(toSnapshot(frame.snapshot)).toEqual({ subscriptionId: record.subscriptionId, sequenceNumber: 99, positions });
    const welcome = decodeFrame(encodeWelcome(record.subscriptionId, 'DEGRADED', 41, 'receiver'));
    if (welcome === null || welcome.kind !== 'welcome') throw new Error('not a welcome');
    expect(toWelcome(welcome.welcome, stateName)).toEqual({
      subscriptionId: record.subscriptionId,
      state: 'DEGRADED',
      lastSequence: 41,
      role: 'receiver',
      signalsPerSecond: 0,
      signalsBurst: 0,
    });
    const masterWelcome = decodeFrame(encodeWelcome(record.subscriptionId, 'ACTIVE', 7, 'master', { signalsPerSecond: 2_000, signalsBurst: 4_000 }));
    if (masterWelcome === null || masterWelcome.kind !== 'welcome') throw new Error('not a welcome');
    expect(toWelcome(masterWelcome.welcome, stateName)).toMatchObject({ role: 'master', signalsPerSecond: 2_000, signalsBurst: 4_000 });
  });
});
