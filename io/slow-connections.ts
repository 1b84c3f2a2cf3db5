/**
 * Connections too slow for what they are sent, on the I/O thread
 * (docs/protocol.md, "Slow receivers").
 *
 * A receiver is watched with pings behind its deliveries
 * (io/receiver-read-lag.ts) and closed once it is too far behind, in time
 * or in bytes it has not confirmed reading; any connection is closed when
 * uWS refuses a send past maxBackpressure. How it is closed matters: uWS's
 * end() sends the close frame through the same buffer, refuses it outright
 * past maxBackpressure, and shuts the socket down only once the buffer has
 * drained, every partial drain restarting its timeout. A receiver trickling
 * 64 KiB every 2 s so stayed connected for minutes, behind its
 * subscription, with no close frame in sight. So the close frame (4001) is
 * sent only when nothing waits in uWS's buffer (it goes out at once, behind
 * only what the kernel holds, and the socket is shut down); otherwise the
 * connection is dropped with close(), and the client sees it end (1006)
 * once it has read what the kernel holds.
 */
import { wire } from '@sigplane/protocol';
import type { Socket } from './connections';
import type { Metrics } from './metrics';
import { ReadLagWatch, serverFrameBytes, type LagReason } from './receiver-read-lag';

/** Close code of a connection too slow for what it is sent. */
export const backpressureCloseCode = 4001;

/** uWS's send() and ping(): refused, past maxBackpressure (1 is sent, 0 is sent but buffered). */
export const uwsSendDropped = 2;

export type SlowReason = LagReason | 'send_buffer_full';

export interface SlowConnectionsHooks {
  metrics: Metrics;
  log: (level: 'warn', message: string, fields: Record<string, unknown>) => void;
}

export class SlowConnections {
  readonly readLag = new ReadLagWatch<Socket>({
    probeIntervalMs: wire.receiverLagProbeIntervalMs,
    readLagMsMax: wire.receiverReadLagMsMax,
    unreadBytesMax: wire.receiverUnreadBytesMax,
  });
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly hooks: SlowConnectionsHooks) {}

  /** Receivers sent nothing lately are judged on a timer. */
  start(): void {
    this.timer ??= setInterval(() => this.dropLagging(), wire.receiverLagProbeIntervalMs).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** After a batch of frames went to a receiver (inside its cork): too far behind? If not, a ping behind them when one is due. */
  afterBatch(ws: Socket, frames: readonly Uint8Array[], nowMs: number): void {
    if (ws.getUserData().connection.closed) return;
    let bytes = 0;
    for (const frame of frames) bytes += serverFrameBytes(frame.byteLength);
    this.readLag.sent(ws, bytes);
    const behind = this.readLag.behind(ws, nowMs);
    if (behind !== null) return this.drop(ws, behind);
    const probe = this.readLag.probeDue(ws, nowMs);
    if (probe !== null && ws.ping(probe) === uwsSendDropped) this.drop(ws, 'send_buffer_full');
  }

  onPong(ws: Socket, message: ArrayBuffer, nowMs: number): void {
    this.readLag.onPong(ws, new Uint8Array(message), nowMs);
  }

  /** The socket closed (uWS's close handler). */
  forget(ws: Socket): void {
    this.readLag.forget(ws);
  }

  /** Close a connection too slow for what it is sent (see the header for how). */
  drop(ws: Socket, reason: SlowReason): void {
    const data = ws.getUserData().connection;
    if (data.closed) return;
    data.closed = true;
    this.hooks.metrics.backpressureDrops.inc({ role: data.role, reason });
    const bufferedBytes = ws.getBufferedAmount();
    this.hooks.log('warn', 'connection too slow for what it is sent: closed, it resumes when it reconnects', {
      connId: data.connId,
      role: data.role,
      subscriptionId: data.subscriptionId,
      reason,
      bufferedBytes,
      unreadBytes: this.readLag.unreadBytes(ws),
    });
    if (bufferedBytes === 0) ws.end(backpressureCloseCode, 'BACKPRESSURE');
    else ws.close();
  }

  /**
   * Every receiver too far behind, decided after the loop's I/O
   * (setImmediate): after a stall of this thread, pongs already in the
   * kernel are read first and do not count as late.
   */
  private dropLagging(): void {
    if (this.readLag.allBehind(Date.now()).length === 0) return;
    setImmediate(() => {
      for (const [ws, reason] of this.readLag.allBehind(Date.now())) this.drop(ws, reason);
    });
  }
}
