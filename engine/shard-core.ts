/**
 * What a shard worker does, without the thread: the actors of its
 * subscriptions, the effects they return executed into ONE journal batch
 * and the records for the I/O thread, and the order that makes an ack mean
 * durable:
 *
 *   onRecord (each record drained from the inbound ring) -> actors -> effects
 *   tick     (time passed: actor timers, refusal summaries)
 *   flush    -> ONE journal commit for the whole batch (group commit)
 *            -> only then the outbound records (acks, deliveries, ...).
 *
 * So nothing leaves for a signal, a cursor, a state or a report the journal
 * does not hold. A failed commit sends nothing of the batch but BUSY
 * answers (refuseUncommitted) and throws: the core is dead, and the worker
 * (engine/shard-worker.ts) dies with it; the host restarts it from the
 * journal: at once, or, when the write found no space, once the disk has
 * room again (engine/shard-host.ts).
 *
 * The journal, the clock and the outbound sink are injected: the worker
 * gives the real Journal, Date.now and the ring back; a test gives a
 * Journal on a temporary file, its own clock and a list.
 */
import {
  engine as engineLimits,
  encodeAck,
  encodeDelivery,
  encodeExecutionReportAck,
  encodeReject,
  encodeSnapshot,
  encodeStateChange,
  encodeSyncRequest,
  encodeWelcome,
  executionKindNumber,
  RejectCode,
  subscriptionDefaults,
  type ExecutionReportRecord,
  type SecurityEvent,
  type SignalRecord,
  type SubscriptionSettings,
} from '@sigplane/protocol';
import type { ActorContext, ActorEvent, ConnId, Effect, HistoryReader } from '../actors/actor-types';
import {
  createActor,
  handle,
  nextTimerAtMs,
  reportNotDelivered,
  restoreCursor,
  restoreSignal,
  restoreSnapshot,
  restoreState,
  type SubscriptionActor,
} from '../actors/subscription-actor';
import type { JournalBatch, RecoveredSubscription } from '../persistence/journal';
import { Audience, decodeInbound, type ShardInbound, type ShardOutbound } from './shard-protocol';
import { ShardSecurityEvents, type Peer, type RefusalBudget } from './shard-security-events';
import { WindowBudget } from './window-budget';

/** What the core needs of the journal (persistence/journal.ts Journal): commit batches, read history, recover. */
export interface ShardJournal extends HistoryReader {
  /** The whole batch in one transaction, or nothing (throws). */
  commit(batch: JournalBatch): void;
  recover(onSubscription: (r: RecoveredSubscription, signalsAfterSnapshot: Iterable<SignalRecord>) => void): void;
}

/** Where the records for the I/O thread go (the worker: the ring back). */
export interface OutboundSink {
  /** One record, in order; never dropped (the worker waits out a full ring). */
  write(message: ShardOutbound): void;
  /** A run of writes is complete: wake the reader. */
  notify(): void;
}

export interface ShardCoreOptions {
  journal: ShardJournal;
  outbound: OutboundSink;
  /** The wall clock, in ms (Date.now in the worker). */
  nowMs: () => number;
  /** The signals all delivery windows of this shard hold together, at most (engine.deliveryWindowRecordsPerShardMax). */
  windowRecordsMax: number;
  /** The shard's own refusals recorded one by one (securityEvents limits otherwise). */
  refusalBudget?: RefusalBudget;
  /** A batch of cursor updates alone is committed at most this often (engine.cursorCommitIntervalMs). */
  cursorCommitIntervalMs?: number;
}

/** The worker's counters (its 'stats' record). */
export interface ShardCoreStats {
  journalCommits: number;
  journalRows: number;
  journalCommitMsTotal: number;
}

type ShardBatch = JournalBatch & { executionReports: ExecutionReportRecord[] };
type SendKind = Extract<ShardOutbound, { t: 'send' }>['kind'];

function emptyBatch(): ShardBatch {
  return { signals: [], snapshots: [], cursors: [], states: [], securityEvents: [], executionReports: [] };
}

