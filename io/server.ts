/**
 * The I/O thread: one uWebSockets.js app serving /v1/master, /v1/receiver,
 * /healthz, /readyz and /metrics. It checks frames, hands records to the
 * shards and routes what the shards send back. It never blocks: a full ring
 * answers BUSY, a slow receiver is dropped to resync. With a control
 * database it also listens for operators' incident actions (isolate, lift,
 * revoke: io/control-listener.ts, io/incident-control.ts).
 *
 * This class is the wiring: it builds the parts and starts and stops them.
 *   paths           io/websocket-routes.ts (upgrade, frames, open, close),
 *                   io/http-routes.ts (/healthz, /readyz, /metrics, /status)
 *   frames in       io/master-connection.ts, io/receiver-connection.ts,
 *                   through the FrameContext built here (io/frame-context.ts)
 *   rate limits     io/frame-rate-limit.ts; upgrades: io/upgrade.ts
 *   frames out      io/outbound-router.ts, written corked (io/corked-sends.ts);
 *                   slow receivers: io/slow-connections.ts
 *   shards          engine/shard-host.ts; what they report: io/shard-reports.ts;
 *                   restarts, escalation, journal disk: io/shard-supervision.ts
 *   security events io/security-event-log.ts
 *   readiness       io/readiness.ts; gauges: io/server-gauges.ts
 */
import { rateLimits as rateLimitDefaults, encodeReject, RejectCode, wire, type SubscriptionState } from '@sigplane/protocol';
import type { us_listen_socket } from 'uWebSockets.js';
import { ShardHost } from '../engine/shard-host';
import { AsyncUpgradeGuard } from './async-upgrade-guard';
import { BusyRefusalEvents } from './busy-refusal-events';
import { CloseCode } from './close-codes';
import { closeSocket, ConnectionRegistry, type Socket } from './connections';
import { ControlListener } from './control-listener';
import { CorkedSends } from './corked-sends';
import { FloodCooldown } from './flood-cooldown';
import type { FrameContext } from './frame-context';
import { FrameRateLimit } from './frame-rate-limit';
import { setTlsEnabled } from './http-headers';
import { registerHttpRoutes } from './http-routes';
import { IncidentControl } from './incident-control';
import { listenExclusive, publicListener } from './listen-exclusive';
import { Metrics } from './metrics';
import { OutboundRouter } from './outbound-router';
import { rateLimitKeyOfAddress } from './rate-limit/address-key';
import { RateLimitBackend, type RateLimit } from './rate-limit/rate-limit-backend';
import { SubscriptionRateLimiter } from './rate-limit/subscription-limiter';
import { ReceiverAckForwarding } from './receiver-ack-forwarding';
import { receiverSettingsFrames, resendReceiverSettings } from './receiver-settings-frames';
import { SecurityEventLog } from './security-event-log';
import { registerServerGauges } from './server-gauges';
import type { ServerLog, ServerOptions } from './server-options';
import { ShardReports } from './shard-reports';
import { ShardSupervision } from './shard-supervision';
import { SlowConnections } from './slow-connections';
import { StatusBoard } from './status/status-board';
import type { UpgradeDeps } from './upgrade';
import { loadNativeUws } from './uws-native';
import { registerWebSocketRoutes } from './websocket-routes';

export { CloseCode } from './close-codes';
export type { ServerLog, ServerOptions } from './server-options';

export class SigplaneServer {
  readonly metrics = new Metrics();
  readonly connections = new ConnectionRegistry();
  readonly rateLimitBackend: RateLimitBackend;
  readonly status: StatusBoard;
  /** Receivers too far behind, and sends past uWS's buffer limit, close their connection (io/slow-connections.ts). */
  readonly slow: SlowConnections;
  readonly incident: IncidentControl;
  port = 0;
  private readonly shards: ShardHost;
  private readonly reports = new ShardReports();
  private readonly supervision: ShardSupervision;
  private readonly sends: CorkedSends;
  private readonly router: OutboundRouter;
  private readonly securityLog: SecurityEventLog;
  private readonly ackForwarding: ReceiverAckForwarding;
  private readonly busyEvents: BusyRefusalEvents;
  private readonly subscriptionLimiter: SubscriptionRateLimiter;
  private readonly upgradeLimit: RateLimit;
  /** Tokens whose session was closed for flooding, refused at upgrade for a while (io/flood-cooldown.ts). */
  private readonly floodCooldown = new FloodCooldown(wire.floodCooldownMs, wire.floodCooldownTokensMax);
  private readonly upgradeGuard = new AsyncUpgradeGuard();
  /** What the frame handlers may do (io/frame-context.ts). */
  private readonly frames: FrameContext;
  private readonly log: ServerLog;
  private listenSocket: us_listen_socket | null = null;
  private uws = loadNativeUws();
  private control: ControlListener | null = null;

