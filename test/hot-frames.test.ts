/**
 * proto/hot-frames.ts writes the Delivery and Ack frames the shard sends
 * for every signal without protobufjs. They must be the same bytes
 * protobufjs writes for the same record: compared here byte for byte on
 * seeded random records, on the edges of every field, and on the records
 * it hands back to protobufjs (null), whose encodeDelivery output must
 * still be protobufjs's.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, deliveryFrameObject, encodeAck, encodeDelivery, encodeFrame, FrameType, safeInteger, type SignalRecord } from '@sigplane/protocol';
import { encodeAckFrame, encodeDeliveryFrame } from '../proto/hot-frames';
import { makeSignal } from './fixtures/journal-records';
import { Prng } from './support/prng';

const maxSafe = Number.MAX_SAFE_INTEGER;
const uint64Max = '18446744073709551615';

function reference(record: SignalRecord): Uint8Array {
  return FrameType.encode(FrameType.fromObject(deliveryFrameObject(record))).finish();
}

const subscriptionId = '6f1c2b1e-8f0a-4e59-9a43-0d6b1f0f7c2a';

function record(overrides: Partial<SignalRecord> = {}): SignalRecord {
  return makeSignal(subscriptionId, 42, overrides);
}

const uint64Texts = ['', '0', '1', '127', '128', '16383', '16384', '999999999999999', '9007199254740991', '9007199254740993', '12345678901234567890', uint64Max];
const doubles = [0, -0, 0.01, 1.08765, 100, 1e-300, 1.7976931348623157e308, Infinity, -Infinity, NaN, 2345.6789];
const symbols = ['EURUSD', 'XAUUSD', 'US30.cash', 'A', 'BTCUSD_PERP_LONG_NAME_0123456789ABCDEF'];

function randomRecord(rng: Prng): SignalRecord {
  return record({
    subscriptionId: rng.chance(0.5) ? crypto.randomUUID() : `sub-${rng.int(0, 1e6)}`,
    sequence: rng.pick([1, 127, 128, 300, 16384, 2 ** 31, 2 ** 32 + 5, maxSafe, rng.int(1, 2 ** 31)]),
    generatedAtMs: rng.pick([0, 1, 1_767_225_600_000 + rng.int(0, 1e9), maxSafe]),
    receivedAtMs: rng.pick([0, 1_767_225_600_000 + rng.int(0, 1e9), maxSafe]),
    symbol: rng.pick(symbols),
    orderType: rng.int(0, 8),
    action: rng.int(0, 3),
    volume: rng.pick(doubles),
    price: rng.pick(doubles),
    stopLoss: rng.pick(doubles),
    takeProfit: rng.pick(doubles),
    positionId: rng.pick(uint64Texts),
    magic: rng.pick(uint64Texts),
    // The wire field is a uint32: the encoder must write any, not only the 1 and 2 the type names.
    signingVersion: rng.pick([1, 2, 0, 127, 128, 0xffffffff]) as SignalRecord['signingVersion'],
  });
}

describe('direct Delivery frames', () => {
  it('are byte for byte what protobufjs writes, on 5,000 seeded random records', () => {
    const rng = new Prng(0x5151);
    for (let i = 0; i < 5_000; i++) {
      const r = randomRecord(rng);
      const direct = encodeDeliveryFrame(r);
      expect(direct, JSON.stringify(r)).not.toBeNull();
      expect(Buffer.from(direct!).equals(Buffer.from(reference(r))), JSON.stringify(r)).toBe(true);
    }
  });

  it('decode to the record they were made from', () => {
    const r = record({ sequence: 9_007_199_254_740_991, positionId: uint64Max, magic: '42', action: 2, stopLoss: 1.07, takeProfit: 1.1, signingVersion: 2 });
    const frame = decodeFrame(encodeDeliveryFrame(r)!);
    if (frame?.kind !== 'delivery') throw new Error(`decoded ${frame?.kind}`);
    const d = frame.delivery;
    const body = d.signal;
    if (body === null) throw new Error('no signal body');
    expect(d.subscriptionId).toBe(r.subscriptionId);
    expect(safeInteger(d.sequenceNumber)).toBe(r.sequence);
    expect(body.symbol).toBe('EURUSD');
    expect(body.positionId.toString()).toBe(uint64Max);
    expect(body.magic.toString()).toBe('42');
    expect([body.volume, body.price, body.stopLoss, body.takeProfit]).toEqual([r.volume, r.price, 1.07, 1.1]);
    expect(safeInteger(d.acceptedAt)).toBe(r.receivedAtMs);
  });

  it('hand to protobufjs what they do not write exactly, and encodeDelivery still writes protobufjs bytes', () => {
    const handedBack = [
      record({ symbol: 'ÉURUSD' }),
      record({ symbol: 'EUR\ud800USD' }),
      record({ subscriptionId: 'sub-é' }),
      record({ sequence: maxSafe + 2 }),
      record({ generatedAtMs: -1 }),
      record({ receivedAtMs: 1.5 }),
      record({ orderType: -1 }),
      record({ action: 2 ** 31 }),
      record({ signingVersion: 2 ** 32 as SignalRecord['signingVersion'] }),
      record({ positionId: '18446744073709551616' }),
      record({ magic: '-1' }),
      record({ magic: '0x10' }),
    ];
    for (const r of handedBack) {
      expect(encodeDeliveryFrame(r), JSON.stringify(r)).toBeNull();
      expect(Buffer.from(encodeDelivery(r)).equals(Buffer.from(reference(r))), JSON.stringify(r)).toBe(true);
    }
  });
});

describe('direct Ack frames', () => {
  it('are byte for byte what protobufjs writes', () => {
    for (const sequence of [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32, maxSafe]) {
      for (const status of ['ACCEPTED', 'DUPLICATE'] as const) {
        const direct = encodeAck(sequence, status);
        const viaProtobufjs = encodeFrame({ ack: { sequenceNumber: sequence, status: status === 'ACCEPTED' ? 1 : 2 } });
        expect(Buffer.from(direct).equals(Buffer.from(viaProtobufjs)), `${sequence} ${status}`).toBe(true);
      }
    }
    expect(encodeAckFrame(maxSafe + 2, 1)).toBeNull();
    expect(Buffer.from(encodeAck(maxSafe + 2, 'ACCEPTED')).equals(Buffer.from(encodeFrame({ ack: { sequenceNumber: maxSafe + 2, status: 1 } })))).toBe(true);
  });
});