export class ShardCore {
  private readonly journal: ShardJournal;
  private readonly outbound: OutboundSink;
  private readonly nowMs: () => number;
  private readonly actors = new Map<string, SubscriptionActor>();
  private readonly windowBudget: WindowBudget;
  private readonly settingsBySubscription = new Map<string, SubscriptionSettings>();
  /** The security events of this shard's own refusals: who was refused, and within what budget. */
  private readonly refusalEvents: ShardSecurityEvents;
  /** Subscriptions whose actor asked for a tick, by when. */
  private readonly timers = new Map<string, number>();

  private batch: ShardBatch = emptyBatch();
  private cursorUpdates = new Map<string, { subscriptionId: string; receiverId: string; sequence: number }>();
  private pendingOutbound: ShardOutbound[] = [];
  /** The signal whose ack and delivery are timed for metrics (a held one drained later is not). */
  private timedSequence = -1;
  private timedT0 = 0;
  private stopRequested = false;
  /** Set by a failed commit: the actors moved on past what the journal holds, so nothing more may run. */
  private failure: unknown = null;
  private readonly cursorCommitIntervalMs: number;
  /** When cursors were last committed (with anything, or alone). */
  private lastCursorCommitAtMs = -Infinity;
  readonly stats: ShardCoreStats = { journalCommits: 0, journalRows: 0, journalCommitMsTotal: 0 };

  constructor(options: ShardCoreOptions) {
    this.journal = options.journal;
    this.outbound = options.outbound;
    this.nowMs = options.nowMs;
    this.windowBudget = new WindowBudget(options.windowRecordsMax);
    this.refusalEvents = new ShardSecurityEvents(options.refusalBudget);
    this.cursorCommitIntervalMs = options.cursorCommitIntervalMs ?? engineLimits.cursorCommitIntervalMs;
  }

  /** A 'stop' record came: the worker finishes this batch and ends its loop. */
  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Signals held in all delivery windows of this shard. */
  get windowRecords(): number {
    return this.windowBudget.records;
  }

  /** Subscriptions with an actor. */
  get subscriptions(): number {
    return this.actors.size;
  }

  /**
   * Rebuilds the actors from the journal (before the first record) and
   * queues 'ready' and every recovered state that is not ACTIVE (metrics;
   * incident control lifts an actor recovered ISOLATED whose subscription
   * an operator lifted meanwhile). The next flush sends them.
   */
  recover(): void {
    let signals = 0;
    this.journal.recover((r, signalsAfterSnapshot) => {
      const actor = this.actorFor(r.subscriptionId);
      const windowBefore = actor.window.count;
      if (r.snapshot !== null) restoreSnapshot(actor, r.snapshot);
      for (const record of signalsAfterSnapshot) {
        restoreSignal(actor, record);
        signals++;
      }
      for (const cursor of r.cursors) restoreCursor(actor, cursor.receiverId, cursor.sequence);
      if (r.state !== null) restoreState(actor, r.state.state, r.state.reason);
      this.windowBudget.touched(actor, windowBefore, this.actors);
      this.scheduleTimer(r.subscriptionId, actor);
    });
    this.pendingOutbound.push({ t: 'ready', subscriptions: this.actors.size, signals });
    for (const actor of this.actors.values()) {
      if (actor.state !== 'ACTIVE') this.pendingOutbound.push({ t: 'state', sub: actor.subscriptionId, state: actor.state, seq: actor.lastSequence });
    }
  }

  /** One record from the I/O thread (shard-protocol.ts ShardInbound, encoded), as the ring gives it. */
  onRecord(bytes: Uint8Array): void {
    this.onMessage(decodeInbound(bytes));
  }

