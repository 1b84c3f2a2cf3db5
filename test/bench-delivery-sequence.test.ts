/**
 * bench/load/delivery-sequence.ts reads a Delivery frame's sequence off the
 * wire for the bench's receivers. It must say what protobufjs says about the
 * same bytes: the sequence of every Delivery frame (written by protobufjs and
 * by the shard's direct writer), null for every other frame and for bytes
 * that are not a well formed frame.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, deliveryFrameObject, encodeFrame, safeInteger } from '@sigplane/protocol';
import { deliverySequenceOf } from '../bench/load/delivery-sequence';
import { encodeDeliveryFrame } from '../proto/hot-frames';
import { makeSignal } from './fixtures/journal-records';
import { Prng } from './support/prng';

const subscriptionId = '6f1c2b1e-8f0a-4e59-9a43-0d6b1f0f7c2a';

function protobufjsSequence(bytes: Uint8Array): number | null {
  const frame = decodeFrame(bytes);
  return frame?.kind === 'delivery' ? (safeInteger(frame.delivery.sequenceNumber) ?? null) : null;
}

describe('the bench receivers\' Delivery sequence reader', () => {
  it('reads what protobufjs reads, on Delivery frames from the direct writer and from protobufjs', () => {
    const rng = new Prng(0xd5e9);
    for (let i = 0; i < 2_000; i++) {
      const sequence = rng.pick([1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, rng.int(1, 2 ** 31)]);
      const record = makeSignal(subscriptionId, sequence, { symbol: rng.pick(['EURUSD', 'XAUUSD', 'US30.cash']), price: rng.int(1, 1e6) / 1e3 });
      const direct = encodeDeliveryFrame(record); // null where it leaves the frame to protobufjs
      const viaProtobufjs = encodeFrame(deliveryFrameObject(record));
      for (const bytes of direct === null ? [viaProtobufjs] : [direct, viaProtobufjs]) {
        expect(deliverySequenceOf(bytes)).toBe(sequence);
        expect(deliverySequenceOf(bytes)).toBe(protobufjsSequence(bytes));
      }
    }
    // Fields in another order than the writers use, and the sequence absent (proto3: 0).
    const reordered = encodeFrame({ delivery: { acceptedAt: 5, signingVersion: 2, sequenceNumber: 77, subscriptionId } });
    expect(deliverySequenceOf(reordered)).toBe(77);
    const noSequence = encodeFrame({ delivery: { subscriptionId, acceptedAt: 5 } });
    expect(deliverySequenceOf(noSequence)).toBe(0);
    expect(protobufjsSequence(noSequence)).toBe(0);
  });

  it('says null for every other frame', () => {
    for (const frame of [
      { deliveryAck: { sequenceNumber: 5 } },
      { subscribe: { hasLastSequence: true, lastSequence: 5 } },
      { ack: { sequenceNumber: 5, status: 1 } },
    ]) {
      expect(deliverySequenceOf(encodeFrame(frame))).toBeNull();
    }
    expect(deliverySequenceOf(new Uint8Array(0))).toBeNull();
  });

  it('says null for truncated or malformed bytes, never throws', () => {
    const direct = encodeDeliveryFrame(makeSignal(subscriptionId, 300, {}))!;
    for (let cut = 1; cut < direct.length; cut++) {
      const truncated = direct.subarray(0, cut);
      const sequence = deliverySequenceOf(truncated);
      // A cut that still holds a whole, shorter Delivery is not possible: the frame's length prefix covers it all.
      expect(sequence, `cut at ${cut}`).toBeNull();
    }
    expect(deliverySequenceOf(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBeNull();
    expect(deliverySequenceOf(Uint8Array.of((8 << 3) | 3))).toBeNull(); // a group: not proto3
  });
});
