/**
 * The I/O thread: one uWebSockets.js app serving /v1/master, /v1/receiver,
 * /healthz, /readyz and /metrics. It checks frames, hands records to the
 * shards and routes what the shards send back. It never blocks: a full ring
 * answers BUSY, a slow receiver is dropped to resync. With a control
 * database it also listens for operators' incident actions (isolate, lift,
 * revoke: io/control-listener.ts, io/incident-control.ts).
 */
import {
  operations,
  rateLimits as rateLimitDefaults,
  securityEvents,
  wire,
  TokenBucket,
  RejectCode,
  type SecurityEvent,
  type SubscriptionState,
  encodeReject,
  encodeReceiverSettings,
  type ReceiverSettingsMessage,
} from '@sigplane/protocol';
import { ShardHost } from '../engine/shard-host';
import type { JournalDiskReserve, JournalSpaceLevel, JournalSpaceStatus } from '../engine/journal-space';
import type { RefusalBudget } from '../engine/shard-security-events';
import { Audience, type ShardInbound, type ShardOutbound } from '../engine/shard-protocol';
import type { ThreadMemory } from '../persistence/thread-memory';
import { ConnectionRegistry, type ConnectionData, type Socket } from './connections';
import { ControlListener } from './control-listener';
import { listenExclusive, publicListener } from './listen-exclusive';
import { FloodCooldown } from './flood-cooldown';
import { IncidentCloseCode, IncidentControl } from './incident-control';
import type { FrameContext } from './frame-context';
import { setTlsEnabled, writeSecurityHeaders } from './http-headers';
import { masterPacing, onMasterMessage, refuseFrom } from './master-connection';
import { AsyncUpgradeGuard } from './async-upgrade-guard';
import { registerMemoryGauges } from './memory-gauges';
import { Metrics } from './metrics';
import { onReceiverMessage } from './receiver-connection';
import { backpressureCloseCode, SlowConnections, uwsSendDropped } from './slow-connections';
import { handleUpgrade, refuseNonUpgrade, type Authenticator, type UpgradeDeps } from './upgrade';
import { rateLimitKeyOfAddress } from './rate-limit/address-key';
import { RateLimitBackend, type RateLimit } from './rate-limit/rate-limit-backend';
import { SubscriptionRateLimiter } from './rate-limit/subscription-limiter';
import { StatusBoard } from './status/status-board';
import { registerStatusRoutes } from './status/status-routes';
import { loadNativeUws } from './uws-native';
import type { JournalSync } from '../persistence/journal';
import type { ShipperStatus } from '../persistence/shipper/shipper';
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port (see `port` after listen). */
  port: number;
  shardCount: number;
  dataDir: string;
  journalSync: JournalSync;
  authenticator: Authenticator;
  tokenHash: (token: string) => string | null;
  /** Is the system of record reachable (for /readyz)? */
  databaseReady: () => Promise<boolean>;
  tls?: { certFile: string; keyFile: string; passphrase?: string };
  /** The journal -> Postgres shipper, when one runs: /readyz and /metrics report it. */
  shipperStatus?: () => ShipperStatus;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /**
   * The operators' control channel (LISTEN sigplane_control): isolations,
   * lifts and revocations act on live connections. Without it they act only
   * on new upgrades (the store refuses them).
   */
  controlDatabaseUrl?: string;
  /** application_name of the control connection (default sigplane_control). */
  controlApplicationName?: string;
  /** Receiver licenses' copy settings (persistence/pg/receiver-settings-store.ts): sent on subscribe and, with the control channel, on change. */
  receiverSettings?: (tokenId: string) => Promise<ReceiverSettingsMessage>;
  /** Per source IP on upgrades and per subscription on master frames; cluster-wide through Redis with redisUrl. */
  rateLimits?: {
    redisUrl?: string;
    redisKeyPrefix?: string;
    upgradesPerIp?: RateLimit;
    subscriptionSignals?: RateLimit;
    subscriptionLeaseSignals?: number;
  };
  /** The read-only status page (/status): off (404) without a token. */
  statusToken?: string;
  /** Free space kept on the data folder's filesystem: below it new signals are refused BUSY (engine/journal-space.ts). */
  journalDiskReserve?: JournalDiskReserve;
  /** Test hook (fault injection). */
  crashShardAfterRecords?: { shardIndex: number; records: number };
  /** Test hook: the shards' ring size (proto/limits.ts ringBytes otherwise). */
  ringBytes?: number;
  /** Test hook: signals each shard's delivery windows hold together (proto/limits.ts engine.deliveryWindowRecordsPerShardMax otherwise). */
  windowRecordsPerShardMax?: number;
  /** Test hook: the shards' own refusals recorded one by one (proto/limits.ts securityEvents otherwise). */
  shardRefusalBudget?: RefusalBudget;
}

