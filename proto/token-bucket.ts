/**
 * Per-connection token bucket (the seed's Layer 5 `RateLimiter`), with an
 * injected clock: no Date.now() here, so tests and simulations replay it
 * exactly.
 *
 * - Starts full (`burst` tokens), like the seed's bucket.
 * - Refills at `ratePerSecond`, never above `burst`.
 * - `take` refuses (and takes nothing) when fewer than `n` tokens remain.
 * - A clock that goes backwards refills nothing and does not move the
 *   bucket's time back; a non-finite clock reading is ignored.
 *
 * Tokens are kept as token-milliseconds (tokens * 1000), so integer rates
 * and integer-ms clocks refill in exact integer steps: no float drift
 * refuses a request that is due (1 ms at 2000/s is exactly 2 tokens).
 */

const MS_PER_SECOND = 1000;

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** tokens * 1000 */
  private creditTokenMs: number;
  private readonly creditTokenMsMax: number;
  private lastRefillMs: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    if (!(ratePerSecond > 0 && ratePerSecond < Infinity)) throw new RangeError('ratePerSecond must be > 0 and finite');
    if (!(burst >= 1 && burst < Infinity)) throw new RangeError('burst must be >= 1 and finite');
    if (!Number.isFinite(nowMs)) throw new RangeError('nowMs must be finite');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.creditTokenMsMax = burst * MS_PER_SECOND;
    this.creditTokenMs = this.creditTokenMsMax;
    this.lastRefillMs = nowMs;
  }

  /** Takes `n` tokens (a positive integer) if they are there; false otherwise. */
  take(nowMs: number, n = 1): boolean {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('n must be a positive integer');
    this.refill(nowMs);
    const needed = n * MS_PER_SECOND;
    if (this.creditTokenMs < needed) return false;
    this.creditTokenMs -= needed;
    return true;
  }

  /** Tokens available at `nowMs` (fractional), after refilling. */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.creditTokenMs / MS_PER_SECOND;
  }

  /** Whole milliseconds from `nowMs` until `n` tokens are there (0: they are); exact for an integer rate. */
  msUntil(nowMs: number, n = 1): number {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('n must be a positive integer');
    this.refill(nowMs);
    const missing = n * MS_PER_SECOND - this.creditTokenMs;
    return missing <= 0 ? 0 : Math.ceil(missing / this.ratePerSecond);
  }

  private refill(nowMs: number): void {
    const elapsedMs = nowMs - this.lastRefillMs;
    if (!(elapsedMs > 0 && elapsedMs < Infinity)) return; // same instant, clock went back, NaN or infinite
    this.lastRefillMs = nowMs;
    const credit = this.creditTokenMs + elapsedMs * this.ratePerSecond;
    this.creditTokenMs = credit < this.creditTokenMsMax ? credit : this.creditTokenMsMax;
  }
}
