/**
 * The security events of the refusals a shard decides itself, all the
 * actors' (REPLAY, PRICE_DEVIATION, INVALID_FIELD, POSITION_UNKNOWN,
 * ISOLATED, DEGRADED_BUFFER_FULL, STALE, REPORT_NOT_DELIVERED). They are
 * journaled in the batch whose commit precedes the refusal frame, as the
 * I/O thread's are journaled in the batch that follows its refusal.
 *
 * The rule, as the I/O thread's for RATE_LIMITED: a storm may not fill the
 * disk, and no refusal goes uncounted. Each subscription records up to
 * securityEvents.shardRefusalsPerSecond (burst shardRefusalsBurst) one by
 * one; past that a refusal is counted by source address and code, and each
 * count becomes one summary event ("N more REPLAY refusals") at the next
 * summary (every summaryIntervalMs). The rows one by one plus the
 * summaries' counts are every refusal.
 *
 * A refusal names who was refused: the shard learns a master's source
 * address when it attaches (a receiver's comes with each report). A
 * connection's address is kept while it is attached and for a while after
 * (a held signal may be refused after its sender left).
 */
import type { ConnId } from '../actors/actor-types';
import { securityEvents as limits, type SecurityEvent, type SecurityEventCode, TokenBucket } from '@sigplane/protocol';

export interface Peer {
  role: 'master' | 'receiver';
  remoteAddress: string;
}

/** The refusal a shard sent: who, what, for which sequence (0: none). */
export interface ShardRefusal {
  subscriptionId: string;
  peer: Peer | undefined;
  code: SecurityEventCode;
  message: string;
  sequence: number;
}

export interface RefusalBudget {
  ratePerSecond: number;
  burst: number;
}

/** Detached connections whose address is still known (oldest forgotten first). */
const detachedPeersMax = 4096;
/** The address of a refusal whose connection is no longer known. */
const unknownAddress = '(unknown)';
/** The address of counts folded together past summaryKeysMax. */
const severalAddresses = '(several)';

interface Unrecorded {
  subscriptionId: string;
  role: Peer['role'] | null;
  remoteAddress: string;
  code: SecurityEventCode;
  count: number;
}

export class ShardSecurityEvents {
  private readonly attached = new Map<ConnId, Peer>();
  private readonly detached = new Map<ConnId, Peer>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly unrecorded = new Map<string, Unrecorded>();
  private lastSummaryAtMs = 0;

  constructor(private readonly budget: RefusalBudget = { ratePerSecond: limits.shardRefusalsPerSecond, burst: limits.shardRefusalsBurst }) {}

  attach(conn: ConnId, peer: Peer): void {
    this.attached.set(conn, peer);
  }

  detach(conn: ConnId): void {
    const peer = this.attached.get(conn);
    if (peer === undefined) return;
    this.attached.delete(conn);
    this.detached.set(conn, peer);
    if (this.detached.size > detachedPeersMax) this.detached.delete(this.detached.keys().next().value!);
  }

  peerOf(conn: ConnId): Peer | undefined {
    return this.attached.get(conn) ?? this.detached.get(conn);
  }

  /** The event to journal for this refusal now, or null: it is counted for the next summary. */
  onRefusal(refusal: ShardRefusal, nowMs: number): SecurityEvent | null {
    const { subscriptionId, peer, code } = refusal;
    let bucket = this.buckets.get(subscriptionId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.budget.ratePerSecond, this.budget.burst, nowMs);
      this.buckets.set(subscriptionId, bucket);
    }
    const role = peer?.role ?? null;
    const remoteAddress = peer?.remoteAddress ?? unknownAddress;
    if (bucket.take(nowMs)) {
      const detail = refusal.message.slice(0, limits.detailCharsMax);
      return { atMs: nowMs, code, subscriptionId, role, remoteAddress, sequence: refusal.sequence === 0 ? null : refusal.sequence, detail };
    }
    const full = `${subscriptionId}\u0000${code}\u0000${role}\u0000${remoteAddress}`;
    const fold = !this.unrecorded.has(full) && this.unrecorded.size >= limits.summaryKeysMax;
    const key = fold ? `${subscriptionId}\u0000${code}` : full;
    const counted = this.unrecorded.get(key);
    if (counted !== undefined) counted.count++;
    else if (fold) this.unrecorded.set(key, { subscriptionId, code, role: null, remoteAddress: severalAddresses, count: 1 });
    else this.unrecorded.set(key, { subscriptionId, code, role, remoteAddress, count: 1 });
    return null;
  }

  /** When summariesDue next has something to say (refusals not recorded one by one wait for it), or null. */
  nextSummaryAtMs(): number | null {
    return this.unrecorded.size === 0 ? null : this.lastSummaryAtMs + limits.summaryIntervalMs;
  }

  /** Every count since the last summary as one event each, once per summaryIntervalMs (empty in between). */
  summariesDue(nowMs: number): SecurityEvent[] {
    if (nowMs - this.lastSummaryAtMs < limits.summaryIntervalMs) return [];
    this.lastSummaryAtMs = nowMs;
    const events: SecurityEvent[] = [];
    for (const u of this.unrecorded.values()) {
      events.push({
        atMs: nowMs,
        code: u.code,
        subscriptionId: u.subscriptionId,
        role: u.role,
        remoteAddress: u.remoteAddress,
        sequence: null,
        detail: `${u.count} more ${u.code} refusal(s) not recorded one by one (over the subscription's budget)`,
      });
    }
    this.unrecorded.clear();
    // A full bucket is what a new one would be: forget it (the map stays as small as the subscriptions being refused).
    for (const [subscriptionId, bucket] of this.buckets) {
      if (bucket.available(nowMs) >= bucket.burst) this.buckets.delete(subscriptionId);
    }
    return events;
  }
}
