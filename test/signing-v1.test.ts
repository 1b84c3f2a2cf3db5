/**
 * v1 signatures against the vectors of an independent implementation.
 *
 * The vectors live in the `shared` folder beside the checkout
 * (<repo root>/../shared/vectors/signing-v1.json, read-only, the source of
 * truth) and in a committed copy, test/fixtures/signing-v1.json, so a clone
 * without `shared/` still tests them. The copy is required; the shared file
 * is tested too whenever it exists, and must not have drifted from the copy.
 */
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFixed, signV1, v1Payload, v1PayloadBytes, verifyV1, type V1Fields } from '@sigplane/protocol';
import { loadSigningVectors, signingVectorsCopyPath, type SigningVector } from './support/signing-vectors';

type VectorCase = SigningVector;

const COPY_PATH = signingVectorsCopyPath;
const SHARED_PATH = path.resolve(__dirname, '../../shared/vectors/signing-v1.json');
const loadVectors = loadSigningVectors;

function fieldsOf(c: VectorCase): V1Fields {
  return {
    subscriptionId: c.subscription_id,
    // as the server gets them: Long.toString() of the decoded uint64/int64
    sequence: String(c.sequence_number),
    generatedAt: String(c.generated_at),
    symbol: c.symbol,
    orderType: c.order_type,
    volume: c.volume,
    price: c.price,
  };
}

const sources: [string, string][] = [['fixture copy', COPY_PATH]];
if (existsSync(SHARED_PATH)) sources.push(['shared vectors', SHARED_PATH]);

describe('vector files', () => {
  it('the committed copy exists (test/fixtures/signing-v1.json)', () => {
    expect(existsSync(COPY_PATH), `missing ${COPY_PATH}: copy shared/vectors/signing-v1.json there`).toBe(true);
  });

  // Registered only when shared/ is beside the checkout (it always is in CI).
  if (existsSync(SHARED_PATH)) {
    it('the copy has not drifted from shared/vectors', () => {
      expect(loadVectors(COPY_PATH)).toEqual(loadVectors(SHARED_PATH));
    });
  }
});

describe.each(sources)('%s', (_label, file) => {
  const vectors = loadVectors(file);

  it('has at least the five original cases', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(5);
  });

  it.each(vectors.cases.map((c, i) => [i, c] as const))('case %i: payload, signature, verification', (_i, c) => {
    const fields = fieldsOf(c);
    expect(v1Payload(fields)).toBe(c.payload);
    expect(v1PayloadBytes(fields).equals(Buffer.from(c.payload, 'utf8'))).toBe(true);
    expect(signV1(c.secret, fields)).toBe(c.signature);
    expect(signV1(Buffer.from(c.secret, 'utf8'), fields)).toBe(c.signature);
    // numbers and bigints format the same as the decimal strings
    expect(v1Payload({ ...fields, sequence: c.sequence_number, generatedAt: BigInt(c.generated_at) })).toBe(c.payload);
    const verdict = verifyV1([c.secret], fields, c.signature);
    expect(verdict.ok).toBe(true);
    expect(verdict.keyIndex).toBe(0);
    expect(verdict.payload.toString('utf8')).toBe(c.payload);
  });

  it.each(vectors.cases.map((c, i) => [i, c] as const))('case %i: tampering with any field or the signature fails', (_i, c) => {
    const fields = fieldsOf(c);
    const tampered: [string, V1Fields][] = [
      ['subscriptionId', { ...fields, subscriptionId: fields.subscriptionId.replace(/^./, (ch) => (ch === '0' ? '1' : '0')) }],
      ['sequence', { ...fields, sequence: String(c.sequence_number + 1) }],
      ['generatedAt', { ...fields, generatedAt: String(c.generated_at - 1) }],
      ['symbol', { ...fields, symbol: fields.symbol === 'EURUSD' ? 'EURUSE' : 'EURUSD' }],
      ['orderType', { ...fields, orderType: (c.order_type + 1) % 9 }],
      ['volume', { ...fields, volume: c.volume + 0.00001 }],
      ['price', { ...fields, price: c.price + 0.00001 }],
    ];
    for (const [name, t] of tampered) {
      expect([name, v1Payload(t) === c.payload]).toEqual([name, false]);
      expect([name, verifyV1([c.secret], t, c.signature).ok]).toEqual([name, false]);
    }
    for (let pos = 0; pos < 64; pos++) {
      const flipped = c.signature[pos] === 'a' ? 'b' : 'a';
      const sig = c.signature.slice(0, pos) + flipped + c.signature.slice(pos + 1);
      expect(verifyV1([c.secret], fields, sig).ok).toBe(false);
    }
    expect(verifyV1([c.secret + 'x'], fields, c.signature).ok).toBe(false);
  });
});

