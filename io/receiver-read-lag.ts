/**
 * How far behind each receiver reads, whatever the kernel buffers.
 *
 * uWebSockets.js counts backpressure only once the kernel's socket buffer
 * is full, and Linux grows that buffer up to net.ipv4.tcp_wmem's maximum
 * (4 MiB by default; a receiver that stopped reading was seen holding
 * 3.8 MB there before the server's own 1 MiB began to count). At a few
 * signals a second that is hours of deliveries, so the send buffer alone
 * cannot say that a receiver is too slow for its subscription.
 *
 * A WebSocket ping can: it travels behind every frame sent before it, and
 * the peer answers it (RFC 6455 5.5.2) only once it has read them all. So
 * after sending to a receiver the I/O thread appends a ping carrying a
 * probe id (one outstanding per receiver, at most one per
 * `probeIntervalMs`); the pong with that id confirms that the receiver read
 * everything sent before that ping. A receiver is too far behind when
 *   - `read_lag`: its probe has gone unanswered for `readLagMsMax`, or
 *   - `unread_bytes`: more than `unreadBytesMax` bytes were sent to it past
 *     what it confirmed, and its probe has been out for `probeIntervalMs`
 *     (a burst that a reader takes at once, a catch-up say, is not held
 *     against it).
 * The first bounds how stale its deliveries get, the second how much waits
 * for it in the kernel and the server together (and so how much it reads
 * before it sees its close). Idle receivers are not probed: with nothing
 * sent there is nothing to lag behind (uWS's idle timeout and its own
 * pings cover a dead peer).
 *
 * Pure state, no sockets or clocks: the server passes its sockets, byte
 * counts and the time in. One entry per receiver sent anything, removed on close.
 */

export interface ReadLagLimits {
  probeIntervalMs: number;
  readLagMsMax: number;
  unreadBytesMax: number;
}

export type LagReason = 'read_lag' | 'unread_bytes';

interface ReceiverLag {
  /** Bytes sent so far (frames the shards had sent to it, WebSocket headers included). */
  sentBytes: number;
  /** sentBytes when the last answered probe went out: what it confirmed reading. */
  confirmedBytes: number;
  /** Id of the outstanding probe; 0 when none is. */
  probeId: number;
  /** When the outstanding (or, with probeId 0, the last) probe went out. */
  probeSentAtMs: number;
  /** sentBytes when the outstanding probe went out. */
  probeBytes: number;
}

/** Bytes of a probe's payload (its id, big-endian). */
const probePayloadBytes = 4;

/** A WebSocket frame's bytes on the wire from the server (unmasked): header and payload. */
export function serverFrameBytes(payloadBytes: number): number {
  return payloadBytes + (payloadBytes < 126 ? 2 : payloadBytes < 65_536 ? 4 : 10);
}

export class ReadLagWatch<S> {
  private readonly receivers = new Map<S, ReceiverLag>();
  private nextProbeId = 1;

  constructor(private readonly limits: ReadLagLimits) {
    if (!(limits.probeIntervalMs > 0 && limits.readLagMsMax > limits.probeIntervalMs && limits.unreadBytesMax > 0)) {
      throw new Error(`ReadLagWatch: need 0 < probeIntervalMs < readLagMsMax and unreadBytesMax > 0, got ${JSON.stringify(limits)}`);
    }
  }

  /** `bytes` were just sent to `socket`. */
  sent(socket: S, bytes: number): void {
    let lag = this.receivers.get(socket);
    if (lag === undefined) {
      lag = { sentBytes: 0, confirmedBytes: 0, probeId: 0, probeSentAtMs: -Infinity, probeBytes: 0 };
      this.receivers.set(socket, lag);
    }
    lag.sentBytes += bytes;
  }

  /** The payload of a ping to send now, behind what was sent; null while one is outstanding or the last went out less than probeIntervalMs ago. */
  probeDue(socket: S, nowMs: number): Uint8Array | null {
    const lag = this.receivers.get(socket);
    if (lag === undefined || lag.probeId !== 0 || nowMs - lag.probeSentAtMs < this.limits.probeIntervalMs) return null;
    lag.probeId = this.nextProbeId;
    this.nextProbeId = this.nextProbeId === 0xffff_ffff ? 1 : this.nextProbeId + 1;
    lag.probeSentAtMs = nowMs;
    lag.probeBytes = lag.sentBytes;
    const payload = new Uint8Array(probePayloadBytes);
    new DataView(payload.buffer).setUint32(0, lag.probeId);
    return payload;
  }

  /** A pong arrived. When it answers the outstanding probe, returns how long that took (ms); null otherwise (uWS's own keep-alive pings, stray pongs). */
  onPong(socket: S, payload: Uint8Array, nowMs: number): number | null {
    const lag = this.receivers.get(socket);
    if (lag === undefined || lag.probeId === 0 || payload.byteLength !== probePayloadBytes) return null;
    if (new DataView(payload.buffer, payload.byteOffset, probePayloadBytes).getUint32(0) !== lag.probeId) return null;
    lag.probeId = 0;
    lag.confirmedBytes = lag.probeBytes;
    return nowMs - lag.probeSentAtMs;
  }

  /** Why `socket` is too far behind, or null. */
  behind(socket: S, nowMs: number): LagReason | null {
    const lag = this.receivers.get(socket);
    return lag === undefined ? null : this.judge(lag, nowMs);
  }

  /** Every receiver too far behind, with why. */
  allBehind(nowMs: number): [S, LagReason][] {
    const out: [S, LagReason][] = [];
    for (const [socket, lag] of this.receivers) {
      const reason = this.judge(lag, nowMs);
      if (reason !== null) out.push([socket, reason]);
    }
    return out;
  }

  /** Bytes sent to `socket` that it has not confirmed reading. */
  unreadBytes(socket: S): number {
    const lag = this.receivers.get(socket);
    return lag === undefined ? 0 : lag.sentBytes - lag.confirmedBytes;
  }

  forget(socket: S): void {
    this.receivers.delete(socket);
  }

  get size(): number {
    return this.receivers.size;
  }

  private judge(lag: ReceiverLag, nowMs: number): LagReason | null {
    if (lag.probeId === 0) return null;
    const outForMs = nowMs - lag.probeSentAtMs;
    if (outForMs > this.limits.readLagMsMax) return 'read_lag';
    if (outForMs >= this.limits.probeIntervalMs && lag.sentBytes - lag.confirmedBytes > this.limits.unreadBytesMax) return 'unread_bytes';
    return null;
  }
}
