/**
 * formatFixed / formatFixedExact against glibc's printf("%.Nf").
 *
 * test/fixtures/printf-5f.json holds 24,000 float64 bit patterns and what
 * glibc 2.36 (Debian 12, gcc 12.2.0, x86-64, default rounding mode) printed
 * for each with printf("%.*f", 5, x). It was made at dev time, not in CI:
 *   - a Node script drew the inputs from splitmix64 seeded 0x5167706c616e65:
 *     fixed specials (+-0, +-inf, NaNs of both signs, min subnormal, min
 *     normal, max double, 1e21 and its neighbours, 2^53 +- 1, the seed's
 *     vector prices), then a mix of: 25% exact ties at 5 decimals (odd k / 64
 *     with k up to 2^52, either sign), 8% the doubles adjacent to ties, 3%
 *     other small-denominator dyadics, 22% decimal literals of 0..8 places
 *     (many with a 6th decimal of 5), 22% log-uniform magnitudes
 *     1e-12..1e22, 15% random mantissas with exponents 2^-60..2^80, 3%
 *     subnormals, 2% arbitrary 64-bit patterns (huge values, NaN payloads);
 *     about 35% negated;
 *   - a 15-line C program read "<decimals> <16 hex digits>" lines, memcpy'd
 *     the bits into a double and wrote printf("%.*f\n", decimals, x);
 *   - the same script zipped inputs and outputs into the JSON.
 * Neither program is committed. The OTHER_PRECISIONS table below came from
 * the same C program.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDecimalsMax, formatFixed, formatFixedExact } from '@sigplane/protocol';
import { Xorshift128Plus } from './support/prng';

const bitsToDouble = (bits: bigint): number => new Float64Array(new BigUint64Array([bits]).buffer)[0];
const doubleToBits = (x: number): bigint => new BigUint64Array(new Float64Array([x]).buffer)[0];
const nextUp = (x: number): number => bitsToDouble(doubleToBits(x) + 1n); // positive finite x
const nextDown = (x: number): number => bitsToDouble(doubleToBits(x) - 1n);

const both = [
  ['formatFixed', formatFixed],
  ['formatFixedExact', formatFixedExact],
] as const;

describe.each(both)('%s', (_name, format) => {
  it('rounds exact ties to even (toFixed would round them up)', () => {
    expect((0.015625).toFixed(5)).toBe('0.01563'); // the trap this module exists for
    expect(format(0.015625, 5)).toBe('0.01562'); // 1/64: 1562.5 -> even 1562
    expect(format(0.046875, 5)).toBe('0.04688'); // 3/64: 4687.5 -> even 4688
    expect(format(-0.015625, 5)).toBe('-0.01562');
    expect(format(-0.046875, 5)).toBe('-0.04688');
    expect(format(1.015625, 5)).toBe('1.01562');
    expect(format(0.5, 0)).toBe('0');
    expect(format(1.5, 0)).toBe('2');
    expect(format(2.5, 0)).toBe('2');
    expect(format(-0.5, 0)).toBe('-0');
    expect(format(-2.5, 0)).toBe('-2');
    expect(format(0.125, 2)).toBe('0.12');
    expect(format(0.375, 2)).toBe('0.38');
  });

  it('decides near-ties by the exact binary value', () => {
    // 0.000005 is 5.00000000000000040902e-06: above the tie, rounds up.
    expect(format(0.000005, 5)).toBe('0.00001');
    // 2.5e-6 is below 0.000005 altogether.
    expect(format(2.5e-6, 5)).toBe('0.00000');
    // 4.9999999999999996e-6 is the double just below 0.000005's double.
    expect(format(4.9999999999999996e-6, 5)).toBe('0.00000');
    // 1.005 is 1.00499999999999989342, 2.675 is 2.67499999999999982236.
    expect(format(1.005, 2)).toBe('1.00');
    expect(format(2.675, 2)).toBe('2.67');
    // the neighbours of an exact tie are not ties
    expect(format(nextUp(0.015625), 5)).toBe('0.01563');
    expect(format(nextDown(0.015625), 5)).toBe('0.01562');
    expect(format(nextDown(0.046875), 5)).toBe('0.04687');
    expect(format(-nextUp(0.015625), 5)).toBe('-0.01563');
  });

  it('keeps the sign of -0 and of negatives that round to zero', () => {
    expect(format(-0, 5)).toBe('-0.00000');
    expect(format(0, 5)).toBe('0.00000');
    expect(format(-0, 0)).toBe('-0');
    expect(format(-1e-10, 5)).toBe('-0.00000');
    expect(format(-5e-324, 5)).toBe('-0.00000');
  });

  it('prints large values in full', () => {
    expect(format(1e21, 5)).toBe('1000000000000000000000.00000');
    expect(format(-1e21, 2)).toBe('-1000000000000000000000.00');
    expect(format(1e22, 1)).toBe('10000000000000000000000.0');
    expect(format(nextDown(1e21), 5)).toBe('999999999999999868928.00000');
    expect(format(2 ** 53 + 2, 0)).toBe('9007199254740994');
    // glibc's output for 1e300 (the double is 1.0000000000000000525e300)
    expect(format(1e300, 5)).toBe(
      '1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.00000',
    );
    expect(format(Number.MAX_VALUE, 0)).toHaveLength(309);
  });

  it('prints subnormals exactly', () => {
    expect(format(5e-324, 5)).toBe('0.00000');
    expect(format(5e-324, 100)).toBe('0.' + '0'.repeat(100));
    // 2^-1074 = 4.9406564584124654...e-324 has 751 significant decimals; at
    // 100 places it is zero, and 2^-100 shows all of its 70 digits.
    expect(format(-(2 ** -100), 100)).toBe(
      '-0.0000000000000000000000000000007888609052210118054117285652827862296732064351090230047702789306640625',
    );
  });

  it('prints NaN and infinities as glibc does', () => {
    const positiveNaN = bitsToDouble(0x7ff8000000000000n);
    const negativeNaN = bitsToDouble(0xfff8000000000000n);
    expect(Number.isNaN(negativeNaN)).toBe(true);
    expect(format(positiveNaN, 5)).toBe('nan');
    expect(format(negativeNaN, 5)).toBe('-nan');
    expect(format(bitsToDouble(0x7ff0000000000001n), 5)).toBe('nan'); // signalling payload
    expect(format(Infinity, 5)).toBe('inf');
    expect(format(-Infinity, 5)).toBe('-inf');
    expect(format(Infinity, 0)).toBe('inf');
  });

  it('refuses a precision outside 0..100', () => {
    expect(() => format(1, -1)).toThrow(RangeError);
    expect(() => format(1, 101)).toThrow(RangeError);
    expect(() => format(1, 2.5)).toThrow(RangeError);
    expect(() => format(1, NaN)).toThrow(RangeError);
    expect(format(1, formatDecimalsMax)).toBe('1.' + '0'.repeat(100));
  });
});

/** [decimals, float64 bits, glibc printf("%.*f")] */
const OTHER_PRECISIONS: readonly (readonly [number, bigint, string])[] = [
  [0, 0x3fe0000000000000n, '0'],
  [0, 0xbfe0000000000000n, '-0'],
  [0, 0x3ff8000000000000n, '2'],
  [0, 0x4004000000000000n, '2'],
  [0, 0xc004000000000000n, '-2'],
  [0, 0x400c000000000000n, '4'],
  [0, 0x444b1ae4d6e2ef50n, '1000000000000000000000'],
  [0, 0x3fdfffffffffffffn, '0'],
  [1, 0x3fd0000000000000n, '0.2'],
  [1, 0x3fd6666666666666n, '0.3'],
  [1, 0xbfd0000000000000n, '-0.2'],
  [1, 0x3fa999999999999an, '0.1'],
  [2, 0x3fc0000000000000n, '0.12'],
  [2, 0x3fd8000000000000n, '0.38'],
  [2, 0xbfc0000000000000n, '-0.12'],
  [2, 0x3ff0147ae147ae14n, '1.00'],
  [2, 0x4005666666666666n, '2.67'],
  [3, 0x3ff0020c49ba5e35n, '1.000'],
  [3, 0x3fb0000000000000n, '0.062'],
  [8, 0x3fd5555555555555n, '0.33333333'],
  [8, 0x3f60000000000000n, '0.00195312'],
  [8, 0x3f78000000000000n, '0.00585938'],
  [17, 0x3fb999999999999an, '0.10000000000000001'],
  [20, 0x3fb999999999999an, '0.10000000000000000555'],
  [20, 0x0000000000000001n, '0.00000000000000000000'],
  [30, 0x3ddb7cdfd9d7bdbbn, '0.000000000100000000000000003643'],
  [0, 0x4340000000000001n, '9007199254740994'],
  [1, 0x4480f0cf064dd592n, '10000000000000000000000.0'],
  [2, 0xc44b1ae4d6e2ef50n, '-1000000000000000000000.00'],
  [100, 0x3fb999999999999an, '0.1000000000000000055511151231257827021181583404541015625000000000000000000000000000000000000000000000'],
  [100, 0x0000000000000001n, '0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000'],
  [100, 0xb9b0000000000000n, '-0.0000000000000000000000000000007888609052210118054117285652827862296732064351090230047702789306640625'],
  [3, 0x8000000000000000n, '-0.000'],
  [0, 0x8000000000000000n, '-0'],
  [10, 0x400921fb54442d18n, '3.1415926536'],
  [6, 0x3ea0c6f7a0b5ed8dn, '0.000000'],
  [6, 0x3f98000000000000n, '0.023438'],
];