const BASE: V1Fields = {
  subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
  sequence: '1',
  generatedAt: '1767225600000',
  symbol: 'EURUSD',
  orderType: 0,
  volume: 0.1,
  price: 1.08765,
};
const SECRET = 'k3y-For-Subscription-A';

describe('v1 verification', () => {
  it('accepts either key during a rotation and reports which', () => {
    const oldKey = 'old-secret';
    const newKey = Buffer.from('new-secret-bytes', 'utf8');
    const underOld = signV1(oldKey, BASE);
    const underNew = signV1(newKey, BASE);
    expect(underOld).not.toBe(underNew);
    expect(verifyV1([oldKey, newKey], BASE, underOld)).toMatchObject({ ok: true, keyIndex: 0 });
    expect(verifyV1([oldKey, newKey], BASE, underNew)).toMatchObject({ ok: true, keyIndex: 1 });
    expect(verifyV1([newKey], BASE, underOld)).toMatchObject({ ok: false, keyIndex: -1 });
    expect(verifyV1([oldKey, newKey], BASE, signV1('third', BASE)).ok).toBe(false);
    expect(verifyV1([], BASE, underOld).ok).toBe(false);
  });

  it('refuses malformed signatures without throwing', () => {
    const good = signV1(SECRET, BASE);
    const bad = [
      good.toUpperCase(),
      good.slice(0, 63),
      good + '0',
      good.slice(0, 62),
      good.slice(0, 63) + 'g',
      ' ' + good.slice(1),
      good.slice(0, 63) + '\n',
      '',
      '0'.repeat(64),
      good.slice(0, 32), // hex-decodes to 16 bytes
      'zz'.repeat(32),
    ];
    for (const sig of bad) {
      const verdict = verifyV1([SECRET], BASE, sig);
      expect([sig, verdict.ok]).toEqual([sig, false]);
      expect(verdict.payload.toString()).toBe(v1Payload(BASE));
    }
    for (const notString of [null, undefined, 42, Buffer.from(good, 'hex')]) {
      expect(verifyV1([SECRET], BASE, notString as unknown as string).ok).toBe(false);
    }
    // Buffer.from(hex) silently stops at a bad digit: make sure that is not what decides
    expect(verifyV1([SECRET], BASE, good.slice(0, 2) + 'x' + good.slice(3)).ok).toBe(false);
  });

  it('never matches under an empty secret, and will not sign with one', () => {
    expect(() => signV1('', BASE)).toThrow(RangeError);
    expect(() => signV1(new Uint8Array(0), BASE)).toThrow(RangeError);
    const underEmptyKey = createHmac('sha256', '').update(v1Payload(BASE)).digest('hex');
    expect(verifyV1(['', new Uint8Array(0)], BASE, underEmptyKey).ok).toBe(false);
    // an empty entry does not stop the real key from matching
    expect(verifyV1(['', SECRET], BASE, signV1(SECRET, BASE))).toMatchObject({ ok: true, keyIndex: 1 });
  });

  it('takes a string secret as its UTF-8 bytes', () => {
    const secret = 'sécret-ü-€-🔑';
    expect(signV1(secret, BASE)).toBe(signV1(Buffer.from(secret, 'utf8'), BASE));
    expect(signV1(secret, BASE)).not.toBe(signV1(Buffer.from(secret, 'latin1'), BASE));
    expect(verifyV1([Buffer.from(secret, 'utf8')], BASE, signV1(secret, BASE)).ok).toBe(true);
  });

  it('returns the payload bytes whether or not the signature matches', () => {
    const ok = verifyV1([SECRET], BASE, signV1(SECRET, BASE));
    const notOk = verifyV1([SECRET], BASE, '0'.repeat(64));
    expect(ok.payload.equals(notOk.payload)).toBe(true);
    expect(ok.payload.toString('utf8')).toBe('6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e|1|1767225600000|EURUSD|0|0.10000|1.08765');
  });

  it('covers volume and price only as %.5f prints them (a property of the seed scheme)', () => {
    // A change below the 5th decimal does not change the payload, so the MAC
    // still verifies: the executed value should be taken from the payload.
    const sig = signV1(SECRET, BASE);
    expect(verifyV1([SECRET], { ...BASE, volume: 0.100004 }, sig).ok).toBe(true);
    // 0.100005 is 0.1000049999999999966...: still "0.10000"
    expect(verifyV1([SECRET], { ...BASE, volume: 0.100005 }, sig).ok).toBe(true);
    expect(verifyV1([SECRET], { ...BASE, volume: 0.1000050000000001 }, sig).ok).toBe(false);
  });
});

