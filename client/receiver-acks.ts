/**
 * When a receiver sends its DeliveryAck. An ack is cumulative: the server
 * takes "executed up to N" (docs/protocol.md), so one ack of the highest
 * executed sequence stands for every one before it, and acking each
 * delivery only costs the server work (an ack frame, a cursor record).
 *
 * An executed sequence is acked at once while the ack budget lasts
 * (ackBurst acks, refilled one per ackIntervalMs): a receiver getting a
 * signal now and then acks each one as before. Past the budget, in a
 * burst, the highest executed sequence is held and acked when the next
 * token comes (within ackIntervalMs) or after ackEvery executions,
 * whichever first. A snapshot, and close(), ack at once. ackEvery 1 acks
 * every execution at once.
 *
 * Held acks belong to one session: a new one (or a lost socket) forgets
 * them, since the subscribe that follows states the last executed sequence.
 */
import { TokenBucket } from '@sigplane/protocol';

export interface ReceiverAckPolicy {
  ackEvery: number;
  ackIntervalMs: number;
  ackBurst: number;
}

export class ReceiverAcks {
  private readonly budget: TokenBucket;
  /** The highest executed sequence not acked yet; null when none. */
  private held: number | null = null;
  private unacked = 0;
  private timer: NodeJS.Timeout | null = null;
  acksSent = 0;

  constructor(
    private readonly policy: ReceiverAckPolicy,
    private readonly clock: () => number,
    /** Sends the ack frame; false when there is no open connection. */
    private readonly send: (sequence: number) => boolean,
  ) {
    this.budget = new TokenBucket(1000 / policy.ackIntervalMs, policy.ackBurst, clock());
  }

  /** `sequence` was executed (or a snapshot up to it applied: `now`). */
  executed(sequence: number, now = false): void {
    this.held = sequence;
    this.unacked++;
    const nowMs = this.clock();
    if (this.budget.take(nowMs) || now || this.unacked >= this.policy.ackEvery) return this.flush();
    this.armTimer(nowMs);
  }

  /** Ack what is held now (close(), shutdown). */
  flush(): void {
    this.stopTimer();
    if (this.held === null) return;
    if (this.send(this.held)) this.acksSent++;
    this.held = null;
    this.unacked = 0;
  }

  /** A new session, or the socket is gone: what is held is not sent (the next subscribe carries it). */
  forget(): void {
    this.stopTimer();
    this.held = null;
    this.unacked = 0;
  }

  /** Held until the budget has a token again. */
  private armTimer(nowMs: number): void {
    if (this.timer !== null) return;
    const delayMs = Math.max(1, this.budget.msUntil(nowMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.budget.take(this.clock());
      this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
