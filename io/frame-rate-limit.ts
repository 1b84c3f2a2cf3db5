/**
 * The rate limits on every frame a client sends, on the I/O thread: its
 * connection's token bucket and, for a master, its subscription's limit
 * (io/rate-limit/subscription-limiter.ts, cluster-wide through Redis).
 *
 * A frame over either is answered RATE_LIMITED; for a master's signal N,
 * "resend from N", and N and what follows are refused until N comes again
 * (io/master-connection.ts, "refused from N"). So that a flood cannot flood
 * the journal, a connection being limited yields one security event per
 * wire.rateLimitedEventIntervalMs, with the count. One that keeps sending
 * past wire.rateLimitedFramesPerSecondMax answers in one second is closed
 * (4029) and its token may not connect again for a while
 * (io/flood-cooldown.ts).
 */
import { encodeReject, RejectCode, wire, type SecurityEvent } from '@sigplane/protocol';
import { CloseCode } from './close-codes';
import { closeSocket, type Socket } from './connections';
import type { FloodCooldown } from './flood-cooldown';
import { refuseFrom } from './master-connection';
import type { Metrics } from './metrics';
import type { SubscriptionRateLimiter } from './rate-limit/subscription-limiter';
import type { ServerLog } from './server-options';

export interface FrameRateLimitDeps {
  metrics: Metrics;
  subscriptionLimiter: SubscriptionRateLimiter;
  floodCooldown: FloodCooldown;
  sendTo: (ws: Socket, frame: Uint8Array) => void;
  recordSecurityEvent: (event: SecurityEvent) => void;
  log: ServerLog;
}

export class FrameRateLimit {
  /** A field of its own: read for every master frame. */
  private readonly subscriptionLimiter: SubscriptionRateLimiter;

  constructor(private readonly deps: FrameRateLimitDeps) {
    this.subscriptionLimiter = deps.subscriptionLimiter;
  }

  /** A token for one frame; false (answered RATE_LIMITED naming `sequence`, or closed for flooding) when there is none. */
  takeToken(ws: Socket, nowMs: number, sequence: number): boolean {
    const data = ws.getUserData().connection;
    const limit = !data.bucket.take(nowMs)
      ? 'connection'
      : data.role === 'master' && !this.subscriptionLimiter.take(data.subscriptionId, nowMs)
        ? 'subscription'
        : null;
    // A flood would otherwise flood the journal: one security event per connection per interval, with the count.
    const reportDue = nowMs - data.rateLimitedReportedAtMs >= wire.rateLimitedEventIntervalMs;
    if (limit === null) {
      if (data.rateLimitedUnreported > 0 && reportDue) this.reportRateLimited(ws, nowMs);
      return true;
    }
    const deps = this.deps;
    deps.metrics.rateLimitHits.inc({ limit });
    deps.metrics.rejects.inc({ code: RejectCode.RATE_LIMITED });
    data.rateLimitedUnreported++;
    if (reportDue) this.reportRateLimited(ws, nowMs);
    if (nowMs - data.rateLimitedWindowStartMs >= 1000) {
      data.rateLimitedWindowStartMs = nowMs;
      data.rateLimitedInWindow = 0;
    }
    if (++data.rateLimitedInWindow > wire.rateLimitedFramesPerSecondMax) {
      if (data.rateLimitedUnreported > 0) this.reportRateLimited(ws, nowMs);
      deps.log('warn', 'connection closed: it kept sending past RATE_LIMITED', { connId: data.connId, role: data.role, subscriptionId: data.subscriptionId });
      deps.metrics.policyCloses.inc({ reason: 'RATE_LIMITED' });
      deps.floodCooldown.start(data.tokenId, nowMs);
      closeSocket(ws, CloseCode.RATE_LIMITED, 'RATE_LIMITED');
      return false;
    }
    // A master's signal N not taken: N and what follows are refused until N comes again (no gap).
    const resendFrom = data.role === 'master' && sequence > 0 ? refuseFrom(data, sequence) : 0;
    deps.sendTo(ws, encodeReject(RejectCode.RATE_LIMITED, resendFrom > 0 ? `rate limit exceeded, resend from ${resendFrom}` : 'rate limit exceeded', sequence));
    return false;
  }

  private reportRateLimited(ws: Socket, nowMs: number): void {
    const data = ws.getUserData().connection;
    data.rateLimitedReportedAtMs = nowMs;
    this.deps.recordSecurityEvent({
      atMs: Date.now(),
      code: RejectCode.RATE_LIMITED,
      subscriptionId: data.subscriptionId,
      role: data.role,
      remoteAddress: data.remoteAddress,
      sequence: null,
      detail: `${Math.max(1, data.rateLimitedUnreported)} frame(s) over the limit`,
    });
    data.rateLimitedUnreported = 0;
  }
}
