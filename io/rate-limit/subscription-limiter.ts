/**
 * The per-subscription limit on master frames, decided synchronously on the
 * I/O thread (a signal never waits for Redis).
 *
 * - Without Redis: an in-memory bucket per subscription on this node.
 * - With Redis up: the node spends a local lease of signals taken from the
 *   subscription's global GCRA budget, and takes the next lease in the
 *   background when half is spent. A new subscription's first lease is
 *   granted at once and charged to Redis right after; so the whole cluster
 *   admits at most the global limit plus one lease per node.
 * - Redis configured but down: the stricter in-memory fallback.
 */
import { strictLimit, type RateLimit, type RateLimitBackend } from './rate-limit-backend';
import { rateLimits } from '@sigplane/protocol';

interface Lease {
  signals: number;
  refilling: boolean;
  /** A refused lease: no new one is asked for before this (ms). */
  retryAtMs: number;
}

export class SubscriptionRateLimiter {
  private readonly leases = new Map<string, Lease>();
  private readonly leaseSignals: number;

  constructor(
    private readonly backend: RateLimitBackend,
    readonly limit: RateLimit,
    leaseSignals: number = rateLimits.subscriptionLeaseSignals,
  ) {
    this.leaseSignals = Math.max(1, Math.min(leaseSignals, Math.floor(limit.burst)));
  }

  /** The limit deciding now: the configured one, or the stricter fallback while a configured Redis is down. */
  limitNow(): RateLimit {
    return this.backend.source === 'fallback' ? strictLimit(this.limit) : this.limit;
  }

  take(subscriptionId: string, nowMs: number): boolean {
    if (this.backend.source !== 'redis') {
      if (this.leases.size > 0) this.leases.clear(); // leases are Redis budget: not spent while Redis is not deciding
      return this.backend.inMemoryBuckets('subscription', this.limit).take(subscriptionId, nowMs);
    }
    let lease = this.leases.get(subscriptionId);
    if (lease === undefined) {
      if (this.leases.size >= rateLimits.inMemoryKeysMax) this.leases.delete(this.leases.keys().next().value!);
      lease = { signals: this.leaseSignals, refilling: false, retryAtMs: 0 };
      this.leases.set(subscriptionId, lease);
      this.refill(subscriptionId, lease, nowMs, true);
    }
    if (lease.signals > 0) {
      lease.signals--;
      if (lease.signals * 2 < this.leaseSignals) this.refill(subscriptionId, lease, nowMs, false);
      return true;
    }
    this.refill(subscriptionId, lease, nowMs, false);
    return false;
  }

  /** Take a lease from the global budget; `charge` only accounts for one already granted. */
  private refill(subscriptionId: string, lease: Lease, nowMs: number, charge: boolean): void {
    if (lease.refilling || (!charge && nowMs < lease.retryAtMs)) return;
    lease.refilling = true;
    void this.backend.redis!.take(`subscription:${subscriptionId}`, this.limit.ratePerSecond, this.limit.burst, this.leaseSignals).then((decision) => {
      lease.refilling = false;
      if (decision === null) return; // Redis went away: the fallback decides from now on
      if (decision.allowed) {
        if (!charge) lease.signals += this.leaseSignals;
        return;
      }
      lease.retryAtMs = nowMs + decision.retryAfterMs;
      // The optimistic first lease was not in the budget: take back what is left of it.
      if (charge) lease.signals = 0;
    });
  }
}