  constructor(private readonly options: ServerOptions) {
    const log: ServerLog = (level, message, fields) => options.log?.(level, message, fields);
    this.log = log;
    const { metrics, connections, reports } = this;
    this.slow = new SlowConnections({ metrics, log });
    const sends = (this.sends = new CorkedSends(this.slow));
    this.shards = new ShardHost({
      shardCount: options.shardCount,
      dataDir: options.dataDir,
      journalSync: options.journalSync,
      onOutbound: (message, index) => this.router.onOutbound(message, index),
      onOutboundBatchEnd: () => this.router.onBatchEnd(),
      onShardRestart: (index, error) => this.supervision.onShardRestart(index, error),
      onEscalate: (index, error) => this.supervision.onEscalate(index, error),
      journalDiskReserve: options.journalDiskReserve,
      onJournalSpace: (status, previous) => this.supervision.onJournalSpace(status, previous),
      onShardWaitingForSpace: (index, error) => this.supervision.onShardWaitingForSpace(index, error),
      onNotTaken: (message) => this.supervision.answerNotTaken(message),
      crashAfterRecords: options.crashShardAfterRecords,
      ringBytes: options.ringBytes,
      windowRecordsPerShardMax: options.windowRecordsPerShardMax,
      refusalBudget: options.shardRefusalBudget,
    });
    const shards = this.shards;
    const shardOf = (subscriptionId: string): number => shards.shardOf(subscriptionId);
    this.supervision = new ShardSupervision({
      connections,
      shardOf,
      reports,
      sends,
      metrics,
      log,
      busyRefused: (ws, sequence, nowMs) => this.busyEvents.refused(ws, sequence, nowMs),
    });
    const securityLog = (this.securityLog = new SecurityEventLog({
      metrics,
      shardOf,
      sendToShard: (index, message) => shards.sendToShard(index, message),
      log,
    }));
    const loadReceiverSettings = receiverSettingsFrames(options.receiverSettings);
    const sendTo = sends.sendTo.bind(sends);
    this.incident = new IncidentControl({
      connections,
      closeSocket,
      toShard: (sub, message) => shards.send(sub, message),
      reportedStates: () => reports.states.entries(),
      reportedState: (sub) => reports.states.get(sub),
      onClosed: (reason, count) => metrics.operatorCloses.inc({ reason }, count),
      onReceiverSettingsChanged: (tokenId) => resendReceiverSettings(tokenId, { load: loadReceiverSettings, connections, sendTo, log }),
      log,
      nowMs: () => Date.now(),
    });
    const limits = options.rateLimits ?? {};
    this.rateLimitBackend = new RateLimitBackend({ redisUrl: limits.redisUrl, redisKeyPrefix: limits.redisKeyPrefix, log, nowMs: () => Date.now() });
    this.upgradeLimit = limits.upgradesPerIp ?? { ratePerSecond: rateLimitDefaults.upgradesPerIpPerSecond, burst: rateLimitDefaults.upgradesPerIpBurst };
    this.subscriptionLimiter = new SubscriptionRateLimiter(
      this.rateLimitBackend,
      limits.subscriptionSignals ?? { ratePerSecond: rateLimitDefaults.subscriptionSignalsPerSecond, burst: rateLimitDefaults.subscriptionSignalsBurst },
      limits.subscriptionLeaseSignals,
    );
    const rateLimit = new FrameRateLimit({
      metrics,
      subscriptionLimiter: this.subscriptionLimiter,
      floodCooldown: this.floodCooldown,
      sendTo,
      recordSecurityEvent: (event) => securityLog.record(event),
      log,
    });
    const busyEvents = (this.busyEvents = new BusyRefusalEvents((event) => securityLog.record(event)));
    const ackForwarding = (this.ackForwarding = new ReceiverAckForwarding({
      metrics,
      toShard: (subscriptionId, message) => shards.send(subscriptionId, message),
      nowMs: () => Date.now(),
    }));
    // Each method is the part's own (bound, no wrapper in between): the frame handlers call these for every frame.
    this.frames = {
      sendTo,
      takeToken: rateLimit.takeToken.bind(rateLimit),
      toShard: (subscriptionId, message) => shards.send(subscriptionId, message),
      reject: this.rejectFrame.bind(this),
      deliveryAck: ackForwarding.ack.bind(ackForwarding),
      closing: (ws) => {
        if (ws.getUserData().connection.role === 'receiver') ackForwarding.receiverClosing(ws);
        busyEvents.closing(ws, Date.now());
      },
      busyEventsDue: busyEvents.due.bind(busyEvents),
      loadReceiverSettings,
    };
    this.status = new StatusBoard({
      metrics,
      connections: () => connections.connectionsWhere(() => true),
      states: () => reports.states.entries(),
      rateLimitSource: () => this.rateLimitBackend.source,
      tls: options.tls !== undefined,
      nowMs: () => Date.now(),
    });
    this.router = new OutboundRouter({ connections, sends, metrics, status: this.status, reports, incident: this.incident, securityLog });
    registerServerGauges(metrics, {
      connections,
      shards,
      reports,
      shipper: () => options.shipperStatus?.(),
      control: () => this.control,
      rateLimitBackend: this.rateLimitBackend,
    });
  }