/** Close codes sigplane uses (4000-4999 are the application's). */
export const CloseCode = {
  SHARD_RESTART: 1012,
  BACKPRESSURE: backpressureCloseCode,
  SHUTDOWN: 1001,
  FRAME_TOO_LARGE: 1009,
  /** An operator isolated the subscription (docs/protocol.md: reconnecting is refused until lifted). */
  ISOLATED: IncidentCloseCode.ISOLATED,
  /** An operator revoked the token this session authenticated with. */
  REVOKED: IncidentCloseCode.REVOKED,
  /** Kept sending past RATE_LIMITED answers (wire.rateLimitedFramesPerSecondMax in one second). */
  RATE_LIMITED: 4029,
} as const;

export class SigplaneServer implements FrameContext {
  readonly metrics = new Metrics();
  readonly connections = new ConnectionRegistry();
  private readonly shards: ShardHost;
  private readonly states = new Map<string, SubscriptionState>();
  private readonly shardStats = new Map<number, { journalCommits: number; journalRows: number; journalCommitMsTotal: number }>();
  /** Each shard worker's memory as it last reported (/metrics). */
  private readonly shardMemory = new Map<number, ThreadMemory>();
  /** Each shard worker's delivery windows as it last reported (/metrics). */
  private readonly shardWindowRecords = new Map<number, number>();
  /** What restarted shard workers had reported before they died: worker counters never go down. */
  private readonly retiredShardStats = { journalCommits: 0, journalRows: 0, journalCommitMsTotal: 0 };
  readonly rateLimitBackend: RateLimitBackend;
  private readonly subscriptionLimiter: SubscriptionRateLimiter;
  private readonly upgradeLimit: RateLimit;
  readonly status: StatusBoard;
  /** Security events are all journaled; only this many per second are also logged. */
  private readonly securityLogBudget = new TokenBucket(operations.securityEventLogsPerSecond, operations.securityEventLogsBurst, Date.now());
  private securityLogsSuppressed = 0;
  /** Tokens whose session was closed for flooding, refused at upgrade for a while (io/flood-cooldown.ts). */
  private readonly floodCooldown = new FloodCooldown(wire.floodCooldownMs, wire.floodCooldownTokensMax);
  private readonly upgradeGuard = new AsyncUpgradeGuard();
  private listenSocket: us_listen_socket | null = null;
  private uws = loadNativeUws();
  private fatal: Error | null = null;
  /** While a batch from a shard is routed: frames waiting per socket (see flushCorked). */
  private corking = false;
  private readonly corked = new Map<Socket, Uint8Array[]>();
  /** Receivers too far behind, and sends past uWS's buffer limit, close their connection (io/slow-connections.ts). */
  readonly slow = new SlowConnections({ metrics: this.metrics, log: (level, message, fields) => this.log(level, message, fields) });
  readonly incident: IncidentControl;
  private control: ControlListener | null = null;
  port = 0;

