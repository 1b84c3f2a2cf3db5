/**
 * The tests' seeded generators, in one place: a randomized test prints its
 * seed, and the same seed replays the same run. Each algorithm is kept bit
 * for bit as the tests first had it (test/support-prng.test.ts pins their
 * outputs), so a seed printed in an old log still replays:
 *
 * - Prng (mulberry32): the general one.
 * - Xoshiro128 (xoshiro128**, seeded by splitmix32): 128 bits of state, for
 *   the fuzzers (test/fuzz/fuzz-random.ts adds their draws).
 * - Xorshift32 (seeded through mix32): the ring stream's, one per record.
 * - Xorshift128Plus (64-bit, bigint): raw 64-bit patterns (doubles' bits).
 *
 * The first three share the draws below, derived from u32() alone.
 */

export abstract class SeededRandom {
  /** A uniform 32-bit unsigned integer. */
  abstract u32(): number;

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [min, max] (both inclusive; max - min < 2^32). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }
}

/** mulberry32: 32 bits of state, fast, good enough for a test's choices. */
export class Prng extends SeededRandom {
  private state: number;

  constructor(seed: number) {
    super();
    this.state = seed >>> 0;
  }

  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

/** xoshiro128**: 128 bits of state; splitmix32 spreads one 32-bit seed over the four words (never all zero). */
export class Xoshiro128 extends SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    super();
    let s = seed >>> 0;
    const splitmix32 = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix32();
    this.b = splitmix32();
    this.c = splitmix32();
    this.d = splitmix32() | 1;
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A 32-bit integer hash (lowbias32): spreads a seed (or a seed and a sequence) over all bits. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** xorshift32, its seed hashed by mix32: the cheapest, for a generator per record. */
export class Xorshift32 extends SeededRandom {
  private state: number;

  constructor(seed: number) {
    super();
    this.state = mix32(seed) || 0x9e3779b9;
  }

  u32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x >>> 0;
  }

  /** An integer in [min, max] (inclusive) as u32() modulo the span: the ring stream's draw (not int()'s). */
  intModulo(min: number, max: number): number {
    return min + (this.u32() % (max - min + 1));
  }
}

/** xorshift128+: 64-bit outputs as bigints, from two 64-bit seed words. */
export class Xorshift128Plus {
  private static readonly mask = (1n << 64n) - 1n;

  constructor(
    private s0: bigint,
    private s1: bigint,
  ) {}

  u64(): bigint {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x = (x ^ (x << 23n)) & Xorshift128Plus.mask;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (this.s1 + y) & Xorshift128Plus.mask;
  }
}
