/**
 * One logical connection of a client: the WebSocket, its upgrade, heartbeats,
 * silence detection and reconnects with jittered exponential backoff.
 * MasterClient and ReceiverClient drive it; it knows nothing of signals.
 *
 * Timers use the real event loop; `clock` only stamps heartbeats.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { decodeFrame, encodeHeartbeat, safeInteger, type DecodedFrame } from '@sigplane/protocol';
import { ClientErrorCode, SigplaneClientError } from './errors';
import { connection as limits } from './limits';

export interface ReconnectOptions {
  minMs: number;
  maxMs: number;
}

export interface ConnectionOptions {
  url: string;
  token: string;
  /** Local interface address to connect from (ws/http `localAddress`). */
  localAddress?: string;
  /** Reconnect policy: default { reconnectMinMs, reconnectMaxMs }; false: never reconnect. */
  reconnect?: ReconnectOptions | false;
  clock: () => number;
  heartbeatIntervalMs?: number;
  silenceTimeoutMs?: number;
  welcomeTimeoutMs?: number;
  /** Largest message accepted from the server. */
  maxPayloadBytes: number;
}

/** What the application sets of a client's connection: MasterConnectOptions and ReceiverConnectOptions both carry it. */
export interface ClientConnectOptions {
  /** Default: reconnect with jittered backoff; false: never. */
  reconnect?: ReconnectOptions | false;
  localAddress?: string;
  heartbeatIntervalMs?: number;
  silenceTimeoutMs?: number;
  welcomeTimeoutMs?: number;
  onClose?(code: number, reason: string, willReconnect: boolean): void;
  onError?(error: SigplaneClientError): void;
  onState?(state: string, sequence: number, reason: string): void;
}

export interface ConnectionHandlers {
  /** The upgrade succeeded (send the first frame now, e.g. subscribe). */
  onOpen(): void;
  onFrame(frame: DecodedFrame): void;
  /** A socket closed. `willReconnect`: another attempt is scheduled. */
  onClose(code: number, reason: string, willReconnect: boolean): void;
  /** A transport, upgrade or protocol problem. `fatal`: no more attempts. */
  onError(error: SigplaneClientError, fatal: boolean): void;
  onHeartbeat?(rttMs: number | null): void;
}

/** Close codes this client uses when it drops a connection itself. */
export const ClientCloseCode = {
  NORMAL: 1000,
  // 41xx: apart from the server's 40xx codes (4001 BACKPRESSURE, ...).
  SILENCE: 4101,
  WELCOME_TIMEOUT: 4102,
  QUEUE_OVERFLOW: 4103,
  HANDLER_FAILED: 4104,
  PROTOCOL: 4105,
} as const;

/** HTTP statuses after which reconnecting cannot help (docs/protocol.md: 503 is the transient one). */
const permanentStatuses: ReadonlySet<number> = new Set([400, 401, 403, 404, 431]);
const closeGraceMs = 2_000;
/** A refusal's JSON body ({"code": ...}) is read up to this size, for this long. */
const refusalBodyBytesMax = 1_024;
const refusalBodyWaitMs = 1_000;

