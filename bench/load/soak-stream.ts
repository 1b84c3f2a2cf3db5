/**
 * The load of the memory soak (soak-memory.ts): per subscription one master
 * that signs each signal when it sends it (a soak outlives the signals'
 * 60 s freshness) at a steady rate, and receivers that execute every
 * delivery, check that each is the one after the last, and acknowledge every
 * `ackEvery`-th. Both reconnect when the server goes away (a kill -9) and
 * resume where they were: the master from Welcome.last_sequence (every
 * signal after it is sent again), a receiver from the last sequence it
 * executed.
 */
import WebSocket from 'ws';
import { abnormalCloseCode } from '../../io/async-upgrade-guard';
import { decodeFrame, encodeFrame, rejectCodeName, safeInteger, type DecodedFrame } from '@sigplane/protocol';
import { sigplaneSignalFrame } from './payload';

const reconnectDelayMs = 200;
/** After BUSY ("resend from N") the master waits this long, then sends again from N. */
const busyPauseMs = 5;
/** Signals sent and not yet answered, at most. */
const inFlightMax = 1_000;

interface Welcomed {
  ws: WebSocket;
  welcome: Extract<DecodedFrame, { kind: 'welcome' }>;
}

/**
 * Opens a socket and resolves on its Welcome; frames after it go to
 * `onFrame`. Rejects when the socket closes first (a server restarting,
 * uWS's cork-after-upgrade close: the caller tries again).
 */
function openWelcomed(url: string, token: string, onFrame: (frame: DecodedFrame) => void, firstFrame?: Uint8Array): Promise<Welcomed> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    let welcomed = false;
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      if (frame === null) return;
      if (!welcomed && frame.kind === 'welcome') {
        welcomed = true;
        resolve({ ws, welcome: frame });
      } else if (welcomed) onFrame(frame);
    });
    ws.once('open', () => {
      if (firstFrame !== undefined) ws.send(firstFrame, { binary: true });
    });
    ws.once('error', (error) => {
      if (!welcomed) reject(error);
    });
    ws.once('close', (code) => {
      if (!welcomed) reject(new Error(`closed with ${code === abnormalCloseCode ? '1006' : code} before its welcome`));
    });
  });
}

/** Keeps one connection open, opening it again whenever it closes, until stopped. */
abstract class Reconnecting {
  protected ws: WebSocket | null = null;
  protected stopped = false;
  connects = 0;

  protected constructor(protected readonly url: () => string, protected readonly token: string) {}

  protected abstract firstFrame(): Uint8Array | undefined;
  protected abstract onWelcome(welcome: Welcomed['welcome']): void;
  protected abstract onFrame(frame: DecodedFrame): void;

  async start(): Promise<void> {
    for (;;) {
      try {
        const { ws, welcome } = await openWelcomed(this.url(), this.token, (f) => this.onFrame(f), this.firstFrame());
        this.ws = ws;
        this.connects++;
        ws.once('close', () => {
          this.ws = null;
          if (!this.stopped) setTimeout(() => void this.start(), reconnectDelayMs);
        });
        this.onWelcome(welcome);
        return;
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, reconnectDelayMs));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const ws = this.ws;
    if (ws === null || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }
}

export interface SoakMasterOptions {
  url: () => string;
  token: string;
  subscriptionId: string;
  macSecretHex: string;
  ratePerSecond: number;
  /** Send nothing past this sequence (default: no end). */
  lastSequence?: number;
}

export class SoakMaster extends Reconnecting {
  /** The next sequence to send. */
  private next = 1;
  private startedAtMs = 0;
  private pausedUntilMs = 0;
  private inFlight = 0;
  acked = 0;
  busy = 0;
  readonly refused = new Map<string, number>();

  constructor(private readonly options: SoakMasterOptions) {
    super(options.url, options.token);
  }

  protected firstFrame(): undefined {
    return undefined;
  }

  protected onWelcome(welcome: Welcomed['welcome']): void {
    // Everything after what the server holds is sent (again), in order.
    this.next = (safeInteger(welcome.welcome.lastSequence) ?? 0) + 1;
    this.acked = Math.max(this.acked, this.next - 1);
    this.inFlight = 0;
    if (this.startedAtMs === 0) this.startedAtMs = Date.now();
  }

  protected onFrame(frame: DecodedFrame): void {
    if (frame.kind === 'ack') {
      this.inFlight = Math.max(0, this.inFlight - 1);
      this.acked = Math.max(this.acked, safeInteger(frame.ack.sequenceNumber) ?? 0);
    } else if (frame.kind === 'reject') {
      this.inFlight = Math.max(0, this.inFlight - 1);
      const sequence = safeInteger(frame.reject.sequenceNumber) ?? 0;
      const code = rejectCodeName(frame.reject.code);
      if (code === 'BUSY') {
        // "N and every later signal from this connection was not taken": resend from N.
        this.busy++;
        if (sequence > 0 && sequence < this.next) this.next = sequence;
        this.pausedUntilMs = Date.now() + busyPauseMs;
      } else {
        this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
      }
    }
  }

  /** Signals the schedule has made due so far. */
  due(nowMs: number): number {
    return this.startedAtMs === 0 ? 0 : Math.floor(((nowMs - this.startedAtMs) / 1000) * this.options.ratePerSecond);
  }

  /** Sends what is due and not sent (signed now), within the in-flight bound. */
  pump(nowMs: number): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN || nowMs < this.pausedUntilMs) return;
    const due = Math.min(this.due(nowMs), this.options.lastSequence ?? Infinity);
    while (this.next <= due && this.inFlight < inFlightMax) {
      const o = this.options;
      ws.send(sigplaneSignalFrame(o.macSecretHex, { subscriptionId: o.subscriptionId, sequence: this.next, generatedAtMs: nowMs }), { binary: true });
      this.next++;
      this.inFlight++;
    }
  }
}

export class SoakReceiver extends Reconnecting {
  /** The last sequence executed (each delivery must be the one after it). */
  executed = 0;
  deliveries = 0;
  /** Deliveries that were not executed + 1: already executed (duplicates) or beyond a gap. */
  duplicates = 0;
  gaps = 0;
  snapshots = 0;
  private unacked = 0;

  constructor(url: () => string, token: string, private readonly ackEvery: number) {
    super(url, token);
  }

  protected firstFrame(): Uint8Array {
    return encodeFrame({ subscribe: { hasLastSequence: true, lastSequence: this.executed } });
  }

  protected onWelcome(): void {
    this.unacked = 0;
  }

  protected onFrame(frame: DecodedFrame): void {
    if (frame.kind === 'snapshot') {
      this.snapshots++;
      this.executed = safeInteger(frame.snapshot.sequenceNumber) ?? this.executed;
      return;
    }
    if (frame.kind !== 'delivery') return;
    const sequence = safeInteger(frame.delivery.sequenceNumber) ?? -1;
    this.deliveries++;
    if (sequence <= this.executed) {
      this.duplicates++;
      return;
    }
    if (sequence !== this.executed + 1) this.gaps++;
    this.executed = sequence;
    if (++this.unacked >= this.ackEvery) {
      this.unacked = 0;
      this.ws?.send(encodeFrame({ deliveryAck: { sequenceNumber: sequence } }), { binary: true });
    }
  }
}
