/**
 * A master's pacing (docs/protocol.md, "Pacing"): a token bucket at the rate
 * and burst its Welcome gives (the tighter of the connection's bucket and
 * the subscription's limit on the server), so that a correct master, a
 * backlog resent after an outage included, is never refused RATE_LIMITED
 * nor closed 4029. Only half of the burst is spent: frames sent evenly can
 * arrive bunched (network and scheduling jitter), and heartbeats take
 * tokens from the server's bucket too; the other half absorbs both.
 *
 * Free of sockets and timers: take() says whether a frame may go now,
 * delayMs() how long until one may. Time is a monotonic clock in ms
 * (performance.now), not the client's injectable wall clock: pacing is
 * about elapsed time only.
 */
import { TokenBucket } from '@sigplane/protocol';

export class SendPacer {
  /** null: the rate is unknown (an older server, or before the welcome): nothing is held back. */
  private bucket: TokenBucket | null = null;

  /** Pace at a new welcome's rate and burst (0: unknown, not paced). */
  reset(signalsPerSecond: number, signalsBurst: number, nowMs: number): void {
    this.bucket =
      signalsPerSecond > 0 && signalsBurst > 0 ? new TokenBucket(signalsPerSecond, Math.max(1, Math.floor(signalsBurst / 2)), nowMs) : null;
  }

  /** Is the master paced at all (a rate is known)? */
  get paced(): boolean {
    return this.bucket !== null;
  }

  /** Takes one frame's token if there is one. */
  take(nowMs: number): boolean {
    return this.bucket === null || this.bucket.take(nowMs);
  }

  /** Milliseconds until a frame may go (0: now). */
  delayMs(nowMs: number): number {
    if (this.bucket === null) return 0;
    const missing = 1 - this.bucket.available(nowMs);
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.bucket.ratePerSecond);
  }
}