describe('against glibc printf', () => {
  it('matches printf at other precisions', () => {
    for (const [decimals, bits, expected] of OTHER_PRECISIONS) {
      const x = bitsToDouble(bits);
      expect([bits.toString(16), formatFixed(x, decimals)]).toEqual([bits.toString(16), expected]);
      expect([bits.toString(16), formatFixedExact(x, decimals)]).toEqual([bits.toString(16), expected]);
    }
  });

  it('matches every one of the 24,000 %.5f outputs in the fixture', () => {
    const fixturePath = path.resolve(__dirname, 'fixtures/printf-5f.json');
    const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
      format: string;
      count: number;
      cases: [string, string][];
    };
    expect(fixture.format).toBe('%.5f');
    expect(fixture.cases.length).toBe(fixture.count);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(20_000);
    let ties = 0;
    const mismatches: string[] = [];
    for (const [hex, expected] of fixture.cases) {
      expect(hex).toMatch(/^[0-9a-f]{16}$/);
      const x = bitsToDouble(BigInt('0x' + hex));
      if ((Math.abs(x) * 64) % 2 === 1) ties++;
      const fast = formatFixed(x, 5);
      const exact = formatFixedExact(x, 5);
      if (fast !== expected || exact !== expected) mismatches.push(`${hex}: printf ${expected} fast ${fast} exact ${exact}`);
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // the fixture really exercises the tie path
    expect(ties).toBeGreaterThan(5000);
  });
});

