/**
 * The cluster-wide limiter: GCRA in Redis (gcra-script.ts) through ioredis.
 * It never waits for Redis: while the client is not connected, or a call
 * fails or takes longer than `redisCommandTimeoutMs`, take() answers null and
 * the caller uses its in-memory fallback. Up/down transitions are reported
 * once each (a log line and the caller's metric), not per request.
 */
import Redis from 'ioredis';
import { rateLimits } from '@sigplane/protocol';
import { gcraScript } from './gcra-script';

export interface GcraDecision {
  allowed: boolean;
  retryAfterMs: number;
}

export interface RedisGcraOptions {
  url: string;
  /** Prepended to every key (one per deployment; tests use a unique one). */
  keyPrefix: string;
  onUpChange: (up: boolean, reason: string) => void;
}

type GcraCommand = (key: string, intervalUs: number, burst: number, cost: number) => Promise<[number, number]>;

/** The URL without its password: safe to log. */
export function redisDisplayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://(unparseable URL)';
  }
}

export class RedisGcra {
  private readonly redis: Redis;
  /** null until the first connect or failure: either is reported. */
  private upNow: boolean | null = null;
  private closed = false;

  constructor(private readonly options: RedisGcraOptions) {
    this.redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      // Fail at once while disconnected instead of queueing: the fallback answers meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: rateLimits.redisCommandTimeoutMs,
      connectTimeout: rateLimits.redisCommandTimeoutMs * 4,
      retryStrategy: (attempt) => Math.min(rateLimits.redisReconnectInitialMs * 2 ** Math.min(attempt, 16), rateLimits.redisReconnectMaxMs),
    });
    this.redis.defineCommand('sigplaneGcra', { numberOfKeys: 1, lua: gcraScript });
    this.redis.on('ready', () => this.setUp(true, 'connected'));
    this.redis.on('error', (error: Error) => this.setUp(false, error.message));
    this.redis.on('close', () => this.setUp(false, 'connection closed'));
  }

  get up(): boolean {
    return this.upNow === true;
  }

  /** The decision, or null when Redis did not give one (the caller falls back). */
  async take(key: string, ratePerSecond: number, burst: number, cost = 1): Promise<GcraDecision | null> {
    if (!this.upNow) return null;
    try {
      const command = (this.redis as unknown as { sigplaneGcra: GcraCommand }).sigplaneGcra;
      const [allowed, retryAfterUs] = await command.call(this.redis, key, 1e6 / ratePerSecond, burst, cost);
      return { allowed: allowed === 1, retryAfterMs: Math.ceil(retryAfterUs / 1000) };
    } catch (error) {
      // A timeout or a refused call on a live connection: this request falls back; the connection's own events say when it is down.
      if (this.redis.status !== 'ready') this.setUp(false, (error as Error).message);
      return null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.redis.disconnect(false);
  }

  private setUp(up: boolean, reason: string): void {
    if (this.closed || up === this.upNow) return;
    this.upNow = up;
    this.options.onUpChange(up, reason);
  }
}
