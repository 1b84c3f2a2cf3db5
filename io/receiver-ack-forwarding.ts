/**
 * Receivers' DeliveryAcks on their way to the shard, on the I/O thread.
 * An ack is cumulative ("executed up to N"; the actor keeps the highest),
 * so per connection only the highest matters: the first ack after a quiet
 * spell goes to the shard at once, and later ones are held and forwarded
 * as one, wire.receiverAckForwardIntervalMs after the last forward. A
 * receiver acking each of 1,000 deliveries a second so costs the shard ten
 * cursor records a second, not a thousand.
 *
 * What is held is forwarded before the connection's detach (receiverClosing),
 * so an orderly close loses no cursor advance. An ack the shard's ring
 * refused stays held and goes again at the next flush. The cursor is
 * advisory (a receiver subscribes with its last executed sequence;
 * docs/reliability.md): holding it for an interval delays, never loses,
 * what a resume from the server's cursor sees.
 *
 * The flush is a one-shot timer, armed only while something is held: an
 * idle server runs nothing here.
 */
import { wire } from '@sigplane/protocol';
import type { ShardInbound } from '../engine/shard-protocol';
import type { Socket } from './connections';
import type { Metrics } from './metrics';

export interface ReceiverAckForwardingDeps {
  metrics: Metrics;
  /** Hand a record to the subscription's shard; false when its ring is full. */
  toShard(subscriptionId: string, message: ShardInbound): boolean;
  nowMs(): number;
}

export class ReceiverAckForwarding {
  /** Connections holding an ack not forwarded yet. */
  private readonly holding = new Set<Socket>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ReceiverAckForwardingDeps) {}

  /** A receiver's DeliveryAck of `sequence` (checked: a safe integer >= 1). */
  ack(ws: Socket, sequence: number, nowMs: number): void {
    this.deps.metrics.receiverAcks.inc();
    const data = ws.getUserData().connection;
    if (sequence <= data.ackForwarded || sequence <= data.ackHeld) return; // covered by one already on its way
    if (data.ackHeld === 0 && nowMs - data.ackForwardedAtMs >= wire.receiverAckForwardIntervalMs && this.forward(ws, sequence, nowMs)) return;
    data.ackHeld = sequence;
    this.holding.add(ws);
    this.armTimer(nowMs);
  }

  /** The connection closes: what it holds goes to the shard before its detach. */
  receiverClosing(ws: Socket): void {
    if (!this.holding.delete(ws)) return;
    const data = ws.getUserData().connection;
    this.forward(ws, data.ackHeld, this.deps.nowMs());
    data.ackHeld = 0;
  }

  /** Every held ack due by now goes; the rest (and any a full ring refused) wait for the next flush. */
  private flush(): void {
    const nowMs = this.deps.nowMs();
    for (const ws of this.holding) {
      const data = ws.getUserData().connection;
      if (nowMs - data.ackForwardedAtMs < wire.receiverAckForwardIntervalMs) continue;
      if (!this.forward(ws, data.ackHeld, nowMs)) continue;
      data.ackHeld = 0;
      this.holding.delete(ws);
    }
    if (this.holding.size > 0) this.armTimer(nowMs);
  }

  private forward(ws: Socket, sequence: number, nowMs: number): boolean {
    const data = ws.getUserData().connection;
    data.ackForwardedAtMs = nowMs;
    const sub = data.subscriptionId;
    if (!this.deps.toShard(sub, { t: 'event', sub, ev: { kind: 'deliveryAck', connId: data.connId, receiverId: data.tokenId, sequence } })) return false;
    data.ackForwarded = sequence;
    this.deps.metrics.receiverCursorUpdates.inc();
    return true;
  }

  private armTimer(nowMs: number): void {
    if (this.timer !== null) return;
    let dueMs = Infinity;
    for (const ws of this.holding) dueMs = Math.min(dueMs, ws.getUserData().connection.ackForwardedAtMs + wire.receiverAckForwardIntervalMs);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.flush();
      },
      Math.max(1, dueMs - nowMs),
    );
    this.timer.unref();
  }

  /** The server stops: nothing more is forwarded. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.holding.clear();
  }
}
