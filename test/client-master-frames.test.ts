import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeFrame, decodeSignalBody, decodeSnapshotBody, exactDecimal } from '@sigplane/protocol';
import { encodeSignalFrame, encodeSnapshotFrame } from '../client/master-frames';
import { SigplaneClientError } from '../client/errors';
import { loadSigningVectors } from './support/signing-vectors';

const vectors = loadSigningVectors().cases;

const key = Buffer.alloc(32, 7);
const subscriptionId = '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e';

describe('master frames', () => {
  it('v1 frames carry the independent vectors’ signatures', () => {
    expect(vectors.length).toBeGreaterThan(0);
    for (const v of vectors) {
      const bytes = encodeSignalFrame(
        { version: 1, secret: v.secret },
        {
          subscriptionId: v.subscription_id,
          sequence: v.sequence_number,
          generatedAt: v.generated_at,
          symbol: v.symbol,
          orderType: v.order_type,
          volume: v.volume,
          price: v.price,
        },
      );
      const frame = decodeFrame(bytes);
      if (frame === null || frame.kind !== 'signalV1') throw new Error('not a signalV1');
      expect(frame.signalV1.signature).toBe(v.signature);
      expect(exactDecimal(frame.signalV1.sequenceNumber)).toBe(String(v.sequence_number));
      expect(exactDecimal(frame.signalV1.generatedAt)).toBe(String(v.generated_at));
    }
  });

  it('v1 refuses fields it cannot sign', () => {
    const base = { subscriptionId, sequence: 1, generatedAt: 1, symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 };
    expect(() => encodeSignalFrame({ version: 1, secret: 's' }, { ...base, stopLoss: 1.05 })).toThrow(SigplaneClientError);
    expect(() => encodeSignalFrame({ version: 1, secret: 's' }, { ...base, action: 1 })).toThrow(/need v2/);
    // Zero values are "none": allowed.
    expect(() => encodeSignalFrame({ version: 1, secret: 's' }, { ...base, action: 0, positionId: '0', magic: 0 })).not.toThrow();
  });

  it('v2 frames carry the body bytes, the key id and HMAC-SHA256(key, body)', () => {
    const bytes = encodeSignalFrame(
      { version: 2, keyId: 'k1', key },
      {
        subscriptionId,
        sequence: 5,
        generatedAt: 1_767_225_600_000,
        symbol: 'XAUUSD',
        orderType: 0,
        volume: 1,
        price: 2650.5,
        action: 1,
        positionId: '18446744073709551615',
        stopLoss: 2600,
        takeProfit: 2700,
        magic: 42n,
      },
    );
    const frame = decodeFrame(bytes);
    if (frame === null || frame.kind !== 'signalV2') throw new Error('not a signalV2');
    const { body, keyId, mac } = frame.signalV2;
    expect(keyId).toBe('k1');
    expect(Buffer.from(mac)).toEqual(createHmac('sha256', key).update(body).digest());
    const decoded = decodeSignalBody(body)!;
    expect(exactDecimal(decoded.sequenceNumber)).toBe('5');
    expect(exactDecimal(decoded.positionId)).toBe('18446744073709551615');
    expect(exactDecimal(decoded.magic)).toBe('42');
    expect(decoded).toMatchObject({ symbol: 'XAUUSD', action: 1, stopLoss: 2600, takeProfit: 2700 });
  });

  it('the same input gives the same bytes (a resend is byte-identical)', () => {
    const signal = { subscriptionId, sequence: 9, generatedAt: 1000, symbol: 'EURUSD', orderType: 1, volume: 0.5, price: 1.1 };
    expect(encodeSignalFrame({ version: 2, keyId: 'k', key }, signal)).toEqual(encodeSignalFrame({ version: 2, keyId: 'k', key }, signal));
    expect(encodeSignalFrame({ version: 1, secret: 'x' }, signal)).toEqual(encodeSignalFrame({ version: 1, secret: 'x' }, signal));
  });

  it('sequences beyond 2^53-1 travel exactly as strings or bigints; unsafe numbers are refused', () => {
    const base = { subscriptionId, generatedAt: 1, symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 };
    const frame = decodeFrame(encodeSignalFrame({ version: 2, keyId: 'k', key }, { ...base, sequence: 2n ** 64n - 1n }));
    if (frame === null || frame.kind !== 'signalV2') throw new Error('not a signalV2');
    expect(exactDecimal(decodeSignalBody(frame.signalV2.body)!.sequenceNumber)).toBe('18446744073709551615');
    const v1 = decodeFrame(encodeSignalFrame({ version: 1, secret: 's' }, { ...base, sequence: '9007199254740993' }));
    if (v1 === null || v1.kind !== 'signalV1') throw new Error('not a signalV1');
    expect(exactDecimal(v1.signalV1.sequenceNumber)).toBe('9007199254740993');
    expect(() => encodeSignalFrame({ version: 2, keyId: 'k', key }, { ...base, sequence: 2 ** 60 })).toThrow(/safe integer/);
  });

  it('snapshots are v2 only, bounded, and signed over the SnapshotBody bytes', () => {
    const snapshot = {
      sequence: 17,
      positions: [{ positionId: '5', symbol: 'EURUSD', orderType: 0, volume: 1, openPrice: 1.08, stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 3 }],
    };
    expect(() => encodeSnapshotFrame({ version: 1, secret: 's' }, subscriptionId, snapshot, 1)).toThrow(/v2/);
    const tooMany = { sequence: 1, positions: Array.from({ length: 2001 }, () => snapshot.positions[0]) };
    expect(() => encodeSnapshotFrame({ version: 2, keyId: 'k', key }, subscriptionId, tooMany, 1)).toThrow(/positions/);
    const frame = decodeFrame(encodeSnapshotFrame({ version: 2, keyId: 'k', key }, subscriptionId, snapshot, 1_000));
    if (frame === null || frame.kind !== 'snapshotFromMaster') throw new Error('not a snapshotFromMaster');
    const { body, mac } = frame.snapshotFromMaster;
    expect(Buffer.from(mac)).toEqual(createHmac('sha256', key).update(body).digest());
    const decoded = decodeSnapshotBody(body)!;
    expect(exactDecimal(decoded.sequenceNumber)).toBe('17');
    expect(decoded.subscriptionId).toBe(subscriptionId);
    expect(decoded.positions).toHaveLength(1);
  });
});