  /** One record from the I/O thread, decoded. */
  onMessage(message: ShardInbound): void {
    this.assertAlive();
    if (message.t === 'stop') {
      this.stopRequested = true;
      return;
    }
    if (message.t === 'security') {
      this.batch.securityEvents.push(message.ev);
      return;
    }
    if (message.t === 'report') {
      this.onReport(message.sub, message.conn, message.report, { role: 'receiver', remoteAddress: message.remoteAddress });
      return;
    }
    if (message.settings !== undefined) this.settingsBySubscription.set(message.sub, message.settings);
    if (message.ev.kind === 'masterAttach' && message.remoteAddress !== undefined) {
      this.refusalEvents.attach(message.ev.connId, { role: 'master', remoteAddress: message.remoteAddress });
    }
    this.timedSequence = message.ev.kind === 'signal' ? message.ev.record.sequence : -1;
    this.timedT0 = message.t0 ?? 0;
    this.runEvent(message.sub, message.ev);
    this.timedSequence = -1;
  }

  /** Time passed up to nowMs: due actor timers, and the refusal summaries due. */
  tick(nowMs: number): void {
    this.assertAlive();
    if (this.timers.size > 0) {
      for (const [subscriptionId, atMs] of this.timers) {
        if (atMs <= nowMs) this.runEvent(subscriptionId, { kind: 'tick' });
      }
    }
    for (const event of this.refusalEvents.summariesDue(nowMs)) this.journalSecurityEvent(event);
  }

  /**
   * How long the worker may sleep on an empty ring: at most idleWaitMs, and
   * not past the next actor timer, refusal summary or cursor commit due.
   */
  waitMs(nowMs: number, idleWaitMs: number): number {
    let waitMs = idleWaitMs;
    for (const atMs of this.timers.values()) waitMs = Math.min(waitMs, atMs - nowMs);
    const summaryAtMs = this.refusalEvents.nextSummaryAtMs();
    if (summaryAtMs !== null) waitMs = Math.min(waitMs, summaryAtMs - nowMs);
    if (this.cursorUpdates.size > 0) waitMs = Math.min(waitMs, this.lastCursorCommitAtMs + this.cursorCommitIntervalMs - nowMs);
    return Math.max(0, waitMs);
  }

  /** Cursor updates held back for a later commit (the next batch that commits anyway, or the interval). */
  get pendingCursors(): number {
    return this.cursorUpdates.size;
  }

  /**
   * Journal first, then the frames: the order that makes an ack mean
   * durable. A failed commit answers BUSY what it must (refuseUncommitted),
   * sends nothing else of the batch, and throws the commit's error.
   */
  flush(): void {
    this.assertAlive();
    const batch = this.batch;
    const otherRows = batch.signals.length + batch.snapshots.length + batch.states.length + batch.securityEvents.length + batch.executionReports.length;
    // Cursors are advisory (a receiver states its last executed sequence on
    // subscribe): they ride with the next commit that happens anyway, and
    // alone commit at most once per cursorCommitIntervalMs, not per ack
    // (docs/reliability.md, "Receiver cursors").
    let cursorsAtMs = -Infinity;
    if (this.cursorUpdates.size > 0) {
      cursorsAtMs = this.nowMs();
      if (otherRows > 0 || this.stopRequested || cursorsAtMs - this.lastCursorCommitAtMs >= this.cursorCommitIntervalMs) {
        for (const cursor of this.cursorUpdates.values()) batch.cursors.push(cursor);
      }
    }
    const rows = otherRows + batch.cursors.length;
    if (rows > 0) {
      const started = performance.now();
      try {
        this.journal.commit(batch);
      } catch (error) {
        this.failure = error;
        this.refuseUncommitted();
        throw error;
      }
      this.stats.journalCommits++;
      this.stats.journalRows += rows;
      this.stats.journalCommitMsTotal += performance.now() - started;
      if (batch.cursors.length > 0) {
        this.lastCursorCommitAtMs = cursorsAtMs;
        this.cursorUpdates = new Map();
      }
      this.batch = emptyBatch();
    }
    if (this.pendingOutbound.length === 0) return;
    for (const message of this.pendingOutbound) this.outbound.write(message);
    this.pendingOutbound = [];
    this.outbound.notify();
  }

  private assertAlive(): void {
    if (this.failure !== null) throw new Error('shard core: a journal commit failed; the worker must restart from the journal', { cause: this.failure });
  }

