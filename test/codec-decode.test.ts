/**
 * decodeFrame reads whatever Uint8Array it is given (uWS hands the I/O
 * thread an ArrayBuffer; ws and tests hand it Buffers) through the same
 * Buffer view, so the input's type changes neither what is decoded nor the
 * frame's `bytes` fields, and a view at an offset decodes only its own bytes.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, decodeSignalBody, encodeFrame, encodeReject, encodeSignalBody, safeInteger, RejectCode } from '@sigplane/protocol';

const subscriptionId = '0b6f3c1e-1111-4222-8333-444455556666';

function onArrayBuffer(bytes: Uint8Array, offset = 0): Uint8Array {
  const ab = new ArrayBuffer(bytes.byteLength + offset + 3);
  const view = new Uint8Array(ab, offset, bytes.byteLength);
  view.set(bytes);
  new Uint8Array(ab).fill(0xff, offset + bytes.byteLength); // bytes after the view must not be read
  return view;
}

describe('decodeFrame input types', () => {
  const v1 = encodeFrame({
    signalV1: { subscriptionId, sequenceNumber: 42, generatedAt: 1_764_000_000_000, symbol: 'EURUSD', orderType: 1, volume: 0.1, price: 1.08765, signature: 'ab'.repeat(32) },
  });
  const body = encodeSignalBody({ subscriptionId, sequenceNumber: '9007199254740993', generatedAt: 1, symbol: 'XAUUSD', orderType: 0, volume: 1, price: 2000.5, action: 1 });
  const v2 = encodeFrame({ signalV2: { body, keyId: 'k-1', mac: new Uint8Array(32).fill(9) } });
  const reject = encodeReject(RejectCode.INVALID_FIELD, 'prix hors borne: 1,5 € — ошибка', 7);

  it('decodes the same frame from a Buffer, an ArrayBuffer view and a view at an offset', () => {
    for (const bytes of [v1, v2, reject]) {
      const fromBuffer = decodeFrame(Buffer.from(bytes));
      expect(fromBuffer).not.toBeNull();
      expect(JSON.stringify(decodeFrame(onArrayBuffer(bytes)))).toBe(JSON.stringify(fromBuffer));
      expect(JSON.stringify(decodeFrame(onArrayBuffer(bytes, 5)))).toBe(JSON.stringify(fromBuffer));
    }
  });

  it('keeps UTF-8 strings and 64-bit integers exact from an ArrayBuffer view', () => {
    const r = decodeFrame(onArrayBuffer(reject, 1));
    expect(r?.kind === 'reject' && r.reject.message).toBe('prix hors borne: 1,5 € — ошибка');
    const s = decodeFrame(onArrayBuffer(v2, 2));
    if (s?.kind !== 'signalV2') throw new Error('not a signalV2');
    expect(Buffer.from(s.signalV2.body).equals(Buffer.from(body))).toBe(true);
    expect(Buffer.from(s.signalV2.mac).equals(Buffer.alloc(32, 9))).toBe(true);
    expect(decodeSignalBody(s.signalV2.body)?.sequenceNumber.toString()).toBe('9007199254740993');
    const one = decodeFrame(onArrayBuffer(v1, 3));
    expect(one?.kind === 'signalV1' && safeInteger(one.signalV1.sequenceNumber)).toBe(42);
  });

  it('refuses truncated bytes whatever their type', () => {
    for (const bytes of [v1, v2]) {
      const cut = bytes.subarray(0, bytes.byteLength - 4);
      expect(decodeFrame(onArrayBuffer(cut))).toBeNull();
      expect(decodeFrame(Buffer.from(cut))).toBeNull();
    }
  });
});
