/**
 * After the server closes a connection for flooding (4029: it kept sending
 * past RATE_LIMITED answers), the token it authenticated with may not open
 * another session for a while: otherwise each reconnect would get a fresh
 * token bucket and another round of refusals to answer. Bounded: past
 * entriesMax the oldest cool-down is forgotten first.
 */
export class FloodCooldown {
  /** tokenId -> until when (ms since the epoch); insertion order = age. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly cooldownMs: number,
    private readonly entriesMax: number,
  ) {
    if (!(cooldownMs > 0) || !Number.isSafeInteger(entriesMax) || entriesMax < 1) throw new Error('FloodCooldown: cooldownMs > 0 and entriesMax >= 1');
  }

  get size(): number {
    return this.until.size;
  }

  /** The token's session was closed for flooding at nowMs. */
  start(tokenId: string, nowMs: number): void {
    this.until.delete(tokenId);
    this.until.set(tokenId, nowMs + this.cooldownMs);
    for (const [id, untilMs] of this.until) {
      if (this.until.size <= this.entriesMax && untilMs > nowMs) break;
      this.until.delete(id);
    }
  }

  /** Milliseconds until the token may connect again (0: now). */
  remainingMs(tokenId: string, nowMs: number): number {
    const untilMs = this.until.get(tokenId);
    if (untilMs === undefined) return 0;
    if (untilMs <= nowMs) {
      this.until.delete(tokenId);
      return 0;
    }
    return untilMs - nowMs;
  }
}
