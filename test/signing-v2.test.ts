/**
 * v2 MACs: HMAC-SHA256 over the exact body bytes, under a 32-byte key named
 * by a key id. The MAC is checked against an HMAC built by hand from SHA-256
 * (RFC 2104) and against RFC 4231's first test vector.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { macV2, signV2, v2MacBytes, verifyV2 } from '@sigplane/protocol';

const keyA = Buffer.alloc(32, 0xa1);
const keyB = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
// about the size of an encoded SignalBody (~100-120 bytes)
const body = Buffer.from(
  '0a2436663163326134652d386233642d346635612d396337652d31643262336134633564366510011880e0b2a5c4332206455552555344280031' +
    '9a9999999999b93f39e2e90b21fe65f13f40014a03313030510000000000000000590000000000000000600768',
  'hex',
);

/** HMAC-SHA256 built by hand from SHA-256 (RFC 2104), independent of createHmac. */
function referenceHmac(key: Uint8Array, message: Uint8Array): Buffer {
  const block = Buffer.alloc(64);
  Buffer.from(key).copy(block);
  const ipad = Buffer.from(block.map((b) => b ^ 0x36));
  const opad = Buffer.from(block.map((b) => b ^ 0x5c));
  const inner = createHash('sha256').update(ipad).update(message).digest();
  return createHash('sha256').update(opad).update(inner).digest();
}

describe('macV2 / signV2', () => {
  it('is HMAC-SHA256 over the exact bytes (RFC 2104 construction)', () => {
    expect(body.length).toBeGreaterThan(100);
    const mac = macV2(keyA, body);
    expect(mac.length).toBe(v2MacBytes);
    expect(mac.equals(referenceHmac(keyA, body))).toBe(true);
    expect(macV2(keyB, body).equals(referenceHmac(keyB, body))).toBe(true);
    expect(macV2(keyA, new Uint8Array(0)).equals(referenceHmac(keyA, new Uint8Array(0)))).toBe(true);
  });

  it('matches RFC 4231 test case 1 shape with a 32-byte key', () => {
    // RFC 4231 4.2 uses a 20-byte key; HMAC zero-pads keys to the block
    // size, so the same key padded with zeros to 32 bytes gives the RFC's MAC.
    const key = Buffer.concat([Buffer.alloc(20, 0x0b), Buffer.alloc(12, 0)]);
    expect(macV2(key, Buffer.from('Hi There')).toString('hex')).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
  });

  it('refuses keys that are not 32 bytes', () => {
    for (const key of [Buffer.alloc(0), Buffer.alloc(31), Buffer.alloc(33), 'a'.repeat(32) as unknown as Uint8Array]) {
      expect(() => macV2(key, body)).toThrow(RangeError);
    }
    expect(() => signV2('k1', Buffer.alloc(16), body)).toThrow(RangeError);
  });

  it('signV2 gives the fields of a Signed frame', () => {
    const signed = signV2('k1', keyA, body);
    expect(signed.keyId).toBe('k1');
    expect(signed.body).toBe(body);
    expect(signed.mac.equals(macV2(keyA, body))).toBe(true);
    expect(() => signV2('', keyA, body)).toThrow(RangeError);
  });

  it('error messages carry no key bytes', () => {
    const key = Buffer.from('secret-key-material-31-bytes-xx');
    let message = '';
    try {
      macV2(key, body);
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/32/);
    expect(message).not.toContain(key.toString());
    expect(message).not.toContain(key.toString('hex'));
  });
});

