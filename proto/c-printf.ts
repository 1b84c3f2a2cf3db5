/**
 * `%.Nf` exactly as glibc's printf writes it.
 *
 * v1 signatures cover volume and price formatted by the master with `%.5f`,
 * so the server must produce the same bytes. glibc prints the exact binary
 * value of the double, correctly rounded to N decimals, ties to even (in the
 * default rounding mode). JavaScript's `toFixed` also starts from the exact
 * value but breaks ties away from zero, so `(0.015625).toFixed(5)` is
 * "0.01563" where printf writes "0.01562".
 *
 * Two implementations:
 *
 * - `formatFixedExact`: the reference. Decodes the float64 bits into
 *   mantissa M and exponent E (|x| = M * 2^E exactly) and rounds
 *   M * 2^E * 10^N to an integer with BigInt arithmetic, ties to even.
 *
 * - `formatFixed`: the fast path, `toFixed` plus a fix for exact ties, used
 *   for finite |x| < 1e21 (beyond that `toFixed` switches to exponent
 *   notation, so the exact path is used). Why it is identical:
 *
 *   1. ECMA-262 (Number.prototype.toFixed) defines the result from the exact
 *      mathematical value x: "let n be an integer for which n / 10^f - x is as
 *      close to zero as possible; if there are two such n, pick the larger n",
 *      after taking the sign off (x < 0 gives "-" and works on -x). So
 *      whenever |x| * 10^N is not exactly halfway between two integers, the
 *      nearest n is unique and `toFixed` equals printf, sign included (a
 *      negative value that rounds to zero is "-0.00000" in both). V8
 *      implements this exactly (double-conversion's FastFixedDtoa with a
 *      bignum fallback). The 20,000-value glibc fixture and the randomized
 *      comparison with `formatFixedExact` in test/c-printf.test.ts check it.
 *   2. Exact ties: |x| * 10^N = a + 1/2 for an integer a. A double is m / 2^k
 *      with m odd (k >= 0 for a non-integer), so m * 2^(N+1) * 5^N =
 *      (2a + 1) * 2^k, and comparing powers of two gives k = N + 1. Conversely
 *      every m / 2^(N+1) with m odd is a tie. So: x is a tie iff
 *      |x| * 2^(N+1) is an odd integer. Multiplying by a power of two is exact
 *      in binary floating point (no overflow here: |x| < 1e21 and N <= 100),
 *      and `t % 2 === 1` holds for a positive double t iff t is an odd
 *      integer (fmod is exact; doubles >= 2^53 are even).
 *   3. On a tie, `toFixed` picked a + 1 (the larger magnitude). printf picks
 *      the even one of a and a + 1. If a + 1 is even, the strings agree. If it
 *      is odd, its last decimal digit is odd (1, 3, 5, 7 or 9), and a is the
 *      same string with that digit minus one: no borrow ever propagates.
 *   4. -0 is "-0.00000" for printf (sign bit) but "0.00000" for `toFixed`
 *      (-0 < 0 is false): handled before anything else.
 *
 * NaN prints "nan" or "-nan" by its sign bit and infinities "inf"/"-inf", as
 * glibc does. Note that JavaScript NaNs do carry a sign bit
 * (`Math.sqrt(-1)` is a negative NaN on x86-64).
 */

/** Largest precision accepted (the same bound as `toFixed`). */
export const formatDecimalsMax = 100;

const scratch = new DataView(new ArrayBuffer(8));

const POW10: bigint[] = [];
const POW2_TIE: number[] = [];
for (let n = 0; n <= formatDecimalsMax; n++) {
  POW10.push(10n ** BigInt(n));
  POW2_TIE.push(2 ** (n + 1));
}

const ZERO_FRACTIONS: string[] = [];
for (let n = 0; n <= formatDecimalsMax; n++) ZERO_FRACTIONS.push(n === 0 ? '0' : '0.' + '0'.repeat(n));

function assertDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > formatDecimalsMax) {
    throw new RangeError(`decimals must be an integer in 0..${formatDecimalsMax}`);
  }
}

/**
 * printf("%.<decimals>f", value) as glibc writes it. `decimals` is an
 * integer in 0..100; anything else throws RangeError.
 */
export function formatFixed(value: number, decimals: number): string {
  assertDecimals(decimals);
  const magnitude = Math.abs(value);
  // NaN fails this comparison and takes the exact path (it needs the sign bit).
  if (magnitude < 1e21) {
    if (value === 0) return Object.is(value, -0) ? '-' + ZERO_FRACTIONS[decimals] : ZERO_FRACTIONS[decimals];
    const text = value.toFixed(decimals);
    if ((magnitude * POW2_TIE[decimals]) % 2 !== 1) return text;
    // Exact tie: toFixed rounded away from zero; printf wants the even neighbour.
    const last = text.charCodeAt(text.length - 1);
    if ((last & 1) === 0) return text; // '0' is 0x30: the digit's parity is the code's parity
    return text.slice(0, -1) + String.fromCharCode(last - 1);
  }
  return formatFixedExact(value, decimals);
}

/**
 * The reference implementation: exact BigInt arithmetic from the float64
 * bits, for every double. Same contract as `formatFixed`, slower.
 */
export function formatFixedExact(value: number, decimals: number): string {
  assertDecimals(decimals);
  scratch.setFloat64(0, value);
  const hi = scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  const sign = hi >>> 31 === 1 ? '-' : '';
  const biasedExponent = (hi >>> 20) & 0x7ff;
  const mantissaHi = hi & 0xfffff;

  if (biasedExponent === 0x7ff) {
    return sign + (mantissaHi === 0 && lo === 0 ? 'inf' : 'nan');
  }

  // |value| = mantissa * 2^exponent exactly.
  let mantissa = (BigInt(mantissaHi) << 32n) | BigInt(lo);
  let exponent: number;
  if (biasedExponent === 0) {
    exponent = -1074; // subnormal (or zero)
  } else {
    mantissa |= 1n << 52n;
    exponent = biasedExponent - 1075;
  }

  // scaled = round_half_even(mantissa * 2^exponent * 10^decimals)
  let scaled: bigint;
  if (mantissa === 0n) {
    scaled = 0n;
  } else if (exponent >= 0) {
    scaled = (mantissa << BigInt(exponent)) * POW10[decimals];
  } else {
    const shift = BigInt(-exponent);
    const numerator = mantissa * POW10[decimals];
    scaled = numerator >> shift;
    const remainder = numerator - (scaled << shift);
    const half = 1n << (shift - 1n);
    if (remainder > half || (remainder === half && (scaled & 1n) === 1n)) scaled += 1n;
  }

  let digits = scaled.toString();
  if (decimals === 0) return sign + digits;
  if (digits.length <= decimals) digits = '0'.repeat(decimals + 1 - digits.length) + digits;
  const point = digits.length - decimals;
  return sign + digits.slice(0, point) + '.' + digits.slice(point);
}