  /**
   * The batch's commit failed, so nothing of it may leave. Each answer to a
   * connection (an ack, a report ack, a reject decided on state that was not
   * committed) becomes BUSY for its sequence, which promises nothing: resend.
   * Deliveries, snapshots, welcomes and state changes are dropped. The worker
   * then dies and its actors with it (they had moved on past the commit); the
   * new worker rebuilds them from the journal and the connections resync.
   */
  private refuseUncommitted(): void {
    for (const message of this.pendingOutbound) {
      if (message.t !== 'send' || message.to !== Audience.CONN) continue;
      if (message.kind !== 'ack' && message.kind !== 'reject' && message.kind !== 'reportAck') continue;
      const frame = encodeReject(RejectCode.BUSY, 'the journal write failed: resend', message.seq);
      this.outbound.write({ t: 'send', to: Audience.CONN, sub: message.sub, conn: message.conn, frame, kind: 'reject', seq: message.seq, t0: 0, outcome: RejectCode.BUSY });
    }
    this.pendingOutbound = [];
    this.outbound.notify();
  }

  private actorFor(subscriptionId: string): SubscriptionActor {
    let actor = this.actors.get(subscriptionId);
    if (actor === undefined) {
      actor = createActor(subscriptionId, this.nowMs());
      this.actors.set(subscriptionId, actor);
    }
    return actor;
  }

  private contextFor(subscriptionId: string): ActorContext {
    return {
      nowMs: this.nowMs(),
      settings: this.settingsBySubscription.get(subscriptionId) ?? subscriptionDefaults,
      history: this.journal,
    };
  }

  private scheduleTimer(subscriptionId: string, actor: SubscriptionActor): void {
    const at = nextTimerAtMs(actor);
    if (at === null) this.timers.delete(subscriptionId);
    else this.timers.set(subscriptionId, at);
  }

  private runEvent(subscriptionId: string, event: ActorEvent): void {
    const actor = this.actorFor(subscriptionId);
    if (event.kind === 'masterDetach') this.refusalEvents.detach(event.connId);
    const windowBefore = actor.window.count;
    const effects = handle(actor, event, this.contextFor(subscriptionId));
    this.windowBudget.touched(actor, windowBefore, this.actors);
    for (const effect of effects) this.execute(subscriptionId, effect, event, undefined);
    this.scheduleTimer(subscriptionId, actor);
  }

  /**
   * A receiver's execution report, from `peer`: its actor takes it (journal,
   * then ack) or refuses it. A report touches no window and no timer; a
   * subscription without an actor here delivered nothing, so it is refused.
   */
  private onReport(sub: string, conn: ConnId, report: ExecutionReportRecord, peer: Peer): void {
    const actor = this.actors.get(sub);
    const event: ActorEvent = { kind: 'executionReport', connId: conn, report };
    const effects = actor === undefined ? [reportNotDelivered(conn, report.sequence)] : handle(actor, event, this.contextFor(sub));
    for (const effect of effects) this.execute(sub, effect, event, peer);
  }

  private send(sub: string, to: Audience, conn: ConnId, frame: Uint8Array, kind: SendKind, seq: number, outcome?: string): void {
    const t0 = (kind === 'ack' || kind === 'delivery') && seq === this.timedSequence ? this.timedT0 : 0;
    this.pendingOutbound.push(outcome === undefined ? { t: 'send', to, sub, conn, frame, kind, seq, t0 } : { t: 'send', to, sub, conn, frame, kind, seq, t0, outcome });
  }

  /**
   * A refusal this shard decided: its frame, and its security event in the
   * same batch, so journaled before the frame leaves (or counted, past the
   * subscription's budget, for the next summary).
   */
  private refuse(sub: string, conn: ConnId, peer: Peer | undefined, code: RejectCode, message: string, sequence: number): void {
    this.send(sub, Audience.CONN, conn, encodeReject(code, message, sequence), 'reject', sequence, code);
    const event = this.refusalEvents.onRefusal({ subscriptionId: sub, peer, code, message, sequence }, this.nowMs());
    if (event !== null) this.journalSecurityEvent(event);
  }