describe('verifyV2', () => {
  const keys = new Map<string, Uint8Array>([
    ['2026-10', keyA],
    ['2026-11', keyB],
  ]);

  it('accepts the MAC under either key id during a rotation', () => {
    expect(verifyV2(keys, '2026-10', body, macV2(keyA, body))).toBe('ok');
    expect(verifyV2(keys, '2026-11', body, macV2(keyB, body))).toBe('ok');
  });

  it('a MAC under the other key, or a wrong key id, is SIGNATURE_INVALID', () => {
    expect(verifyV2(keys, '2026-10', body, macV2(keyB, body))).toBe('SIGNATURE_INVALID');
    expect(verifyV2(keys, '2026-11', body, macV2(keyA, body))).toBe('SIGNATURE_INVALID');
  });

  it('an unknown key id is UNKNOWN_KEY, whatever the MAC', () => {
    expect(verifyV2(keys, '2026-09', body, macV2(keyA, body))).toBe('UNKNOWN_KEY');
    expect(verifyV2(keys, '', body, macV2(keyA, body))).toBe('UNKNOWN_KEY');
    expect(verifyV2(keys, '__proto__', body, new Uint8Array(3))).toBe('UNKNOWN_KEY');
    expect(verifyV2(new Map(), '2026-10', body, macV2(keyA, body))).toBe('UNKNOWN_KEY');
  });

  it('a configured key that is not 32 bytes is unusable (UNKNOWN_KEY), never a weaker key', () => {
    const broken = new Map<string, Uint8Array>([
      ['empty', Buffer.alloc(0)],
      ['short', Buffer.alloc(16, 1)],
    ]);
    const emptyKeyMac = referenceHmac(Buffer.alloc(0), body);
    expect(verifyV2(broken, 'empty', body, emptyKeyMac)).toBe('UNKNOWN_KEY');
    expect(verifyV2(broken, 'short', body, referenceHmac(Buffer.alloc(16, 1), body))).toBe('UNKNOWN_KEY');
  });

  it('takes a lookup function as well as a map', () => {
    const seen: string[] = [];
    const lookup = (id: string): Uint8Array | undefined => {
      seen.push(id);
      return id === 'k' ? keyA : undefined;
    };
    expect(verifyV2(lookup, 'k', body, macV2(keyA, body))).toBe('ok');
    expect(verifyV2(lookup, 'x', body, macV2(keyA, body))).toBe('UNKNOWN_KEY');
    expect(seen).toEqual(['k', 'x']);
  });

  it('any change to the body or the MAC is SIGNATURE_INVALID', () => {
    const mac = macV2(keyA, body);
    for (let i = 0; i < body.length; i++) {
      const tampered = Buffer.from(body);
      tampered[i] ^= 0x01;
      expect(verifyV2(keys, '2026-10', tampered, mac)).toBe('SIGNATURE_INVALID');
    }
    for (let i = 0; i < mac.length; i++) {
      const tampered = Buffer.from(mac);
      tampered[i] ^= 0x80;
      expect(verifyV2(keys, '2026-10', body, tampered)).toBe('SIGNATURE_INVALID');
    }
    expect(verifyV2(keys, '2026-10', body.subarray(0, body.length - 1), mac)).toBe('SIGNATURE_INVALID');
    expect(verifyV2(keys, '2026-10', Buffer.concat([body, Buffer.alloc(1)]), mac)).toBe('SIGNATURE_INVALID');
  });

  it('a MAC of the wrong length is SIGNATURE_INVALID without throwing', () => {
    const mac = macV2(keyA, body);
    for (const wrong of [mac.subarray(0, 31), Buffer.concat([mac, Buffer.alloc(1)]), new Uint8Array(0), mac.subarray(0, 16)]) {
      expect(verifyV2(keys, '2026-10', body, wrong)).toBe('SIGNATURE_INVALID');
    }
    expect(verifyV2(keys, '2026-10', body, mac.toString('hex') as unknown as Uint8Array)).toBe('SIGNATURE_INVALID');
  });

  it('accepts plain Uint8Arrays and views into larger buffers', () => {
    const frame = Buffer.concat([Buffer.from([9, 9, 9]), body, macV2(keyA, body), Buffer.from([7])]);
    const bodyView = new Uint8Array(frame.buffer, frame.byteOffset + 3, body.length);
    const macView = new Uint8Array(frame.buffer, frame.byteOffset + 3 + body.length, 32);
    expect(verifyV2(keys, '2026-10', bodyView, macView)).toBe('ok');
    expect(verifyV2(new Map([['k', new Uint8Array(keyA)]]), 'k', new Uint8Array(body), new Uint8Array(macView))).toBe('ok');
  });
});