export class Connection {
  private socket: WebSocket | null = null;
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private welcomeTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private refusedStatus: number | null = null;
  private refusalCode: string | null = null;
  private closedWaiters: Array<() => void> = [];

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {}

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.stopped) throw new SigplaneClientError(ClientErrorCode.CLOSED, 'connection already closed');
    if (this.socket !== null || this.reconnectTimer !== null) return;
    this.open();
  }

  /** Send one binary frame; false when there is no open socket. */
  send(bytes: Uint8Array): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(bytes, { binary: true });
    return true;
  }

  /** The client saw its welcome: the session is up, the backoff starts over. */
  markWelcomed(): void {
    this.attempt = 0;
    this.clearTimer('welcomeTimer');
  }

  pause(): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.pause();
  }

  resume(): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.resume();
  }

  /** Close this socket (the reconnect policy then applies). */
  drop(code: number, reason: string): void {
    const socket = this.socket;
    if (socket === null) return;
    if (code === ClientCloseCode.SILENCE || socket.readyState !== WebSocket.OPEN) {
      socket.terminate();
      return;
    }
    socket.close(code, reason);
    this.clearTimer('closeTimer');
    this.closeTimer = setTimeout(() => socket.terminate(), closeGraceMs);
  }

  /** Stop for good: no reconnect; resolves once the socket is closed. */
  close(code: number = ClientCloseCode.NORMAL, reason = 'client closed'): Promise<void> {
    this.stopped = true;
    this.clearTimer('reconnectTimer');
    const socket = this.socket;
    if (socket === null) {
      this.clearAllTimers();
      return Promise.resolve();
    }
    const closed = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    this.drop(code, reason);
    return closed;
  }

  private open(): void {
    this.refusedStatus = null;
    this.refusalCode = null;
    const options: WebSocket.ClientOptions = {
      headers: { Authorization: `Bearer ${this.options.token}` },
      perMessageDeflate: false,
      maxPayload: this.options.maxPayloadBytes,
      handshakeTimeout: this.options.welcomeTimeoutMs ?? limits.welcomeTimeoutMs,
      followRedirects: false,
    };
    if (this.options.localAddress !== undefined) options.localAddress = this.options.localAddress;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.options.url, options);
    } catch (err) {
      // A malformed URL: nothing to retry.
      this.stopped = true;
      this.handlers.onError(
        new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `cannot connect to ${this.options.url}`, { cause: err }),
        true,
      );
      return;
    }
    socket.binaryType = 'nodebuffer';
    this.socket = socket;

    socket.on('unexpected-response', (_req, res) => this.onRefused(socket, res));
    socket.on('open', () => this.onOpen(socket));
    socket.on('message', (data, isBinary) => this.onMessage(socket, data as Buffer, isBinary));
    socket.on('error', (err) => this.onSocketError(socket, err));
    socket.on('close', (code, reason) => this.onSocketClose(socket, code, reason.toString('utf8')));
  }

  /** The upgrade was refused: keep the HTTP status and the body's code ({"code": ...}, read bounded), then end the socket. */
  private onRefused(socket: WebSocket, res: IncomingMessage): void {
    this.refusedStatus = res.statusCode ?? 0;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.refusalCode = refusalCodeOf(Buffer.concat(chunks).toString('utf8'));
      socket.terminate();
    };
    const timer = setTimeout(finish, refusalBodyWaitMs);
    res.on('data', (chunk: Buffer) => {
      if (bytes < refusalBodyBytesMax) chunks.push(chunk.subarray(0, refusalBodyBytesMax - bytes));
      bytes += chunk.length;
      if (bytes >= refusalBodyBytesMax) finish();
    });
    res.on('end', finish);
    res.on('error', finish);
  }

  private onOpen(socket: WebSocket): void {
    if (socket !== this.socket) return;
    this.armSilence();
    const interval = this.options.heartbeatIntervalMs ?? limits.heartbeatIntervalMs;
    this.heartbeatTimer = setInterval(() => this.send(encodeHeartbeat(this.options.clock())), interval);
    this.heartbeatTimer.unref();
    this.welcomeTimer = setTimeout(
      () => this.drop(ClientCloseCode.WELCOME_TIMEOUT, 'no welcome'),
      this.options.welcomeTimeoutMs ?? limits.welcomeTimeoutMs,
    );
    this.handlers.onOpen();
  }

  private onMessage(socket: WebSocket, data: Buffer, isBinary: boolean): void {
    if (socket !== this.socket) return;
    this.armSilence();
    const frame = isBinary ? decodeFrame(data) : null;
    if (frame === null) {
      this.handlers.onError(
        new SigplaneClientError(ClientErrorCode.PROTOCOL, `undecodable ${isBinary ? 'binary' : 'text'} message (${data.length} bytes)`),
        false,
      );
      return;
    }
    if (frame.kind === 'heartbeat') {
      const sentAt = safeInteger(frame.heartbeat.sentAt);
      this.handlers.onHeartbeat?.(sentAt === null ? null : this.options.clock() - sentAt);
      return;
    }
    this.handlers.onFrame(frame);
  }

  private onSocketError(socket: WebSocket, err: Error): void {
    if (socket !== this.socket || this.stopped) return;
    if (this.refusedStatus !== null) return; // reported at close, with the status
    this.handlers.onError(new SigplaneClientError(ClientErrorCode.TRANSPORT, err.message, { cause: err }), false);
  }

  private onSocketClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.clearAllTimers();
    const status = this.refusedStatus;
    if (status !== null) {
      const fatal = permanentStatuses.has(status);
      if (fatal) this.stopped = true;
      this.handlers.onError(
        new SigplaneClientError(
          ClientErrorCode.UPGRADE_REFUSED,
          `upgrade refused with HTTP ${status}${this.refusalCode === null ? '' : ` ${this.refusalCode}`}`,
          { httpStatus: status, refusalCode: this.refusalCode },
        ),
        fatal || this.options.reconnect === false,
      );
    }
    const willReconnect = !this.stopped && this.options.reconnect !== false;
    this.handlers.onClose(code, reason, willReconnect);
    if (willReconnect) {
      this.scheduleReconnect();
    } else {
      this.stopped = true;
      const waiters = this.closedWaiters;
      this.closedWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private scheduleReconnect(): void {
    const policy = this.options.reconnect || { minMs: limits.reconnectMinMs, maxMs: limits.reconnectMaxMs };
    const ceilingMs = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(this.attempt, 30));
    const delayMs = Math.max(policy.minMs, Math.round(ceilingMs * (0.5 + Math.random() * 0.5)));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, delayMs);
  }

  private armSilence(): void {
    this.clearTimer('silenceTimer');
    this.silenceTimer = setTimeout(
      () => this.drop(ClientCloseCode.SILENCE, 'server silent'),
      this.options.silenceTimeoutMs ?? limits.silenceTimeoutMs,
    );
    this.silenceTimer.unref();
  }

  private clearTimer(name: 'reconnectTimer' | 'heartbeatTimer' | 'silenceTimer' | 'welcomeTimer' | 'closeTimer'): void {
    const timer = this[name];
    if (timer !== null) {
      clearTimeout(timer);
      this[name] = null;
    }
  }

  private clearAllTimers(): void {
    this.clearTimer('heartbeatTimer');
    this.clearTimer('silenceTimer');
    this.clearTimer('welcomeTimer');
    this.clearTimer('closeTimer');
  }
}

function refusalCodeOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : null;
  } catch {
    return null;
  }
}

/** What a client (MasterClient, ReceiverClient) does with its connection's events. */
export interface ClientHooks {
  /** The upgrade succeeded: the first frame goes now. */
  onOpen(): void;
  onFrame(frame: DecodedFrame): void;
  /** A socket closed; 'close' is emitted right after. */
  onSocketClosed(willReconnect: boolean): void;
  /** Tells 'error' listeners, when there are any. */
  emitError(error: Error): void;
}

/** A client's connection, not started yet, and the answer to its connect(). */
export interface ClientSession<W> {
  connection: Connection;
  /**
   * Resolves on the client's first 'welcome'; rejects with the error that
   * ends the first session for good (HTTP 401/403, a malformed URL, any
   * failure without reconnect) or DISCONNECTED when the socket closes for
   * good before a welcome.
   */
  welcomed: Promise<W>;
}

/**
 * The connection every client makes the same way: the application's
 * listeners (onClose, onError, onState) on the client's events, 'heartbeat'
 * and 'close' emitted by the client, `hooks` for the rest. The caller keeps
 * the connection (its hooks send on it), then starts it.
 */
export function clientSession<W>(
  client: EventEmitter,
  hooks: ClientHooks,
  url: string,
  token: string,
  options: ClientConnectOptions,
  transport: { clock: () => number; maxPayloadBytes: number },
): ClientSession<W> {
  if (options.onClose) client.on('close', options.onClose);
  if (options.onError) client.on('error', options.onError);
  if (options.onState) client.on('state', (s: { state: string; sequence: number; reason: string }) => options.onState!(s.state, s.sequence, s.reason));
  let connection!: Connection;
  const welcomed = new Promise<W>((resolve, reject) => {
    let settled = false;
    client.once('welcome', (welcome: W) => {
      settled = true;
      resolve(welcome);
    });
    connection = new Connection(
      {
        url,
        token,
        localAddress: options.localAddress,
        reconnect: options.reconnect,
        clock: transport.clock,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        silenceTimeoutMs: options.silenceTimeoutMs,
        welcomeTimeoutMs: options.welcomeTimeoutMs,
        maxPayloadBytes: transport.maxPayloadBytes,
      },
      {
        onOpen: () => hooks.onOpen(),
        onFrame: (frame) => hooks.onFrame(frame),
        onHeartbeat: (rttMs) => client.emit('heartbeat', rttMs),
        onError: (error, fatal) => {
          hooks.emitError(error);
          if (fatal && !settled) {
            settled = true;
            reject(error);
          }
        },
        onClose: (code, reason, willReconnect) => {
          hooks.onSocketClosed(willReconnect);
          client.emit('close', code, reason, willReconnect);
          if (!willReconnect && !settled) {
            settled = true;
            reject(new SigplaneClientError(ClientErrorCode.DISCONNECTED, `closed before welcome: ${code} ${reason}`));
          }
        },
      },
    );
  });
  return { connection, welcomed };
}