  /** Journaled with the batch; once committed, the I/O thread logs it (within its log budget). */
  private journalSecurityEvent(event: SecurityEvent): void {
    this.batch.securityEvents.push(event);
    this.pendingOutbound.push({ t: 'security', ev: event });
  }

  /** One effect of `event` into the batch or the outbound records; `peer`: who sent the event, when the I/O thread said. */
  private execute(sub: string, effect: Effect, event: ActorEvent, peer: Peer | undefined): void {
    switch (effect.kind) {
      case 'persistSignal':
        this.batch.signals.push(effect.record);
        return;
      case 'persistSnapshot':
        this.batch.snapshots.push(effect.snapshot);
        return;
      case 'persistCursor': {
        const key = `${effect.subscriptionId}\u0000${effect.receiverId}`;
        const prior = this.cursorUpdates.get(key);
        if (prior === undefined || prior.sequence < effect.sequence) this.cursorUpdates.set(key, { ...effect });
        return;
      }
      case 'persistState':
        this.batch.states.push({ subscriptionId: effect.subscriptionId, state: effect.state, sequence: effect.sequence, reason: effect.reason, atMs: this.nowMs() });
        return;
      case 'persistReport':
        this.batch.executionReports.push(effect.report);
        return;
      case 'ack':
        this.send(sub, Audience.CONN, effect.connId, encodeAck(effect.sequence, effect.status), 'ack', effect.sequence, effect.status);
        return;
      case 'reject':
        this.refuse(sub, effect.connId, peer ?? this.refusalEvents.peerOf(effect.connId), effect.code, effect.message, effect.sequence);
        return;
      case 'reportAck': {
        const report = effect.report;
        this.pendingOutbound.push({
          t: 'send',
          to: Audience.CONN,
          sub,
          conn: effect.connId,
          frame: encodeExecutionReportAck(report.sequence, report.masterPositionId, executionKindNumber(report.kind)),
          kind: 'reportAck',
          seq: report.sequence,
          t0: 0,
          report: { kind: report.kind, outcome: report.outcome, delayMs: report.delayMs, slippagePips: report.slippagePips },
        });
        return;
      }
      case 'deliver':
        this.send(sub, Audience.RECEIVERS, 0, encodeDelivery(effect.record), 'delivery', effect.record.sequence);
        return;
      case 'sendDeliveries':
        for (const record of effect.records) {
          this.pendingOutbound.push({ t: 'send', to: Audience.CONN, sub, conn: effect.connId, frame: encodeDelivery(record), kind: 'delivery', seq: record.sequence, t0: 0 });
        }
        return;
      case 'sendSnapshot':
        this.send(
          sub,
          effect.connId === null ? Audience.RECEIVERS : Audience.CONN,
          effect.connId ?? 0,
          encodeSnapshot(sub, effect.sequence, effect.positions),
          'snapshot',
          effect.sequence,
        );
        return;
      case 'receiverLive':
        this.pendingOutbound.push({ t: 'live', sub, conn: effect.connId });
        return;
      case 'stateChange':
        this.send(sub, Audience.ALL, 0, encodeStateChange(effect.state, effect.sequence, effect.reason), 'state', effect.sequence);
        this.pendingOutbound.push({ t: 'state', sub, state: effect.state, seq: effect.sequence });
        return;
      case 'syncRequest':
        this.send(
          sub,
          effect.connId === null ? Audience.MASTERS : Audience.CONN,
          effect.connId ?? 0,
          encodeSyncRequest(effect.fromSequence, effect.toSequence, effect.full),
          'sync',
          effect.fromSequence,
        );
        return;
      case 'welcome': {
        const role = event.kind === 'masterAttach' ? 'master' : 'receiver';
        const pacing = event.kind === 'masterAttach' ? event.pacing : undefined;
        this.send(sub, Audience.CONN, effect.connId, encodeWelcome(sub, effect.state, effect.lastSequence, role, pacing), 'welcome', effect.lastSequence);
        return;
      }
      default: {
        const never: never = effect;
        throw new Error(`unhandled effect ${JSON.stringify(never)}`);
      }
    }
  }
}
