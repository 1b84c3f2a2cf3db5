/**
 * The tests' seeded generators (test/support/prng.ts) give, for a seed, the
 * exact outputs the copies they replaced gave (recorded from those copies
 * before they were merged): a seed printed by an older run still replays it.
 */
import { describe, expect, it } from 'vitest';
import { FuzzRandom } from './fuzz/fuzz-random';
import { RingStream } from './fixtures/ring-stream';
import { mix32, Prng, Xorshift128Plus, Xorshift32 } from './support/prng';

const take = (n: number, draw: () => number): number[] => Array.from({ length: n }, draw);

describe('Prng (mulberry32)', () => {
  const known: Array<[seed: number, u32: number[], int: number, pick: string, chance: boolean]> = [
    [0, [1144304738, 1416247, 958946056, 627933444, 2007157716, 2340967985], 263, 'b', true],
    [1, [2693262067, 11749833, 2265367787, 4213581821, 4159151403, 1207330352], 625, 'd', false],
    [7, [50271532, 266108690, 4195786334, 3002305430, 2239590375, 1741702388], 6, 'a', true],
    [42, [2581720956, 1925393290, 3661312704, 2876485805, 750819978, 2261697747], 599, 'd', false],
    [20261207, [595711210, 3596335481, 3650387067, 2860819474, 774473110, 3425031413], 134, 'a', true],
    [4294967295, [3850105811, 813802916, 3073704848, 4054706436, 3630262831, 2315588663], 896, 'e', false],
  ];
  it.each(known)('seed %i: the same outputs, and the draws made of them', (seed, u32, int, pick, chance) => {
    const random = new Prng(seed);
    expect(take(u32.length, () => random.u32())).toEqual(u32);
    const again = new Prng(seed);
    expect(take(u32.length, () => again.next() * 4294967296)).toEqual(u32);
    expect(new Prng(seed).int(-5, 1000)).toBe(int);
    expect(new Prng(seed).pick(['a', 'b', 'c', 'd', 'e'])).toBe(pick);
    expect(new Prng(seed).chance(0.5)).toBe(chance);
  });
});

describe('FuzzRandom (xoshiro128**)', () => {
  const known: Array<[seed: number, u32: number[], then: { int: number; pick: string; weighted: number; length: number; bytes: string; forked: number; chance: boolean }]> = [
    [0, [3809008728, 1133695204, 53579671, 2891528803, 139681546, 2203266335], { int: 886854, pick: 'a', weighted: 0, length: 16, bytes: '1f2d538344a63f', forked: 1456102836, chance: false }],
    [1, [2442144158, 3238099751, 3819917871, 2104621829, 2021136066, 4223536128], { int: 568605, pick: 'c', weighted: 3, length: 30, bytes: '000cbefb5ae1e3', forked: 1932209094, chance: false }],
    [2, [2098143281, 4211684960, 3213795221, 2529749520, 3164241786, 3453124249], { int: 488511, pick: 'c', weighted: 1, length: 47, bytes: '997ed2cd65e074', forked: 4047022243, chance: false }], // splitmix32 gives an even fourth word: `| 1` matters
    [42, [2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290], { int: 660615, pick: 'a', weighted: 0, length: 40, bytes: '2ae3be06b22066', forked: 3896497251, chance: true }],
    [3735928559, [2306529437, 2576298207, 1250671110, 2699168992, 2319502352, 3183738783], { int: 537029, pick: 'b', weighted: 1, length: 277, bytes: '9fffc3bd4747f1', forked: 2862238577, chance: false }],
  ];
  it.each(known)('seed %i: the same outputs, and each draw in turn from one stream', (seed, u32, then) => {
    const random = new FuzzRandom(seed);
    expect(take(u32.length, () => random.u32())).toEqual(u32);
    const stream = new FuzzRandom(seed);
    expect({
      int: stream.int(-3, 1e6),
      pick: stream.pick(['a', 'b', 'c']),
      weighted: stream.weighted([1, 5, 0, 2]),
      length: stream.length(4096),
      bytes: Buffer.from(stream.bytes(7)).toString('hex'),
      forked: stream.fork().u32(),
      chance: stream.chance(0.25),
    }).toEqual(then);
  });
});

describe('Xorshift32 and mix32 (the ring stream)', () => {
  const known: Array<[seed: number, u32: number[], intModulo: number[]]> = [
    [0, [1359758873, 3761132862, 2075758394, 25405621, 3862129951, 4186559031], [209, 192, 58, 185]],
    [11, [2045057648, 2412090245, 2333116095, 3810672860, 3423288640, 3754850993], [94, 98, 196, 144]],
    [12, [1483625924, 3355773263, 1287087865, 2909458285, 1684386030, 2642092946], [215, 223, 77, 106]],
    [22, [1687334200, 394461666, 2152742301, 2073564140, 1162890462, 3586063835], [250, 62, 149, 192]],
  ];
  it.each(known)('seed %i: the same outputs, then intModulo(1, 256)', (seed, u32, intModulo) => {
    const random = new Xorshift32(seed);
    expect(take(u32.length, () => random.u32())).toEqual(u32);
    expect(take(intModulo.length, () => random.intModulo(1, 256))).toEqual(intModulo);
  });

  it('mix32 and the records of the ring stream are the same', () => {
    expect([0, 1, 0x51ed27, 4294967295].map(mix32)).toEqual([0, 1753845952, 4034278984, 1734902346]);
    const stream = new RingStream(11, 9000);
    const records = [0, 1, 2, 63, 64].map((n) => {
      const record = stream.record(n);
      return [record.length, Buffer.from(record.subarray(0, 8)).toString('hex')];
    });
    expect(records).toEqual([
      [3393, 'e7c74a25bc3e75cb'],
      [106, '1135a810b4fc4dd7'],
      [3026, '1529f7d1dfbc6fae'],
      [15, '788a58c3906a1090'],
      [721, '311b44a7a4056fa1'],
    ]);
  });
});

describe('Xorshift128Plus', () => {
  it('the c-printf seed gives the same 64-bit outputs', () => {
    const random = new Xorshift128Plus(0x243f6a8885a308d3n, 0x13198a2e03707344n);
    expect(Array.from({ length: 5 }, () => random.u64().toString(16))).toEqual(['867d8b46f827f94a', 'eae032388a83e9cd', 'ffde457625e6bdc6', 'f936d358255e6eb9', '44d3b6f45890cfa7']);
  });
});