  async start(): Promise<void> {
    await this.shards.start();
    // Before listening: a subscription isolated while this server was down is isolated before anyone connects.
    if (this.options.controlDatabaseUrl !== undefined) {
      this.control = new ControlListener({
        databaseUrl: this.options.controlDatabaseUrl,
        applicationName: this.options.controlApplicationName,
        target: this.incident,
        log: this.log,
      });
      await this.control.start();
    }
    const tls = this.options.tls;
    setTlsEnabled(tls !== undefined);
    const app = tls
      ? this.uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, passphrase: tls.passphrase })
      : this.uws.App();
    registerWebSocketRoutes(app, {
      frames: this.frames,
      upgrade: this.upgradeDeps(),
      connections: this.connections,
      incident: this.incident,
      metrics: this.metrics,
      slow: this.slow,
      upgradeGuard: this.upgradeGuard,
      subscriptionLimitNow: () => this.subscriptionLimiter.limitNow(),
      noCompression: this.uws.DISABLED,
      log: this.log,
    });
    registerHttpRoutes(app, {
      tls: tls !== undefined,
      metrics: this.metrics,
      readiness: {
        databaseReady: () => this.options.databaseReady(),
        escalated: () => this.supervision.escalated,
        journalSpace: () => this.shards.journalSpace(),
        shipperStatus: () => this.options.shipperStatus?.(),
      },
      statusToken: this.options.statusToken ?? null,
      status: this.status,
    });
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
    for (const ws of this.connections.connectionsWhere(() => true)) closeSocket(ws, CloseCode.SHUTDOWN, 'shutdown');
    await this.control?.stop();
    this.control = null;
    this.incident.stop();
    await this.shards.stop();
    this.ackForwarding.stop();
    await this.rateLimitBackend.close();
  }

  /** The control channel: null without controlDatabaseUrl. */
  get controlListener(): ControlListener | null {
    return this.control;
  }

  /** The subscription's state as last reported by its actor (ACTIVE when none yet). */
  stateOf(subscriptionId: string): SubscriptionState {
    return this.reports.states.get(subscriptionId) ?? 'ACTIVE';
  }

  get shardRestarts(): number {
    return this.shards.restarts;
  }

  /** Why a shard is down for good (it kept dying), or null. */
  get escalated(): Error | null {
    return this.supervision.escalated;
  }

  /** A frame refused: answered with its stable code, counted, recorded as a security event (BUSY ones summed per connection). */
  private rejectFrame(ws: Socket, code: RejectCode, message: string, sequence: number): void {
    const data = ws.getUserData().connection;
    this.metrics.rejects.inc({ code });
    this.sends.sendTo(ws, encodeReject(code, message, sequence));
    if (code === RejectCode.BUSY) return this.busyEvents.refused(ws, sequence, Date.now());
    this.securityLog.record({
      atMs: Date.now(),
      code,
      subscriptionId: data.subscriptionId,
      role: data.role,
      remoteAddress: data.remoteAddress,
      sequence: sequence === 0 ? null : sequence,
      detail: message,
    });
  }

  /** What an upgrade needs: the store, the limits, and where its refusals are counted and recorded. */
  private upgradeDeps(): UpgradeDeps {
    const { metrics, rateLimitBackend, upgradeLimit, floodCooldown } = this;
    return {
      authenticator: this.options.authenticator,
      tokenHash: this.options.tokenHash,
      allocateConnId: () => this.connections.allocateConnId(),
      recordSecurityEvent: (event) => this.securityLog.record(event),
      onRefused: (reason) => {
        metrics.upgradesRefused.inc({ reason });
        if (reason === 'RATE_LIMITED') metrics.rateLimitHits.inc({ limit: 'upgrade_ip' });
      },
      admitUpgrade: (remoteAddress) => rateLimitBackend.take('upgrade-ip', rateLimitKeyOfAddress(remoteAddress), upgradeLimit),
      log: this.log,
      tls: this.options.tls !== undefined,
      floodCooldownMs: (tokenId) => floodCooldown.remainingMs(tokenId, Date.now()),
      upgradeGuard: this.upgradeGuard,
    };
  }
}