describe('v1 payload formatting', () => {
  it('prints 64-bit integers exactly, never through a float', () => {
    const max = { ...BASE, sequence: '9223372036854775807', generatedAt: '-9223372036854775808' };
    expect(v1Payload(max)).toBe(
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e|9223372036854775807|-9223372036854775808|EURUSD|0|0.10000|1.08765',
    );
    expect(v1Payload({ ...max, sequence: 2n ** 63n - 1n, generatedAt: -(2n ** 63n) })).toBe(v1Payload(max));
    // a float would have printed 9223372036854775808
    expect(v1Payload(max)).not.toContain('|9223372036854775808|');
    expect(v1Payload({ ...BASE, sequence: '9007199254740993' })).toContain('|9007199254740993|');
    expect(v1Payload({ ...BASE, sequence: Number.MAX_SAFE_INTEGER })).toContain('|9007199254740991|');
    expect(v1Payload({ ...BASE, sequence: '0', generatedAt: -0 })).toContain('|0|0|');
    expect(v1Payload({ ...BASE, sequence: '999999999999999999' })).toContain('|999999999999999999|');
  });

  it('prints a uint64 beyond 2^63-1 as %lld prints the same 64 bits', () => {
    expect(v1Payload({ ...BASE, sequence: '18446744073709551615' })).toContain('|-1|');
    expect(v1Payload({ ...BASE, sequence: '9223372036854775808' })).toContain('|-9223372036854775808|');
    expect(v1Payload({ ...BASE, sequence: 2n ** 64n - 2n })).toContain('|-2|');
  });

  it('refuses integers it cannot print exactly', () => {
    for (const s of ['18446744073709551616', '-9223372036854775809', '1'.repeat(30)]) {
      expect(() => v1Payload({ ...BASE, sequence: s })).toThrow(RangeError);
    }
    expect(() => v1Payload({ ...BASE, sequence: 2n ** 64n })).toThrow(RangeError);
    for (const s of ['', '007', '+7', ' 7', '7 ', '0x10', '1e3', '-0', '1.0', '١٢']) {
      expect(() => v1Payload({ ...BASE, generatedAt: s })).toThrow(TypeError);
    }
    for (const n of [2 ** 53, -(2 ** 53), 1.5, NaN, Infinity]) {
      expect(() => v1Payload({ ...BASE, sequence: n })).toThrow(RangeError);
    }
    for (const t of [1.5, NaN, 2 ** 31, -(2 ** 31) - 1]) {
      expect(() => v1Payload({ ...BASE, orderType: t })).toThrow(RangeError);
    }
    expect(v1Payload({ ...BASE, orderType: -(2 ** 31) })).toContain('|-2147483648|');
  });

  it('prints volume and price with glibc %.5f, ties to even', () => {
    const p = v1Payload({ ...BASE, volume: 0.015625, price: -0 });
    expect(p.endsWith('|0.01562|-0.00000')).toBe(true);
    expect(v1Payload({ ...BASE, volume: NaN, price: Infinity }).split('|').slice(5)).toEqual([
      formatFixed(NaN, 5),
      'inf',
    ]);
  });

  it('puts nothing secret in its errors', () => {
    const secret = 'do-not-leak-me';
    let message = '';
    try {
      verifyV1([secret], { ...BASE, sequence: 'x' }, signV1(secret, BASE));
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/sequence/);
    expect(message).not.toContain(secret);
  });
});
