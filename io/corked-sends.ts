/**
 * Frames to sockets, on the I/O thread. Sends made outside uWS's own
 * callbacks (what the shards send back, io/outbound-router.ts) are gathered
 * per socket for one batch and written corked: one syscall per socket per
 * batch instead of one per frame. Inside uWS's callbacks (answers to a
 * client's frame) a send goes out at once, uWS corking it itself.
 *
 * A send past uWS's buffer limit closes the connection, and after each
 * batch a receiver's read lag is judged (io/slow-connections.ts).
 */
import type { Socket } from './connections';
import { uwsSendDropped, type SlowConnections } from './slow-connections';

export class CorkedSends {
  /** Between startBatch and flush: frames wait per socket. */
  private corking = false;
  private readonly corked = new Map<Socket, Uint8Array[]>();

  constructor(private readonly slow: SlowConnections) {}

  /** A batch from a shard begins: sends wait for flush. */
  startBatch(): void {
    this.corking = true;
  }

  /** Send a frame to one socket (nothing to a closed one); during a batch it waits for flush. */
  sendTo(ws: Socket, frame: Uint8Array): void {
    const data = ws.getUserData().connection;
    if (data.closed) return;
    if (this.corking) {
      const queued = this.corked.get(ws);
      if (queued === undefined) this.corked.set(ws, [frame]);
      else queued.push(frame);
      return;
    }
    this.sendNow(ws, frame);
  }

  /** The batch ended: each socket's frames written in one cork, then a receiver's read lag judged. */
  flush(): void {
    this.corking = false;
    const nowMs = Date.now();
    for (const [ws, frames] of this.corked) {
      const data = ws.getUserData().connection;
      if (data.closed) continue;
      ws.cork(() => {
        for (const frame of frames) this.sendNow(ws, frame);
        if (data.role === 'receiver') this.slow.afterBatch(ws, frames, nowMs);
      });
    }
    this.corked.clear();
  }

  private sendNow(ws: Socket, frame: Uint8Array): void {
    const data = ws.getUserData().connection;
    if (data.closed) return;
    if (ws.send(frame, true) === uwsSendDropped) this.slow.drop(ws, 'send_buffer_full');
  }
}
