/**
 * io/rate-limit/keyed-buckets.ts at its bound: a key being limited is
 * never forgotten to make room, so a flood of new keys cannot hand a
 * limited address a fresh bucket; new keys past the bound share one.
 */
import { describe, expect, it } from 'vitest';
import { KeyedBuckets } from '../io/rate-limit/keyed-buckets';

const drain = (b: KeyedBuckets, key: string, nowMs: number): number => {
  let taken = 0;
  while (b.take(key, nowMs)) taken++;
  return taken;
};

describe('KeyedBuckets', () => {
  it('limits each key on its own below the bound', () => {
    const b = new KeyedBuckets(1, 3, 10);
    expect(drain(b, 'a', 0)).toBe(3);
    expect(drain(b, 'b', 0)).toBe(3);
    expect(b.take('a', 500)).toBe(false);
    expect(b.take('a', 1_000)).toBe(true); // 1 token a second
    expect(b.size).toBe(2);
  });

  it('never forgets a key that is being limited: many new keys do not reset it', () => {
    const b = new KeyedBuckets(1, 3, 4);
    expect(drain(b, 'limited', 0)).toBe(3);
    // An attacker brings 1,000 new addresses at the same instant.
    for (let i = 0; i < 1_000; i++) b.take(`new-${i}`, 0);
    expect(b.size).toBe(4);
    expect(b.take('limited', 0)).toBe(false);
    expect(b.available('limited', 0)).toBe(0);
  });

  it('new keys past the bound share one overflow bucket', () => {
    const b = new KeyedBuckets(1, 5, 2);
    drain(b, 'a', 0);
    drain(b, 'b', 0);
    // The map is full of limited keys: every newcomer draws from the same 5 tokens.
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (b.take(`x-${i}`, 0)) admitted++;
    expect(admitted).toBe(5);
    expect(b.available('y', 0)).toBe(0);
  });

  it('forgets an old key whose bucket has refilled to make room', () => {
    const b = new KeyedBuckets(1, 2, 2);
    drain(b, 'old', 0);
    drain(b, 'other', 0);
    // 2 s later 'old' and 'other' are full again: forgetting one changes nothing.
    expect(b.take('fresh', 2_000)).toBe(true);
    expect(b.take('fresh', 2_000)).toBe(true);
    expect(b.take('fresh', 2_000)).toBe(false); // its own bucket, not the overflow's
    expect(b.size).toBe(2);
    expect(b.available('new-one', 2_000)).toBe(2);
  });

  it('keys kept drained at the front of the map do not send every newcomer to the overflow bucket', () => {
    const b = new KeyedBuckets(1, 2, 100);
    // An attacker's first 8 addresses, kept drained; 92 other addresses, idle since.
    for (let i = 0; i < 8; i++) drain(b, `attacker-${i}`, 0);
    for (let i = 0; i < 92; i++) b.take(`idle-${i}`, 0);
    const keepDrained = (nowMs: number): void => {
      for (let i = 0; i < 8; i++) drain(b, `attacker-${i}`, nowMs);
    };
    keepDrained(10_000);
    // 10 s on the idle keys are full again: newcomers get buckets of their own (2 tokens each), not the shared one.
    let ownBuckets = 0;
    for (let i = 0; i < 20; i++) {
      keepDrained(10_000);
      if (drain(b, `newcomer-${i}`, 10_000) === 2) ownBuckets++;
    }
    expect(ownBuckets).toBeGreaterThanOrEqual(19);
    expect(b.size).toBe(100);
    // ... and the attacker's keys are still limited.
    for (let i = 0; i < 8; i++) expect(b.available(`attacker-${i}`, 10_000)).toBe(0);
  });
});
