/**
 * The performance fee formula (persistence/pg/performance-fees.ts
 * performanceFee), pure: the worked example of docs/receivers.md, and
 * seeded random histories cut into periods at random, against invariants:
 *
 *   C_k = cumulative closed profit at the end of period k, M_0 = 0
 *   M_k = max(M_{k-1}, C_k) = max(0, C_1, ..., C_k)          (the mark)
 *   sum of gains = M_n                                        (each gain charged once)
 *   constant rate r: sum of fees = floor(r * M_n)             (exactly; no rounding drift)
 *   any rates: |fee_k - r_k * gain_k| < 1 minor unit
 *   a coarser cut of the same history never charges more (period ends are a subset),
 *   and no cut charges more than r * max(0, highest running cumulative)
 *   fee_k > 0 only when C_k > M_{k-1} (losses recovered first)
 *   the order of results inside a period changes neither fee nor mark
 */
import { describe, expect, it } from 'vitest';
import { formatMinor, parsePeriod, performanceFee } from '../persistence/pg/performance-fees';
import { Prng } from './support/prng';

interface Run {
  fees: bigint[];
  gains: bigint[];
  marks: bigint[];
  cumulatives: bigint[];
}

/** Run the formula over `periods` (each a list of results) with one rate per period. */
function runPeriods(periods: bigint[][], rates: number[]): Run {
  const run: Run = { fees: [], gains: [], marks: [], cumulatives: [] };
  let cumulative = 0n;
  let mark = 0n;
  periods.forEach((results, k) => {
    const out = performanceFee({ cumulativeBefore: cumulative, results, previousMark: mark, rateBp: rates[k] });
    expect(out.mark).toBeGreaterThanOrEqual(mark);
    expect(out.fee).toBeGreaterThanOrEqual(0n);
    run.fees.push(out.fee);
    run.gains.push(out.gain);
    run.marks.push(out.mark);
    run.cumulatives.push(out.cumulative);
    cumulative = out.cumulative;
    mark = out.mark;
  });
  return run;
}

const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);
const max0 = (xs: bigint[]): bigint => xs.reduce((a, b) => (b > a ? b : a), 0n);

/** Cut `results` into periods at the given sorted cut points. */
function cut(results: bigint[], cuts: number[]): bigint[][] {
  const periods: bigint[][] = [];
  let from = 0;
  for (const to of [...cuts, results.length]) {
    periods.push(results.slice(from, to));
    from = to;
  }
  return periods;
}

function randomHistory(random: Prng): bigint[] {
  const n = Math.floor(random.next() * 60);
  const drift = random.next() * 2 - 1; // some histories mostly lose, some mostly win
  return Array.from({ length: n }, () => BigInt(Math.round((random.next() * 2 - 1 + drift * 0.5) * 100_000)));
}

function randomCuts(random: Prng, length: number, count: number): number[] {
  const cuts = Array.from({ length: count }, () => Math.floor(random.next() * (length + 1)));
  return cuts.sort((a, b) => a - b);
}

describe('performanceFee: the worked example of docs/receivers.md', () => {
  it('20%: January charges 40.00, February and March nothing, April 10.00; total 20% of the final mark 250.00', () => {
    const usd = (x: number): bigint => BigInt(Math.round(x * 100));
    const months = [
      [usd(300), usd(-100)], // January: +200.00
      [usd(-250)], // February: -50.00 cumulative
      [usd(150), usd(80)], // March: a partial close +150.00 and the rest +80.00: 180.00
      [usd(70)], // April: 250.00
    ];
    const run = runPeriods(months, [2000, 2000, 2000, 2000]);
    expect(run.cumulatives.map((c) => formatMinor(c, 2))).toEqual(['200.00', '-50.00', '180.00', '250.00']);
    expect(run.marks.map((m) => formatMinor(m, 2))).toEqual(['200.00', '200.00', '200.00', '250.00']);
    expect(run.fees.map((f) => formatMinor(f, 2))).toEqual(['40.00', '0.00', '0.00', '10.00']);
    expect(sum(run.fees)).toBe(5000n);
  });
});

