/**
 * Token buckets by key (a source address, a subscription) in this process's
 * memory, bounded by `keysMax`. Oldest by first use, not last: keeping
 * recency order would cost a map delete and insert on every signal.
 *
 * When the map is full, a new key may take the place of one of the oldest
 * keys only if that key's bucket is full again (forgetting it changes
 * nothing). Otherwise the new key draws from one shared overflow bucket:
 * whoever brings more keys than the map holds cannot reset the buckets of
 * keys that are being limited, and gets one key's allowance between all
 * the keys past the bound. The limited keys a scan looked at go to the
 * back, so the next scan looks at others: a few keys kept drained at the
 * front cannot send every newcomer to the overflow bucket while idle keys
 * behind them could make room.
 */
import { TokenBucket } from '@sigplane/protocol';

/** Oldest keys looked at for one that may be forgotten, per new key. */
const evictionScanMax = 8;

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private overflow: TokenBucket | null = null;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly keysMax: number,
  ) {}

  take(key: string, nowMs: number, cost = 1): boolean {
    return this.bucketOf(key, nowMs).take(nowMs, cost);
  }

  /** Tokens `key` has at `nowMs` (a key never seen has a full bucket unless the map is full). */
  available(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) return bucket.available(nowMs);
    if (this.buckets.size < this.keysMax) return this.burst;
    return Math.min(this.burst, this.overflowBucket(nowMs).available(nowMs));
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucketOf(key: string, nowMs: number): TokenBucket {
    const known = this.buckets.get(key);
    if (known !== undefined) return known;
    if (this.buckets.size >= this.keysMax && !this.forgetOneFull(nowMs)) return this.overflowBucket(nowMs);
    const bucket = new TokenBucket(this.ratePerSecond, this.burst, nowMs);
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets one of the oldest keys whose bucket has refilled; false when none of them has. */
  private forgetOneFull(nowMs: number): boolean {
    const limited: [string, TokenBucket][] = [];
    let forgot = false;
    for (const [key, bucket] of this.buckets) {
      if (bucket.available(nowMs) >= this.burst) {
        this.buckets.delete(key);
        forgot = true;
        break;
      }
      limited.push([key, bucket]);
      if (limited.length >= evictionScanMax) break;
    }
    for (const [key, bucket] of limited) {
      this.buckets.delete(key);
      this.buckets.set(key, bucket);
    }
    return forgot;
  }

  private overflowBucket(nowMs: number): TokenBucket {
    this.overflow ??= new TokenBucket(this.ratePerSecond, this.burst, nowMs);
    return this.overflow;
  }
}
