/**
 * What the shards send back, on the I/O thread (engine/shard-host.ts pumps
 * it, in order, in batches). Frames go to their audience: one connection,
 * the subscription's live receivers, its masters, or everyone of it; they
 * are written corked, once per batch (io/corked-sends.ts). The rest is
 * bookkeeping: a receiver caught up becomes live, a subscription's state
 * goes to the reports and to incident control, a worker's stats to the
 * reports (io/shard-reports.ts), a security event the shard journaled to
 * the log. Each frame is counted on /metrics by what it answers.
 */
import { Audience, type ShardOutbound } from '../engine/shard-protocol';
import type { ConnectionRegistry } from './connections';
import type { CorkedSends } from './corked-sends';
import type { IncidentControl } from './incident-control';
import type { Metrics } from './metrics';
import type { SecurityEventLog } from './security-event-log';
import type { ShardReports } from './shard-reports';
import type { StatusBoard } from './status/status-board';

export interface OutboundRouterDeps {
  connections: ConnectionRegistry;
  sends: CorkedSends;
  metrics: Metrics;
  status: StatusBoard;
  reports: ShardReports;
  incident: IncidentControl;
  securityLog: SecurityEventLog;
}

type SendRecord = Extract<ShardOutbound, { t: 'send' }>;

export class OutboundRouter {
  // Fields of their own rather than one deps object: read for every frame.
  private readonly connections: ConnectionRegistry;
  private readonly sends: CorkedSends;
  private readonly metrics: Metrics;
  private readonly status: StatusBoard;
  private readonly reports: ShardReports;
  private readonly incident: IncidentControl;
  private readonly securityLog: SecurityEventLog;

  constructor(deps: OutboundRouterDeps) {
    this.connections = deps.connections;
    this.sends = deps.sends;
    this.metrics = deps.metrics;
    this.status = deps.status;
    this.reports = deps.reports;
    this.incident = deps.incident;
    this.securityLog = deps.securityLog;
  }

  /** One record from shard `shardIndex`; what it sends waits for the end of the batch. */
  onOutbound(message: ShardOutbound, shardIndex: number): void {
    this.sends.startBatch();
    switch (message.t) {
      case 'send':
        return this.route(message);
      case 'live': {
        const ws = this.connections.get(message.conn);
        if (ws !== undefined && !ws.getUserData().connection.closed) this.connections.markLive(ws);
        return;
      }
      case 'state':
        this.reports.states.set(message.sub, message.state);
        this.incident.onActorState(message.sub, message.state);
        return;
      case 'stats':
        return this.reports.onStats(shardIndex, message);
      case 'security':
        return this.securityLog.log(message.ev);
      case 'ready':
        return;
    }
  }

  /** The batch ended: its frames are written, then the connections incident control closes after them. */
  onBatchEnd(): void {
    this.sends.flush();
    this.incident.afterFlush();
  }

  private route(message: SendRecord): void {
    const { frame } = message;
    switch (message.to) {
      case Audience.CONN: {
        const ws = this.connections.get(message.conn);
        if (ws !== undefined) this.sends.sendTo(ws, frame);
        break;
      }
      case Audience.RECEIVERS:
        for (const ws of this.connections.liveReceivers(message.sub)) this.sends.sendTo(ws, frame);
        break;
      case Audience.MASTERS:
        for (const ws of this.connections.masters(message.sub)) this.sends.sendTo(ws, frame);
        break;
      case Audience.ALL:
        for (const ws of this.connections.connectionsWhere((s) => s === message.sub)) this.sends.sendTo(ws, frame);
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
}
