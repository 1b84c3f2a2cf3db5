/**
 * Where a keyed limit is decided: in Redis, shared by every node, when
 * REDIS_URL is set and Redis answers; in this process's memory otherwise.
 * While a configured Redis is unreachable each node limits on its own with
 * limits `fallbackStrictnessFactor` times stricter (N nodes each admitting
 * the full limit would admit N times the global one), and says so: a warn
 * line and `sigplane_rate_limit_redis_up 0`.
 */
import { rateLimits } from '@sigplane/protocol';
import { KeyedBuckets } from './keyed-buckets';
import { RedisGcra, redisDisplayUrl } from './redis-gcra';

export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

export interface RateLimitBackendOptions {
  redisUrl?: string;
  /** Prefix of every Redis key (default `sigplane:rl:`). */
  redisKeyPrefix?: string;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  nowMs: () => number;
}

export type LimitSource = 'memory' | 'redis' | 'fallback';

export class RateLimitBackend {
  readonly redis: RedisGcra | null;
  private readonly memory = new Map<string, KeyedBuckets>();
  /** Decisions made by the stricter in-memory limiter while Redis was unreachable. */
  fallbackDecisions = 0;

  constructor(private readonly options: RateLimitBackendOptions) {
    const url = options.redisUrl;
    this.redis =
      url === undefined
        ? null
        : new RedisGcra({
            url,
            keyPrefix: options.redisKeyPrefix ?? 'sigplane:rl:',
            onUpChange: (up, reason) =>
              up
                ? options.log('info', 'rate limits: Redis reachable, limits are global across nodes', { redis: redisDisplayUrl(url) })
                : options.log('warn', 'rate limits: Redis unreachable, stricter per-node limits in force until it returns', {
                    redis: redisDisplayUrl(url),
                    reason,
                    strictnessFactor: rateLimits.fallbackStrictnessFactor,
                  }),
          });
  }

  /** Where decisions are made right now. */
  get source(): LimitSource {
    if (this.redis === null) return 'memory';
    return this.redis.up ? 'redis' : 'fallback';
  }

  /** Admit `cost` under `limit` for `key` of the limit called `name`. */
  async take(name: string, key: string, limit: RateLimit, cost = 1): Promise<boolean> {
    if (this.redis !== null) {
      const decision = await this.redis.take(`${name}:${key}`, limit.ratePerSecond, limit.burst, cost);
      if (decision !== null) return decision.allowed;
    }
    return this.takeInMemory(name, key, limit, cost);
  }

  /** The in-memory decision: the full limit without Redis, the stricter one while Redis is down. */
  takeInMemory(name: string, key: string, limit: RateLimit, cost = 1, nowMs = this.options.nowMs()): boolean {
    return this.inMemoryBuckets(name, limit).take(key, nowMs, cost);
  }

  /**
   * The buckets that decide `name` in memory now, for one decision: the full
   * limit without Redis, the stricter fallback (counted) while Redis is down.
   */
  inMemoryBuckets(name: string, limit: RateLimit): KeyedBuckets {
    if (this.redis === null) return this.buckets(name, limit);
    this.fallbackDecisions++;
    return this.buckets(`${name}:fallback`, strictLimit(limit));
  }

  async close(): Promise<void> {
    await this.redis?.close();
  }

  private buckets(name: string, limit: RateLimit): KeyedBuckets {
    // One limit per name, the first caller's: each name has one owner (upgrade-ip, subscription).
    let buckets = this.memory.get(name);
    if (buckets === undefined) {
      buckets = new KeyedBuckets(limit.ratePerSecond, limit.burst, rateLimits.inMemoryKeysMax);
      this.memory.set(name, buckets);
    }
    return buckets;
  }
}

/** The fallback: `fallbackStrictnessFactor` times stricter, never below one per second and a burst of one. */
export function strictLimit(limit: RateLimit): RateLimit {
  const factor = rateLimits.fallbackStrictnessFactor;
  return { ratePerSecond: Math.max(1, limit.ratePerSecond / factor), burst: Math.max(1, Math.floor(limit.burst / factor)) };
}
