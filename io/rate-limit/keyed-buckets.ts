/**
 * Token buckets by key (a source address, a subscription) in this process's
 * memory, bounded: past `keysMax` the oldest key is forgotten (it starts
 * again with a full bucket, which errs on admitting, never on growing
 * without bound). Oldest by first use, not last: keeping recency order
 * would cost a map delete and insert on every signal.
 */
import { TokenBucket } from '../../engine/token-bucket';

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly keysMax: number,
  ) {}

  take(key: string, nowMs: number, cost = 1): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, nowMs);
      if (this.buckets.size >= this.keysMax) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(key, bucket);
    }
    return bucket.take(nowMs, cost);
  }

  /** Tokens `key` has at `nowMs` (a key never seen has a full bucket). */
  available(key: string, nowMs: number): number {
    return this.buckets.get(key)?.available(nowMs) ?? this.burst;
  }

  get size(): number {
    return this.buckets.size;
  }
}
