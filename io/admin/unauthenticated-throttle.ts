/**
 * Requests the admin API refuses before anyone authenticated (401, and 413
 * before the body is read) each cost an audit_log row, and a 401 a
 * credential lookup; anyone who reaches the admin port can send them. Per
 * source address they draw on a token bucket (proto/limits.ts admin
 * unauthenticatedRefusals*). While an address's bucket is empty its requests
 * are answered 429 RATE_LIMITED with Retry-After, without a row of their
 * own; the next refusal row written for the address says how many were
 * answered so (metadata.suppressedBefore), so the trail stays complete in
 * count while its size stays bounded. A request bearing a well-formed admin
 * token (prefix and checksum right) is still looked up, so that whoever
 * shares the address cannot lock a valid admin out; if the lookup fails it
 * is answered 429 like the rest. The bucket is checked again when a refusal
 * is about to be written, so requests in flight together cannot write more
 * rows than it holds.
 */
import { admin } from '@sigplane/protocol';
import { KeyedBuckets } from '../rate-limit/keyed-buckets';

export class UnauthenticatedThrottle {
  private readonly buckets = new KeyedBuckets(
    admin.unauthenticatedRefusalsPerMinute / 60,
    admin.unauthenticatedRefusalsBurst,
    admin.unauthenticatedAddressesMax,
  );
  /** Requests answered 429 without a row, by address, since its last row. */
  private readonly suppressed = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Seconds a client waits before its bucket holds a token again. */
  readonly retryAfterSeconds = Math.ceil(60 / admin.unauthenticatedRefusalsPerMinute);

  /** True when `address` used its refusals up. */
  throttled(address: string): boolean {
    return this.buckets.available(address, this.clock()) < 1;
  }

  /** A request of a throttled `address` answered 429 without a row: counted for the next row. */
  suppress(address: string): void {
    if (this.suppressed.size >= admin.unauthenticatedAddressesMax && !this.suppressed.has(address)) {
      this.suppressed.delete(this.suppressed.keys().next().value!);
    }
    this.suppressed.set(address, (this.suppressed.get(address) ?? 0) + 1);
  }

  /**
   * A refusal before authentication from `address` is about to be audited:
   * takes a token, and returns how many requests of the address went
   * unaudited before it (0 mostly).
   */
  refused(address: string): number {
    this.buckets.take(address, this.clock());
    const before = this.suppressed.get(address) ?? 0;
    this.suppressed.delete(address);
    return before;
  }
}
