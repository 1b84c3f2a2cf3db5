/**
 * What the I/O thread does when the shard host's supervision
 * (engine/shard-host.ts) says something about a shard. A restarted worker
 * lost its actors' connection state: every connection of its
 * subscriptions is closed (1012) and resyncs. A worker that keeps dying
 * escalates: its connections are closed and /readyz reports it. The
 * journal disk (engine/journal-space.ts): its level changes are logged; a
 * worker stopped for lack of space keeps its connections open, and what it
 * never took from its ring is answered BUSY, as a full ring answers, and
 * recorded as those are (io/busy-refusal-events.ts: summed per connection).
 */
import { encodeReject, RejectCode } from '@sigplane/protocol';
import type { JournalSpaceLevel, JournalSpaceStatus } from '../engine/journal-space';
import type { ShardInbound } from '../engine/shard-protocol';
import { CloseCode } from './close-codes';
import { closeSocket, type ConnectionRegistry, type Socket } from './connections';
import type { CorkedSends } from './corked-sends';
import type { Metrics } from './metrics';
import type { ServerLog } from './server-options';
import type { ShardReports } from './shard-reports';

export interface ShardSupervisionDeps {
  connections: ConnectionRegistry;
  /** The shard that owns a subscription. */
  shardOf: (subscriptionId: string) => number;
  reports: ShardReports;
  sends: CorkedSends;
  metrics: Metrics;
  log: ServerLog;
  /** A frame of this connection was answered BUSY: recorded as the other BUSY answers are (io/busy-refusal-events.ts). */
  busyRefused: (ws: Socket, sequence: number, nowMs: number) => void;
}

export class ShardSupervision {
  private fatal: Error | null = null;

  constructor(private readonly deps: ShardSupervisionDeps) {}

  /** Why a shard is down for good (it escalated), or null. */
  get escalated(): Error | null {
    return this.fatal;
  }

  onShardRestart(index: number, error: Error): void {
    // The new worker counts from zero: what the dead one had reported is kept.
    this.deps.reports.retire(index);
    this.deps.log('warn', 'shard restarted from its journal; its connections resync', { shard: index, error: error.message, stack: error.stack });
    this.closeConnectionsOf(index, 'shard restarted');
  }

  onEscalate(index: number, error: Error): void {
    this.fatal = error;
    this.deps.log('error', 'shard keeps dying: escalating', { shard: index, error: error.message, stack: error.stack });
    this.closeConnectionsOf(index, 'shard down');
  }

  onJournalSpace(status: JournalSpaceStatus, previous: JournalSpaceLevel): void {
    const fields = { freeBytes: status.freeBytes, reserveBytes: status.reserveBytes, resumeBytes: status.resumeBytes, previous };
    const log = this.deps.log;
    if (status.level === 'full') log('error', 'journal disk full: new signals are refused BUSY until free space is back at the resume mark', fields);
    else if (status.level === 'low') log('warn', 'journal disk low: new signals are refused BUSY until free space is back at the resume mark', fields);
    else log('info', 'journal disk has room again: signals are taken', fields);
  }

  /** Its connections stay open (answered BUSY meanwhile) and are closed to resync once it is back. */
  onShardWaitingForSpace(index: number, error: Error): void {
    this.deps.log('error', 'shard stopped: no space for its journal; it starts again from its journal once there is room', { shard: index, error: error.message });
  }

  /** A record a shard stopped for lack of space never took: BUSY, as a full ring answers. */
  answerNotTaken(message: ShardInbound): void {
    this.deps.sends.startBatch();
    if (message.t === 'report') return this.answerBusy(message.conn, 'execution report: engine busy, resend', message.report.sequence);
    if (message.t !== 'event') return;
    const ev = message.ev;
    if (ev.kind === 'signal') this.answerBusy(ev.connId, `engine busy, resend from ${ev.record.sequence}`, ev.record.sequence);
    else if (ev.kind === 'masterSnapshot') this.answerBusy(ev.connId, 'engine busy, resend', ev.snapshot.sequence);
    else if (ev.kind === 'receiverSubscribe') {
      const ws = this.deps.connections.get(ev.connId);
      if (ws !== undefined) ws.getUserData().connection.subscribed = false;
      this.answerBusy(ev.connId, 'engine busy, subscribe again', 0);
    }
  }

  private answerBusy(connId: number, message: string, sequence: number): void {
    const ws = this.deps.connections.get(connId);
    if (ws === undefined) return;
    this.deps.metrics.rejects.inc({ code: RejectCode.BUSY });
    this.deps.sends.sendTo(ws, encodeReject(RejectCode.BUSY, message, sequence));
    this.deps.busyRefused(ws, sequence, Date.now());
  }

  private closeConnectionsOf(shardIndex: number, reason: string): void {
    const { connections, shardOf } = this.deps;
    for (const ws of connections.connectionsWhere((s) => shardOf(s) === shardIndex)) closeSocket(ws, CloseCode.SHARD_RESTART, reason);
  }
}
