/**
 * The master's answer to BUSY (the server's ring for the subscription is
 * full), free of sockets and clocks. The server's rule (docs/protocol.md):
 * BUSY for sequence N means N and every later signal of this connection was
 * not taken, and each of those later ones is answered BUSY too, in order.
 *
 * So after the first BUSY the client
 *   1. waits until the last signal it had sent is answered (the rest of the
 *      refused burst drains; none of those answers means anything new),
 *   2. waits a backoff (doubling while BUSY repeats, reset by an ack),
 *   3. sends again from N, at most `limit` signals unanswered at a time:
 *      half of what was in flight when BUSY came; each ack widens the
 *      limit by one until it covers the whole outbox (no limit again).
 * Without BUSY nothing here limits anything.
 */
import { master as limits } from './limits';

export type BusyAction = { kind: 'ignore' } | { kind: 'wait' } | { kind: 'resendAfter'; delayMs: number };

export class BusyWindow {
  /** The highest sequence sent on this connection (and not rewound by a BUSY). */
  sentUpTo = 0;
  /** How many signals may be unanswered at once (Infinity: no limit). */
  limit = Infinity;
  /** BUSY came for `from`; the refused burst ends with `lastSent`. Null when not refused. */
  private refused: { from: number; lastSent: number; drained: boolean } | null = null;
  private delayMs: number = limits.busyResendDelayMinMs;

  constructor(private readonly outboxCapacity: number) {}

  /** May a signal be sent now, with `inFlight` sent and unanswered? */
  maySend(inFlight: number): boolean {
    return this.refused === null && inFlight < this.limit;
  }

  sent(sequence: number): void {
    if (sequence > this.sentUpTo) this.sentUpTo = sequence;
  }

  /** A new connection: the welcome sends the whole outbox again. */
  reset(): void {
    this.sentUpTo = 0;
    this.limit = Infinity;
    this.refused = null;
    this.delayMs = limits.busyResendDelayMinMs;
  }

  /** An ack or a reject other than BUSY for `sequence`: what to do about a refused burst. */
  answered(sequence: number, acked: boolean): BusyAction {
    if (acked && this.refused === null) {
      this.delayMs = limits.busyResendDelayMinMs;
      if (this.limit !== Infinity) this.limit = this.limit + 1 >= this.outboxCapacity ? Infinity : this.limit + 1;
    }
    return this.endOfBurst(sequence);
  }

  /** BUSY for `sequence`, with `inFlight` sent and unanswered before it. */
  busy(sequence: number, inFlight: number): BusyAction {
    if (this.refused === null) {
      if (sequence > this.sentUpTo) return { kind: 'ignore' }; // a late answer to a burst already rewound
      this.refused = { from: sequence, lastSent: this.sentUpTo, drained: false };
      this.limit = Math.max(1, Math.floor(Math.min(inFlight, this.limit) / 2));
    } else if (sequence < this.refused.from) {
      this.refused.from = sequence;
    }
    return this.endOfBurst(sequence);
  }

  /** The backoff is over: send again from here (the caller sends within maySend). */
  resume(): number {
    const from = this.refused?.from ?? this.sentUpTo + 1;
    this.refused = null;
    this.sentUpTo = from - 1;
    return from;
  }

  private endOfBurst(sequence: number): BusyAction {
    const refused = this.refused;
    if (refused === null) return { kind: 'ignore' };
    if (refused.drained || sequence < refused.lastSent) return { kind: 'wait' };
    refused.drained = true;
    const delayMs = this.delayMs;
    this.delayMs = Math.min(delayMs * 2, limits.busyResendDelayMaxMs);
    return { kind: 'resendAfter', delayMs };
  }
}