describe('fast path against the exact path', () => {
  // xorshift128+ with a fixed seed: reproducible.
  const random = new Xorshift128Plus(0x243f6a8885a308d3n, 0x13198a2e03707344n);

  it('agrees on 200,000 random doubles across precisions 0..20', () => {
    const mismatches: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const r = random.u64();
      let x: number;
      switch (i % 4) {
        case 0: // any finite-or-not bit pattern with exponent near the fast-path range
          x = bitsToDouble((r & 0x800fffffffffffffn) | (BigInt(1023 - 80 + Number(r >> 56n) % 150) << 52n));
          break;
        case 1: // exact ties at some precision: odd m / 2^(d+1)
          x = (Number(r & 0xffffffffn) * 2 + 1) / 2 ** (1 + Number(r >> 59n) % 21);
          break;
        case 2: // neighbours of those ties
          x = nextUp((Number(r & 0xffffffn) * 2 + 1) / 2 ** (1 + Number(r >> 59n) % 21));
          break;
        default: // arbitrary bits
          x = bitsToDouble(r);
      }
      if (r & 1n) x = -x;
      const decimals = Number((r >> 40n) % 21n);
      const fast = formatFixed(x, decimals);
      const exact = formatFixedExact(x, decimals);
      if (fast !== exact) mismatches.push(`${doubleToBits(x).toString(16)} %.${decimals}f fast ${fast} exact ${exact}`);
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
  });
});
