/**
 * The per-connection token bucket, on an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { subscriptionDefaults, TokenBucket } from '@sigplane/protocol';

const T0 = 1_767_225_600_000;

function drain(bucket: TokenBucket, nowMs: number): number {
  let taken = 0;
  while (bucket.take(nowMs)) taken++;
  return taken;
}

describe('TokenBucket', () => {
  it('starts full and refuses once empty', () => {
    const bucket = new TokenBucket(10, 5, T0);
    for (let i = 0; i < 5; i++) expect(bucket.take(T0)).toBe(true);
    expect(bucket.take(T0)).toBe(false);
    expect(bucket.take(T0)).toBe(false);
  });

  it('refills at the rate: exactly one token per 1/rate seconds', () => {
    const bucket = new TokenBucket(10, 5, T0);
    drain(bucket, T0);
    expect(bucket.take(T0 + 99)).toBe(false);
    expect(bucket.take(T0 + 100)).toBe(true);
    expect(bucket.take(T0 + 100)).toBe(false);
    expect(bucket.take(T0 + 199)).toBe(false);
    expect(bucket.take(T0 + 200)).toBe(true);
  });

  it('says in whole milliseconds when the next token comes, exactly (the SDK arms its held-ack timer with it)', () => {
    const bucket = new TokenBucket(10, 16, T0);
    expect(bucket.msUntil(T0)).toBe(0);
    drain(bucket, T0);
    expect(bucket.msUntil(T0)).toBe(100);
    // 70 ms later 0.7 of a token is there: 30 ms to go, not 31 ((1 - 0.7) * 100 in floats is 30.000000000000004).
    expect(bucket.msUntil(T0 + 70)).toBe(30);
    expect(bucket.take(T0 + 99)).toBe(false);
    expect(bucket.take(T0 + 100)).toBe(true);
    expect(bucket.msUntil(T0 + 100, 2)).toBe(200);
    // A rate that does not divide 1000: rounded up to a whole millisecond, never early.
    const third = new TokenBucket(3, 1, T0);
    expect(third.take(T0)).toBe(true);
    expect(third.msUntil(T0)).toBe(334);
    expect(third.take(T0 + 333)).toBe(false);
    expect(third.take(T0 + 334)).toBe(true);
  });

  it('never holds more than the burst, however long it idles', () => {
    const bucket = new TokenBucket(1000, 7, T0);
    drain(bucket, T0);
    expect(drain(bucket, T0 + 3_600_000)).toBe(7);
    expect(bucket.available(T0 + 3_600_000 * 24 * 365)).toBe(7);
  });

  it('sustains exactly the rate under constant pressure (no float drift)', () => {
    // the defaults: 2000/s, burst 4000; a request every 0.1 ms for 10 s
    const { rateLimitPerSecond: rate, rateLimitBurst: burst } = subscriptionDefaults;
    const bucket = new TokenBucket(rate, burst, T0);
    let accepted = 0;
    for (let i = 0; i <= 100_000; i++) if (bucket.take(T0 + i / 10)) accepted++;
    expect(accepted).toBe(burst + rate * 10);
  });

  it('integer-ms steps at a rate that does not divide 1000 still add up exactly', () => {
    const bucket = new TokenBucket(3, 5, T0);
    expect(drain(bucket, T0)).toBe(5);
    const acceptedAtMs: number[] = [];
    for (let t = 1; t <= 3000; t++) if (bucket.take(T0 + t)) acceptedAtMs.push(t);
    // one every 333.3 ms, the third of each second exactly on it
    expect(acceptedAtMs).toEqual([334, 667, 1000, 1334, 1667, 2000, 2334, 2667, 3000]);
  });

  it('a full bucket does not bank the refill beyond the burst', () => {
    const bucket = new TokenBucket(3, 1, T0);
    expect(bucket.take(T0)).toBe(true);
    expect(bucket.take(T0 + 334)).toBe(true); // 1.002 tokens were due, capped at 1 before the take
    expect(bucket.take(T0 + 667)).toBe(false); // 0.999: the 0.002 was not banked
    expect(bucket.take(T0 + 668)).toBe(true);
  });

  it('takes n at once only when n are there, and takes nothing otherwise', () => {
    const bucket = new TokenBucket(10, 5, T0);
    expect(bucket.take(T0, 3)).toBe(true);
    expect(bucket.take(T0, 3)).toBe(false);
    expect(bucket.available(T0)).toBe(2);
    expect(bucket.take(T0, 2)).toBe(true);
    expect(bucket.take(T0 + 10_000, 6)).toBe(false); // more than the burst: never
    expect(bucket.available(T0 + 10_000)).toBe(5);
    expect(() => bucket.take(T0, 0)).toThrow(RangeError);
    expect(() => bucket.take(T0, 1.5)).toThrow(RangeError);
    expect(() => bucket.take(T0, -1)).toThrow(RangeError);
  });

  it('a clock that goes back refills nothing and does not rewind the bucket', () => {
    const bucket = new TokenBucket(10, 2, T0);
    drain(bucket, T0);
    expect(bucket.take(T0 - 60_000)).toBe(false);
    expect(bucket.take(T0 + 50)).toBe(false);
    // time is still measured from T0, not from the earlier reading
    expect(bucket.take(T0 + 100)).toBe(true);
  });

  it('ignores NaN and infinite clock readings', () => {
    const bucket = new TokenBucket(10, 2, T0);
    drain(bucket, T0);
    expect(bucket.take(NaN)).toBe(false);
    expect(bucket.take(Infinity)).toBe(false);
    expect(bucket.take(T0 + 100)).toBe(true); // still refilling from T0
  });

  it('refuses nonsensical settings', () => {
    expect(() => new TokenBucket(0, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(-1, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(NaN, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(Infinity, 10, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, 0.5, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, Infinity, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, 10, NaN)).toThrow(RangeError);
  });
});