describe('performanceFee: properties over random histories', () => {
  it('the mark is the highest period-end cumulative (at least 0), gains add up to it, and at a constant rate the fees add up to floor(rate x mark)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const random = new Prng(seed);
      const results = randomHistory(random);
      const periods = cut(results, randomCuts(random, results.length, Math.floor(random.next() * 12)));
      const rateBp = random.next() < 0.1 ? 0 : Math.floor(random.next() * 5001);
      const run = runPeriods(periods, periods.map(() => rateBp));
      const finalMark = max0(run.cumulatives);
      expect(run.marks.at(-1) ?? 0n, `seed ${seed}`).toBe(finalMark);
      expect(sum(run.gains), `seed ${seed}`).toBe(finalMark);
      expect(sum(run.fees), `seed ${seed}`).toBe((BigInt(rateBp) * finalMark) / 10_000n);
      // Losses are recovered first: a fee only where the period ends above every earlier period end (and 0).
      run.fees.forEach((fee, k) => {
        const before = max0(run.cumulatives.slice(0, k));
        if (fee > 0n) expect(run.cumulatives[k], `seed ${seed} period ${k}`).toBeGreaterThan(before);
        expect(run.gains[k]).toBe(run.cumulatives[k] > before ? run.cumulatives[k] - before : 0n);
      });
    }
  });

  it('with a different rate every period each fee is the rate times the gain within one minor unit', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const random = new Prng(10_000 + seed);
      const results = randomHistory(random);
      const periods = cut(results, randomCuts(random, results.length, 1 + Math.floor(random.next() * 10)));
      const rates = periods.map(() => Math.floor(random.next() * 5001));
      const run = runPeriods(periods, rates);
      run.fees.forEach((fee, k) => {
        const exact = BigInt(rates[k]) * run.gains[k]; // fee x 10000, exactly
        const diff = fee * 10_000n - exact;
        expect(diff > -10_000n && diff < 10_000n, `seed ${seed} period ${k}: fee ${fee}, rate ${rates[k]}, gain ${run.gains[k]}`).toBe(true);
      });
    }
  });

  it('a coarser cut of the same history never charges more, and no cut charges more than rate x the highest running cumulative', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const random = new Prng(20_000 + seed);
      const results = randomHistory(random);
      const rateBp = Math.floor(random.next() * 5001);
      const fine = randomCuts(random, results.length, 1 + Math.floor(random.next() * 12));
      const coarse = fine.filter(() => random.next() < 0.5); // a subset of the period ends
      const fineFees = sum(runPeriods(cut(results, fine), fine.map(() => rateBp).concat(rateBp)).fees);
      const coarseFees = sum(runPeriods(cut(results, coarse), coarse.map(() => rateBp).concat(rateBp)).fees);
      expect(coarseFees, `seed ${seed}`).toBeLessThanOrEqual(fineFees);
      let running = 0n;
      const prefixes = results.map((r) => (running += r));
      expect(fineFees, `seed ${seed}`).toBeLessThanOrEqual((BigInt(rateBp) * max0(prefixes)) / 10_000n);
    }
  });

  it('the order of results inside a period changes neither the fee nor the mark', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = new Prng(30_000 + seed);
      const results = randomHistory(random);
      const shuffled = [...results].sort(() => random.next() - 0.5);
      const previousMark = BigInt(Math.floor(random.next() * 200_000));
      const cumulativeBefore = BigInt(Math.round((random.next() * 2 - 1) * 200_000));
      const a = performanceFee({ cumulativeBefore, results, previousMark, rateBp: 2000 });
      const b = performanceFee({ cumulativeBefore, results: shuffled, previousMark, rateBp: 2000 });
      expect([b.fee, b.mark, b.cumulative]).toEqual([a.fee, a.mark, a.cumulative]);
    }
  });
});

describe('performanceFee: input checks', () => {
  it('refuses rates outside 0..5000 bp and a negative mark', () => {
    for (const rateBp of [-1, 5001, 1.5, Number.NaN]) {
      expect(() => performanceFee({ cumulativeBefore: 0n, results: [], previousMark: 0n, rateBp })).toThrow(/basis points/);
    }
    expect(() => performanceFee({ cumulativeBefore: 0n, results: [], previousMark: -1n, rateBp: 0 })).toThrow(/negative/);
  });

  it('parses periods as UTC months', () => {
    expect(parsePeriod('2025-12')).toEqual({ label: '2025-12', startMs: Date.UTC(2025, 11, 1), endMs: Date.UTC(2026, 0, 1), date: '2025-12-01' });
    for (const bad of ['2025-00', '2025-13', '25-01', '2025-1', '1999-12', '2025-01-01', '']) expect(() => parsePeriod(bad)).toThrow(/YYYY-MM/);
  });

  it('formats minor units', () => {
    expect(formatMinor(-12345n, 2)).toBe('-123.45');
    expect(formatMinor(5n, 2)).toBe('0.05');
    expect(formatMinor(5n, 3)).toBe('0.005');
    expect(formatMinor(1851n, 0)).toBe('1851');
  });
});