  constructor(private readonly options: ServerOptions) {
    this.shards = new ShardHost({
      shardCount: options.shardCount,
      dataDir: options.dataDir,
      journalSync: options.journalSync,
      onOutbound: (message, index) => this.onOutbound(message, index),
      onOutboundBatchEnd: () => this.flushCorked(),
      onShardRestart: (index, error) => this.onShardRestart(index, error),
      onEscalate: (index, error) => this.onEscalate(index, error),
      journalDiskReserve: options.journalDiskReserve,
      onJournalSpace: (status, previous) => this.onJournalSpace(status, previous),
      onShardWaitingForSpace: (index, error) => this.onShardWaitingForSpace(index, error),
      onNotTaken: (message) => this.answerNotTaken(message),
      crashAfterRecords: options.crashShardAfterRecords,
      ringBytes: options.ringBytes,
      windowRecordsPerShardMax: options.windowRecordsPerShardMax,
      refusalBudget: options.shardRefusalBudget,
    });
    this.incident = new IncidentControl({
      connections: this.connections,
      closeSocket: (ws, code, reason) => this.closeSocket(ws, code, reason),
      toShard: (sub, message) => this.toShard(sub, message),
      reportedStates: () => this.states.entries(),
      reportedState: (sub) => this.states.get(sub),
      onClosed: (reason, count) => this.metrics.operatorCloses.inc({ reason }, count),
      onReceiverSettingsChanged: (tokenId) => this.resendReceiverSettings(tokenId),
      log: (level, message, fields) => this.log(level, message, fields),
      nowMs: () => Date.now(),
    });
    const limits = options.rateLimits ?? {};
    this.rateLimitBackend = new RateLimitBackend({
      redisUrl: limits.redisUrl,
      redisKeyPrefix: limits.redisKeyPrefix,
      log: (level, message, fields) => this.log(level, message, fields),
      nowMs: () => Date.now(),
    });
    this.upgradeLimit = limits.upgradesPerIp ?? { ratePerSecond: rateLimitDefaults.upgradesPerIpPerSecond, burst: rateLimitDefaults.upgradesPerIpBurst };
    this.subscriptionLimiter = new SubscriptionRateLimiter(
      this.rateLimitBackend,
      limits.subscriptionSignals ?? { ratePerSecond: rateLimitDefaults.subscriptionSignalsPerSecond, burst: rateLimitDefaults.subscriptionSignalsBurst },
      limits.subscriptionLeaseSignals,
    );
    this.status = new StatusBoard({
      metrics: this.metrics,
      connections: () => this.connections.connectionsWhere(() => true),
      states: () => this.states.entries(),
      rateLimitSource: () => this.rateLimitBackend.source,
      tls: options.tls !== undefined,
      nowMs: () => Date.now(),
    });
    this.registerGauges();
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, message, fields);
  }

  async start(): Promise<void> {
    await this.shards.start();
    // Before listening: a subscription isolated while this server was down is isolated before anyone connects.
    if (this.options.controlDatabaseUrl !== undefined) {
      this.control = new ControlListener({
        databaseUrl: this.options.controlDatabaseUrl,
        applicationName: this.options.controlApplicationName,
        target: this.incident,
        log: (level, message, fields) => this.log(level, message, fields),
      });
      await this.control.start();
    }
    const tls = this.options.tls;
    setTlsEnabled(tls !== undefined);
    const app = tls
      ? this.uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, passphrase: tls.passphrase })
      : this.uws.App();
    this.route(app, '/v1/master', 'master', wire.masterFrameBytesMax, wire.masterBackpressureBytesMax);
    this.route(app, '/v1/receiver', 'receiver', wire.receiverFrameBytesMax, wire.receiverBackpressureBytesMax);
    app.get('/healthz', (res) => this.answer(res, '200 OK', 'text/plain', 'ok\n'));
    app.get('/readyz', (res) => this.readyz(res));
    app.get('/metrics', (res) => this.answer(res, '200 OK', 'text/plain; version=0.0.4', this.metrics.render()));
    registerStatusRoutes(app, {
      token: this.options.statusToken ?? null,
      board: this.status,
      answer: (res, status, contentType, body, csp) => this.answer(res, status, contentType, body, csp),
    });
    app.any('/*', (res) => this.answer(res, '404 Not Found', 'application/json', '{"code":"NOT_FOUND"}'));
    this.slow.start();
    // Exclusive: a second server on a taken port fails here, naming the cause (io/listen-exclusive.ts).
    const socket = await listenExclusive(this.uws, app, { ...publicListener, host: this.options.host, port: this.options.port });
    this.listenSocket = socket;
    this.port = this.uws.us_socket_local_port(socket);
    this.log('info', 'listening', { host: this.options.host, port: this.port, tls: tls !== undefined });
  }

  async stop(): Promise<void> {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.slow.stop();
    for (const ws of this.connections.connectionsWhere(() => true)) this.closeSocket(ws, CloseCode.SHUTDOWN, 'shutdown');
    await this.control?.stop();
    this.control = null;
    this.incident.stop();
    await this.shards.stop();
    await this.rateLimitBackend.close();
  }

  /** The control channel: null without controlDatabaseUrl. */
  get controlListener(): ControlListener | null {
    return this.control;
  }

  /** The subscription's state as last reported by its actor (ACTIVE when none yet). */
  stateOf(subscriptionId: string): SubscriptionState {
    return this.states.get(subscriptionId) ?? 'ACTIVE';
  }

  get shardRestarts(): number {
    return this.shards.restarts;
  }

  private route(app: TemplatedApp, path: string, role: 'master' | 'receiver', maxPayloadLength: number, maxBackpressure: number): void {
    const upgradeDeps: UpgradeDeps = {
      authenticator: this.options.authenticator,
      tokenHash: this.options.tokenHash,
      allocateConnId: () => this.connections.allocateConnId(),
      recordSecurityEvent: (event) => this.recordSecurityEvent(event),
      onRefused: (reason) => {
        this.metrics.upgradesRefused.inc({ reason });
        if (reason === 'RATE_LIMITED') this.metrics.rateLimitHits.inc({ limit: 'upgrade_ip' });
      },
      admitUpgrade: (remoteAddress) => this.rateLimitBackend.take('upgrade-ip', rateLimitKeyOfAddress(remoteAddress), this.upgradeLimit),
      log: (level, message, fields) => this.log(level, message, fields),
      tls: this.options.tls !== undefined,
      floodCooldownMs: (tokenId) => this.floodCooldown.remainingMs(tokenId, Date.now()),
      upgradeGuard: this.upgradeGuard,
    };
    // uWS gives the WebSocket handler only GETs with a Sec-WebSocket-Key; every other request on the path lands here.
    app.any(path, (res, req) => refuseNonUpgrade(res, req, role, upgradeDeps));
    app.ws<ConnectionData>(path, {
      // Up to twice the limit we answer FRAME_TOO_LARGE and close with 1009;
      // beyond that uWS drops the connection without reading the frame.
      maxPayloadLength: maxPayloadLength * 2,
      // A send past maxBackpressure is refused (DROPPED) and the connection
      // dropped by sendNow. uWS's closeOnBackpressureLimit would only shut
      // the socket's read side, and a close frame sent then is refused too.
      maxBackpressure,
      closeOnBackpressureLimit: 0,
      idleTimeout: wire.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      compression: this.uws.DISABLED,
      upgrade: (res, req, context) => handleUpgrade(res, req, context, role, upgradeDeps),
      open: (ws) => this.onOpen(ws),
      message: (ws, message, isBinary) => {
        if (message.byteLength > maxPayloadLength) {
          this.reject(ws, RejectCode.FRAME_TOO_LARGE, `frames are at most ${maxPayloadLength} bytes`, 0);
          return this.closeSocket(ws, CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
        }
        if (role === 'master') onMasterMessage(ws, message, isBinary, this);
        else onReceiverMessage(ws, message, isBinary, this);
      },
      pong: (ws, message) => {
        if (role === 'receiver') this.slow.onPong(ws, message, Date.now());
      },
      close: (ws, code) => this.onClose(ws, code),
    });
  }

  private onOpen(ws: Socket): void {
    const data = ws.getUserData();
    // Authenticated just before an isolation or a revocation, opened just after it.
    const refusal = this.incident.refusalOnOpen(data);
    if (refusal !== null) {
      this.metrics.operatorCloses.inc({ reason: refusal.reason });
      return this.closeSocket(ws, refusal.code, refusal.reason);
    }
    this.connections.add(ws);
    if (data.role === 'master') {
      const ok = this.toShard(data.subscriptionId, {
        t: 'event',
        sub: data.subscriptionId,
        settings: data.settings,
        ev: { kind: 'masterAttach', connId: data.connId, pacing: masterPacing(data.bucket, this.subscriptionLimiter.limitNow()) },
        remoteAddress: data.remoteAddress,
      });
      if (!ok) this.closeSocket(ws, CloseCode.SHARD_RESTART, 'engine busy');
    }
  }

  private onClose(ws: Socket, code: number): void {
    const data = ws.getUserData();
    data.closed = true;
    this.slow.forget(ws);
    if (this.upgradeGuard.closedDuringUpgrade(data.connId, code)) {
      this.metrics.upgradesClosedByCork.inc();
      this.log('warn', 'uWebSockets closed a connection inside the cork that upgraded it (a known uWS bug); upgrades are no longer corked, so uWS prints a warning for each', {
        connId: data.connId,
        role: data.role,
        subscriptionId: data.subscriptionId,
      });
    }
    if (!this.connections.remove(ws)) return; // closed on open: the shard never heard of it
    this.log('info', 'connection closed', { connId: data.connId, role: data.role, subscriptionId: data.subscriptionId });
    const kind = data.role === 'master' ? 'masterDetach' : 'receiverDetach';
    this.toShard(data.subscriptionId, { t: 'event', sub: data.subscriptionId, ev: { kind, connId: data.connId } });
  }

  private closeSocket(ws: Socket, code: number, reason: string): void {
    const data = ws.getUserData();
    if (data.closed) return;
    data.closed = true;
    ws.end(code, reason);
  }

  // ---- FrameContext ----

  sendTo(ws: Socket, frame: Uint8Array): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (this.corking) {
      const queued = this.corked.get(ws);
      if (queued === undefined) this.corked.set(ws, [frame]);
      else queued.push(frame);
      return;
    }
    this.sendNow(ws, frame);
  }

  /**
   * Sends made outside uWS's own callbacks (what the shards send back) are
   * gathered per socket for one batch and written corked: one syscall per
   * socket per batch instead of one per frame.
   */
  private flushCorked(): void {
    this.corking = false;
    const nowMs = Date.now();
    for (const [ws, frames] of this.corked) {
      const data = ws.getUserData();
      if (data.closed) continue;
      ws.cork(() => {
        for (const frame of frames) this.sendNow(ws, frame);
        if (data.role === 'receiver') this.slow.afterBatch(ws, frames, nowMs);
      });
    }
    this.corked.clear();
    this.incident.afterFlush();
  }

  private sendNow(ws: Socket, frame: Uint8Array): void {
    const data = ws.getUserData();
    if (data.closed) return;
    if (ws.send(frame, true) === uwsSendDropped) this.slow.drop(ws, 'send_buffer_full');
  }

  reject(ws: Socket, code: RejectCode, message: string, sequence: number): void {
    const data = ws.getUserData();
    this.metrics.rejects.inc({ code });
    this.sendTo(ws, encodeReject(code, message, sequence));
    this.recordSecurityEvent({
      atMs: Date.now(),
      code,
      subscriptionId: data.subscriptionId,
      role: data.role,
      remoteAddress: data.remoteAddress,
      sequence: sequence === 0 ? null : sequence,
      detail: message,
    });
  }

  takeToken(ws: Socket, nowMs: number, sequence: number): boolean {
    const data = ws.getUserData();
    const limit = !data.bucket.take(nowMs)
      ? 'connection'
      : data.role === 'master' && !this.subscriptionLimiter.take(data.subscriptionId, nowMs)
        ? 'subscription'
        : null;
    // A flood would otherwise flood the journal: one security event per connection per interval, with the count.
    const reportDue = nowMs - data.rateLimitedReportedAtMs >= wire.rateLimitedEventIntervalMs;
    if (limit === null) {
      if (data.rateLimitedUnreported > 0 && reportDue) this.reportRateLimited(ws, nowMs);
      return true;
    }
    this.metrics.rateLimitHits.inc({ limit });
    this.metrics.rejects.inc({ code: RejectCode.RATE_LIMITED });
    data.rateLimitedUnreported++;
    if (reportDue) this.reportRateLimited(ws, nowMs);
    if (nowMs - data.rateLimitedWindowStartMs >= 1000) {
      data.rateLimitedWindowStartMs = nowMs;
      data.rateLimitedInWindow = 0;
    }
    if (++data.rateLimitedInWindow > wire.rateLimitedFramesPerSecondMax) {
      if (data.rateLimitedUnreported > 0) this.reportRateLimited(ws, nowMs);
      this.log('warn', 'connection closed: it kept sending past RATE_LIMITED', { connId: data.connId, role: data.role, subscriptionId: data.subscriptionId });
      this.metrics.policyCloses.inc({ reason: 'RATE_LIMITED' });
      this.floodCooldown.start(data.tokenId, nowMs);
      this.closeSocket(ws, CloseCode.RATE_LIMITED, 'RATE_LIMITED');
      return false;
    }
    // A master's signal N not taken: N and what follows are refused until N comes again (no gap).
    const resendFrom = data.role === 'master' && sequence > 0 ? refuseFrom(data, sequence) : 0;
    this.sendTo(ws, encodeReject(RejectCode.RATE_LIMITED, resendFrom > 0 ? `rate limit exceeded, resend from ${resendFrom}` : 'rate limit exceeded', sequence));
    return false;
  }

  private reportRateLimited(ws: Socket, nowMs: number): void {
    const data = ws.getUserData();
    data.rateLimitedReportedAtMs = nowMs;
    this.recordSecurityEvent({
      atMs: Date.now(),
      code: RejectCode.RATE_LIMITED,
      subscriptionId: data.subscriptionId,
      role: data.role,
      remoteAddress: data.remoteAddress,
      sequence: null,
      detail: `${Math.max(1, data.rateLimitedUnreported)} frame(s) over the limit`,
    });
    data.rateLimitedUnreported = 0;
  }

  get loadReceiverSettings(): ((tokenId: string) => Promise<Uint8Array>) | undefined {
    const source = this.options.receiverSettings;
    return source === undefined ? undefined : async (tokenId) => encodeReceiverSettings(await source(tokenId));
  }

  /** Settings changed: every subscribed session of the license gets them again (a receiver keeps the highest revision). */
  private resendReceiverSettings(tokenId: string): void {
    const load = this.loadReceiverSettings;
    if (load === undefined) return;
    load(tokenId).then(
      (frame) => {
        for (const ws of this.connections.ofToken(tokenId)) {
          const data = ws.getUserData();
          if (data.role === 'receiver' && data.subscribed && !data.closed) ws.cork(() => this.sendTo(ws, frame));
        }
      },
      (error: unknown) => this.log('warn', 'receiver settings not resent', { tokenId, error: (error as Error).message }),
    );
  }

  toShard(subscriptionId: string, message: ShardInbound): boolean {
    return this.shards.send(subscriptionId, message);
  }

  private recordSecurityEvent(event: SecurityEvent): void {
    if (event.detail.length > securityEvents.detailCharsMax) event.detail = event.detail.slice(0, securityEvents.detailCharsMax);
    this.logSecurityEvent(event);
    const shard = event.subscriptionId === null ? 0 : this.shards.shardOf(event.subscriptionId);
    if (!this.shards.sendToShard(shard, { t: 'security', ev: event })) this.metrics.securityEventsDropped.inc();
  }

  /** A flood is journaled in full but logged within a budget; the next logged line says how many were left out. */
  private logSecurityEvent(event: SecurityEvent): void {
    if (!this.securityLogBudget.take(Date.now())) {
      this.securityLogsSuppressed++;
      return;
    }
    const { atMs: _atMs, ...fields } = event;
    this.log('warn', 'security event', { ...fields, suppressedBefore: this.securityLogsSuppressed });
    this.securityLogsSuppressed = 0;
  }

  // ---- what the shards send back ----

  private onOutbound(message: ShardOutbound, shardIndex: number): void {
    this.corking = true;
    switch (message.t) {
      case 'send':
        return this.route_(message);
      case 'live': {
        const ws = this.connections.get(message.conn);
        if (ws !== undefined && !ws.getUserData().closed) this.connections.markLive(ws);
        return;
      }
      case 'state':
        this.states.set(message.sub, message.state);
        this.incident.onActorState(message.sub, message.state);
        return;
      case 'stats': {
        this.shardStats.set(shardIndex, { journalCommits: message.journalCommits, journalRows: message.journalRows, journalCommitMsTotal: message.journalCommitMsTotal });
        this.shardMemory.set(shardIndex, message.memory);
        this.shardWindowRecords.set(shardIndex, message.windowRecords);
        return;
      }
      case 'security':
        return this.logSecurityEvent(message.ev);
      case 'ready':
        return;
    }
  }

  private route_(message: Extract<ShardOutbound, { t: 'send' }>): void {
    const { frame } = message;
    switch (message.to) {
      case Audience.CONN: {
        const ws = this.connections.get(message.conn);
        if (ws !== undefined) this.sendTo(ws, frame);
        break;
      }
      case Audience.RECEIVERS:
        for (const ws of this.connections.liveReceivers(message.sub)) this.sendTo(ws, frame);
        break;
      case Audience.MASTERS:
        for (const ws of this.connections.masters(message.sub)) this.sendTo(ws, frame);
        break;
      case Audience.ALL:
        for (const ws of this.connections.connectionsWhere((s) => s === message.sub)) this.sendTo(ws, frame);
        break;
    }
    if (message.kind === 'ack') {
      if (message.outcome === 'DUPLICATE') this.metrics.signalsDuplicate.inc();
      else {
        this.metrics.signalsAccepted.inc();
        this.status.onAccepted(message.sub);
      }
      if (message.t0 > 0) this.metrics.ingestToAck.observeSeconds((performance.now() - message.t0) / 1000);
    } else if (message.kind === 'reject') {
      if (message.outcome !== undefined) this.metrics.rejects.inc({ code: message.outcome });
    } else if (message.kind === 'reportAck' && message.report !== undefined) {
      const r = message.report;
      this.metrics.executionReports.inc({ kind: r.kind, outcome: r.outcome });
      if (r.delayMs !== null) this.metrics.copyDelay.observe(r.delayMs / 1000);
      if (r.slippagePips !== null) this.metrics.copySlippage.observe(r.slippagePips);
    } else if (message.kind === 'delivery') {
      this.metrics.deliveries.inc();
      if (message.t0 > 0 && message.to === Audience.RECEIVERS) {
        this.metrics.ingestToDelivery.observeSeconds((performance.now() - message.t0) / 1000);
      }
    }
  }

  private onShardRestart(index: number, error: Error): void {
    // The new worker counts from zero: what the dead one had reported is kept (at most its last second is lost).
    const before = this.shardStats.get(index);
    if (before !== undefined) {
      this.retiredShardStats.journalCommits += before.journalCommits;
      this.retiredShardStats.journalRows += before.journalRows;
      this.retiredShardStats.journalCommitMsTotal += before.journalCommitMsTotal;
      this.shardStats.delete(index);
    }
    this.log('warn', 'shard restarted from its journal; its connections resync', { shard: index, error: error.message, stack: error.stack });
    for (const ws of this.connections.connectionsWhere((s) => this.shards.shardOf(s) === index)) {
      this.closeSocket(ws, CloseCode.SHARD_RESTART, 'shard restarted');
    }
  }

  private onEscalate(index: number, error: Error): void {
    this.fatal = error;
    this.log('error', 'shard keeps dying: escalating', { shard: index, error: error.message, stack: error.stack });
    for (const ws of this.connections.connectionsWhere((s) => this.shards.shardOf(s) === index)) {
      this.closeSocket(ws, CloseCode.SHARD_RESTART, 'shard down');
    }
  }

  private onJournalSpace(status: JournalSpaceStatus, previous: JournalSpaceLevel): void {
    const fields = { freeBytes: status.freeBytes, reserveBytes: status.reserveBytes, resumeBytes: status.resumeBytes, previous };
    if (status.level === 'full') this.log('error', 'journal disk full: new signals are refused BUSY until free space is back at the resume mark', fields);
    else if (status.level === 'low') this.log('warn', 'journal disk low: new signals are refused BUSY until free space is back at the resume mark', fields);
    else this.log('info', 'journal disk has room again: signals are taken', fields);
  }

  /** Its connections stay open (answered BUSY meanwhile) and are closed to resync once it is back. */
  private onShardWaitingForSpace(index: number, error: Error): void {
    this.log('error', 'shard stopped: no space for its journal; it starts again from its journal once there is room', { shard: index, error: error.message });
  }

  /** A record a shard stopped for lack of space never took: BUSY, as a full ring answers. */
  private answerNotTaken(message: ShardInbound): void {
    this.corking = true;
    if (message.t === 'report') return this.answerBusy(message.conn, 'execution report: engine busy, resend', message.report.sequence);
    if (message.t !== 'event') return;
    const ev = message.ev;
    if (ev.kind === 'signal') this.answerBusy(ev.connId, `engine busy, resend from ${ev.record.sequence}`, ev.record.sequence);
    else if (ev.kind === 'masterSnapshot') this.answerBusy(ev.connId, 'engine busy, resend', ev.snapshot.sequence);
    else if (ev.kind === 'receiverSubscribe') {
      const ws = this.connections.get(ev.connId);
      if (ws !== undefined) ws.getUserData().subscribed = false;
      this.answerBusy(ev.connId, 'engine busy, subscribe again', 0);
    }
  }

  private answerBusy(connId: number, message: string, sequence: number): void {
    const ws = this.connections.get(connId);
    if (ws === undefined) return;
    this.metrics.rejects.inc({ code: RejectCode.BUSY });
    this.sendTo(ws, encodeReject(RejectCode.BUSY, message, sequence));
  }

  get escalated(): Error | null {
    return this.fatal;
  }

  // ---- HTTP ----

  private answer(res: HttpResponse, status: string, contentType: string, body: string, csp?: string): void {
    res.cork(() => {
      res.writeStatus(status);
      writeSecurityHeaders(res, { tls: this.options.tls !== undefined, csp });
      res.writeHeader('content-type', contentType);
      res.end(body);
    });
  }

  private readyz(res: HttpResponse): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void this.options.databaseReady().then(
      (db) => {
        if (aborted) return;
        const reasons: string[] = [];
        if (!db) reasons.push('database unreachable');
        if (this.fatal) reasons.push('a shard is down');
        // The journals' filesystem: 'low' (below the reserve) and 'full' (a journal write found no space) refuse new signals.
        const space = this.shards.journalSpace();
        if (space.level !== 'ok') reasons.push(`journal disk ${space.level}`);
        const shipping = this.options.shipperStatus?.();
        const body = JSON.stringify({
          ready: reasons.length === 0,
          reasons,
          // Postgres unreachable by the shipper: signals are still accepted, journaled and delivered.
          journaling: shipping === undefined ? false : !shipping.postgresUp,
          shipLagRows: shipping?.lagRows,
          shipLagSeconds: shipping?.lagSeconds,
          // 'low' or 'full' (free space, refusing); else the journals' size against --journal-budget: 'warning' as it fills, 'over' past it (still accepting).
          journalDisk: space.level !== 'ok' ? space.level : shipping?.journalDisk.level,
          journalDiskBytes: shipping?.journalDisk.bytes,
          journalDiskBudgetBytes: shipping?.journalDisk.budgetBytes,
          journalDiskFreeBytes: space.freeBytes,
          journalDiskReserveBytes: space.reserveBytes,
          journalDiskResumeBytes: space.resumeBytes,
        });
        this.answer(res, reasons.length === 0 ? '200 OK' : '503 Service Unavailable', 'application/json', body);
      },
      () => {
        if (!aborted) this.answer(res, '503 Service Unavailable', 'application/json', '{"ready":false,"reasons":["database check failed"]}');
      },
    );
  }

  private registerGauges(): void {
    registerMemoryGauges(this.metrics, { shards: () => this.shardMemory.entries(), shipper: () => this.options.shipperStatus?.().memory });
    this.metrics.gauge('sigplane_delivery_window_records', 'Signals held in the delivery windows of each shard worker (at most deliveryWindowRecordsPerShardMax).', () =>
      [...this.shardWindowRecords].map(([shard, records]) => ({ labels: { shard: String(shard) }, value: records })),
    );
    this.metrics.gauge('sigplane_connections', 'Open connections by role.', () => {
      const c = this.connections.counts();
      return [
        { labels: { role: 'master' }, value: c.masters },
        { labels: { role: 'receiver' }, value: c.receivers },
        { labels: { role: 'receiver_live' }, value: c.liveReceivers },
      ];
    });
    this.metrics.gauge('sigplane_ring_depth_bytes', 'Bytes waiting in each ring.', () =>
      this.shards.ringDepths().flatMap((d) => [
        { labels: { shard: String(d.shard), direction: 'inbound' }, value: d.inboundBytes },
        { labels: { shard: String(d.shard), direction: 'outbound' }, value: d.outboundBytes },
      ]),
    );
    this.metrics.gauge('sigplane_detach_backlog_records', 'Connection detaches waiting for room in each shard\'s full ring (at most shardDetachBacklogMax).', () =>
      this.shards.ringDepths().map((d) => ({ labels: { shard: String(d.shard) }, value: d.detachBacklog })),
    );
    this.metrics.gauge('sigplane_subscriptions', 'Subscriptions by state (as reported since start).', () => {
      const counts = new Map<string, number>();
      for (const state of this.states.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
      return [...counts].map(([state, value]) => ({ labels: { state }, value }));
    });
    this.metrics.counterFrom('sigplane_shard_restarts_total', 'Shard workers restarted from their journal.', () => [
      { labels: {}, value: this.shards.restarts },
    ]);
    // Worker counters, summed over the shards and over the workers a restart replaced (reported once a second).
    const workerTotal = (field: 'journalCommits' | 'journalRows' | 'journalCommitMsTotal'): number => {
      let total = this.retiredShardStats[field];
      for (const s of this.shardStats.values()) total += s[field];
      return total;
    };
    this.metrics.counterFrom('sigplane_journal_commits_total', 'Journal commits (group commits), all shard workers.', () => [
      { labels: {}, value: workerTotal('journalCommits') },
    ]);
    this.metrics.counterFrom('sigplane_journal_rows_total', 'Rows journaled, all shard workers.', () => [
      { labels: {}, value: workerTotal('journalRows') },
    ]);
    this.metrics.counterFrom('sigplane_journal_commit_seconds_total', 'Time spent in journal commits, all shard workers.', () => [
      { labels: {}, value: workerTotal('journalCommitMsTotal') / 1000 },
    ]);
    const shipping = (): ShipperStatus | undefined => this.options.shipperStatus?.();
    this.metrics.gauge('sigplane_shipper_postgres_up', 'The journal shipper reaches Postgres (1) or is journaling only (0).', () => {
      const s = shipping();
      return s === undefined ? [] : [{ labels: {}, value: s.postgresUp ? 1 : 0 }];
    });
    this.metrics.gauge('sigplane_shipper_lag_rows', 'Journal rows not yet in Postgres.', () =>
      (shipping()?.shards ?? []).flatMap((shard) =>
        Object.entries(shard.tables).map(([table, t]) => ({ labels: { shard: String(shard.shard), table }, value: t.lagRows })),
      ),
    );
    this.metrics.gauge('sigplane_shipper_lag_seconds', 'Age of the oldest journal row not yet in Postgres.', () => {
      const s = shipping();
      return s === undefined ? [] : [{ labels: {}, value: s.lagSeconds }];
    });
    this.metrics.counterFrom('sigplane_shipper_rows_shipped_total', 'Journal rows shipped to Postgres since start.', () => {
      const s = shipping();
      return s === undefined ? [] : [{ labels: {}, value: s.shippedRows }];
    });
    this.metrics.gauge('sigplane_journal_disk_bytes', 'Disk used by the shard journals (pages in use plus WAL), per shard.', () =>
      (shipping()?.shards ?? []).map((shard) => ({ labels: { shard: String(shard.shard) }, value: shard.journalBytes })),
    );
    this.metrics.gauge('sigplane_journal_disk_budget_bytes', 'Disk budget of all shard journals together (--journal-budget).', () => {
      const s = shipping();
      return s === undefined ? [] : [{ labels: {}, value: s.journalDisk.budgetBytes }];
    });
    this.metrics.gauge('sigplane_journal_disk_fill_ratio', 'Journal disk used / budget (warning from 0.8, over budget past 1).', () => {
      const s = shipping();
      return s === undefined ? [] : [{ labels: {}, value: s.journalDisk.fillRatio }];
    });
    this.metrics.gauge('sigplane_journal_disk_free_bytes', 'Free space of the data folder\'s filesystem, as the journals may use it.', () => {
      const free = this.shards.journalSpace().freeBytes;
      return free === null ? [] : [{ labels: {}, value: free }];
    });
    this.metrics.gauge('sigplane_journal_disk_reserve_bytes', 'Free space kept: below it new signals are refused BUSY (--journal-disk-reserve).', () => [
      { labels: {}, value: this.shards.journalSpace().reserveBytes },
    ]);
    this.metrics.counterFrom('sigplane_journal_disk_refusals_total', 'Records refused BUSY because the journal disk was low or full.', () => [
      { labels: {}, value: this.shards.diskRefusals },
    ]);
    this.metrics.gauge('sigplane_journal_pruned_rows', 'Journal rows deleted after shipping, by table, since the shipper thread started.', () => {
      const s = shipping();
      if (s === undefined) return [];
      return [
        { labels: { table: 'signals' }, value: s.pruned.signals },
        { labels: { table: 'states' }, value: s.pruned.states },
        { labels: { table: 'security_events' }, value: s.pruned.securityEvents },
        { labels: { table: 'execution_reports' }, value: s.pruned.executionReports },
      ];
    });
    this.metrics.gauge('sigplane_control_listener_up', 'The operators\' control channel is listening (1) or reconnecting (0); absent without one.', () =>
      this.control === null ? [] : [{ labels: {}, value: this.control.up ? 1 : 0 }],
    );
    this.metrics.counterFrom('sigplane_control_listener_connects_total', 'Connects of the control channel since start (more than 1: it reconnected).', () =>
      this.control === null ? [] : [{ labels: {}, value: this.control.connects }],
    );
    this.metrics.counterFrom('sigplane_busy_rejects_total', 'Records refused because a ring was full.', () => [
      { labels: {}, value: this.shards.busyRejects },
    ]);
    this.metrics.gauge('sigplane_rate_limit_redis_up', 'Rate limits are decided in Redis, cluster-wide (1), or by the stricter per-node fallback (0); absent without REDIS_URL.', () =>
      this.rateLimitBackend.redis === null ? [] : [{ labels: {}, value: this.rateLimitBackend.redis.up ? 1 : 0 }],
    );
    this.metrics.counterFrom('sigplane_rate_limit_fallback_decisions_total', 'Rate-limit decisions made by the stricter in-memory fallback while Redis was unreachable.', () => [
      { labels: {}, value: this.rateLimitBackend.fallbackDecisions },
    ]);
  }
}
