/**
 * A shard worker thread: owns the actors of the subscriptions that hash to
 * it, and its SQLite journal. One synchronous loop:
 *
 *   drain a batch from the inbound ring -> actors -> effects
 *   -> ONE journal commit for the whole batch (group commit)
 *   -> only then the outbound frames (acks, deliveries) into the ring back.
 *
 * So an ack or a delivery never leaves for a signal the journal does not
 * hold. A failed commit sends nothing of the batch but BUSY answers
 * (refuseUncommitted), then the worker dies and the host restarts it from
 * the journal: at once, or, when the write found no space, once the disk
 * has room again (engine/shard-host.ts).
 */
import { workerData, parentPort } from 'node:worker_threads';
import { RingConsumer, RingProducer } from './ring-buffer';
import {
  engine as engineLimits,
  subscriptionDefaults,
  type SubscriptionSettings,
  encodeAck,
  encodeDelivery,
  encodeExecutionReportAck,
  encodeReject,
  encodeSnapshot,
  encodeStateChange,
  encodeSyncRequest,
  encodeWelcome,
  type WelcomePacing,
  executionKindNumber,
  RejectCode,
  type ExecutionReportRecord,
  type SecurityEvent,
} from '@sigplane/protocol';
import { Audience, decodeInbound, encodeOutbound, shardExitCode, type ShardInbound, type ShardOutbound } from './shard-protocol';
import { threadMemory } from '../persistence/thread-memory';
import { isOutOfSpace, Journal, type JournalBatch, type JournalSync } from '../persistence/journal';
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
import type { ActorContext, ActorEvent, ConnId, Effect } from '../actors/actor-types';
import { ShardSecurityEvents, type Peer, type RefusalBudget } from './shard-security-events';
import { WindowBudget } from './window-budget';

export interface ShardWorkerData {
  shardIndex: number;
  inRing: SharedArrayBuffer;
  outRing: SharedArrayBuffer;
  journalPath: string;
  journalSync: JournalSync;
  /** Test hook: throw after this many inbound records (fault injection). */
  crashAfterRecords?: number;
  /** Test hook: engine.deliveryWindowRecordsPerShardMax otherwise. */
  windowRecordsMax?: number;
  /** Test hook: the shard's own refusals recorded one by one (securityEvents limits otherwise). */
  refusalBudget?: RefusalBudget;
}

const data = workerData as ShardWorkerData;
const inbound = new RingConsumer(data.inRing);
const outbound = new RingProducer(data.outRing);
const journal = Journal.open(data.journalPath, { sync: data.journalSync });

const actors = new Map<string, SubscriptionActor>();
const windowBudget = new WindowBudget(data.windowRecordsMax ?? engineLimits.deliveryWindowRecordsPerShardMax);
const settingsBySubscription = new Map<string, SubscriptionSettings>();
/** The security events of this shard's own refusals: who was refused, and within what budget. */
const refusalEvents = new ShardSecurityEvents(data.refusalBudget);
/** Subscriptions whose actor asked for a tick, by when. */
const timers = new Map<string, number>();

let batch: JournalBatch & { executionReports: ExecutionReportRecord[] } = emptyBatch();
let cursorUpdates = new Map<string, { subscriptionId: string; receiverId: string; sequence: number }>();
let pendingOutbound: ShardOutbound[] = [];
let recordsSeen = 0;
const stats = { journalCommits: 0, journalRows: 0, journalCommitMsTotal: 0 };

function emptyBatch(): JournalBatch & { executionReports: ExecutionReportRecord[] } {
  return { signals: [], snapshots: [], cursors: [], states: [], securityEvents: [], executionReports: [] };
}

function actorFor(subscriptionId: string): SubscriptionActor {
  let actor = actors.get(subscriptionId);
  if (actor === undefined) {
    actor = createActor(subscriptionId, Date.now());
    actors.set(subscriptionId, actor);
  }
  return actor;
}

function contextFor(subscriptionId: string): ActorContext {
  return {
    nowMs: Date.now(),
    settings: settingsBySubscription.get(subscriptionId) ?? subscriptionDefaults,
    history: journal,
  };
}

function recover(): { subscriptions: number; signals: number } {
  let signals = 0;
  journal.recover((r, signalsAfterSnapshot) => {
    const actor = actorFor(r.subscriptionId);
    const windowBefore = actor.window.count;
    if (r.snapshot !== null) restoreSnapshot(actor, r.snapshot);
    for (const record of signalsAfterSnapshot) {
      restoreSignal(actor, record);
      signals++;
    }
    for (const cursor of r.cursors) restoreCursor(actor, cursor.receiverId, cursor.sequence);
    if (r.state !== null) restoreState(actor, r.state.state, r.state.reason);
    windowBudget.touched(actor, windowBefore, actors);
    scheduleTimer(r.subscriptionId, actor);
  });
  return { subscriptions: actors.size, signals };
}

function scheduleTimer(subscriptionId: string, actor: SubscriptionActor): void {
  const at = nextTimerAtMs(actor);
  if (at === null) timers.delete(subscriptionId);
  else timers.set(subscriptionId, at);
}

function onRecord(bytes: Uint8Array): void {
  recordsSeen++;
  if (data.crashAfterRecords !== undefined && recordsSeen > data.crashAfterRecords) {
    throw new Error(`injected fault: shard ${data.shardIndex} crashes after ${data.crashAfterRecords} records`);
  }
  const message: ShardInbound = decodeInbound(bytes);
  if (message.t === 'stop') {
    stopping = true;
    return;
  }
  if (message.t === 'security') {
    batch.securityEvents.push(message.ev);
    return;
  }
  if (message.t === 'report') {
    onReport(message.sub, message.conn, message.report, { role: 'receiver', remoteAddress: message.remoteAddress });
    return;
  }
  if (message.settings !== undefined) settingsBySubscription.set(message.sub, message.settings);
  if (message.ev.kind === 'masterAttach' && message.remoteAddress !== undefined) {
    refusalEvents.attach(message.ev.connId, { role: 'master', remoteAddress: message.remoteAddress });
  }
  timedSequence = message.ev.kind === 'signal' ? message.ev.record.sequence : -1;
  timedT0 = message.t0 ?? 0;
  runEvent(message.sub, message.ev);
  timedSequence = -1;
}

/** The signal whose ack and delivery are timed for metrics (a held one drained later is not). */
let timedSequence = -1;
let timedT0 = 0;

/**
 * A receiver's execution report, from `peer`: its actor takes it (journal,
 * then ack) or refuses it. A report touches no window and no timer; a
 * subscription without an actor here delivered nothing, so it is refused.
 */
function onReport(sub: string, conn: ConnId, report: ExecutionReportRecord, peer: Peer): void {
  const actor = actors.get(sub);
  const event: ActorEvent = { kind: 'executionReport', connId: conn, report };
  const effects = actor === undefined ? [reportNotDelivered(conn, report.sequence)] : handle(actor, event, contextFor(sub));
  for (const effect of effects) execute(sub, effect, 'receiver', undefined, peer);
}

function runEvent(subscriptionId: string, event: ActorEvent): void {
  const actor = actorFor(subscriptionId);
  if (event.kind === 'masterDetach') refusalEvents.detach(event.connId);
  const windowBefore = actor.window.count;
  const effects = handle(actor, event, contextFor(subscriptionId));
  windowBudget.touched(actor, windowBefore, actors);
  const role = event.kind === 'masterAttach' ? 'master' : 'receiver';
  const pacing = event.kind === 'masterAttach' ? event.pacing : undefined;
  for (const effect of effects) execute(subscriptionId, effect, role, pacing);
  scheduleTimer(subscriptionId, actor);
}

function send(
  sub: string,
  to: Audience,
  conn: number,
  frame: Uint8Array,
  kind: Extract<ShardOutbound, { t: 'send' }>['kind'],
  seq: number,
  outcome?: string,
): void {
  const t0 = (kind === 'ack' || kind === 'delivery') && seq === timedSequence ? timedT0 : 0;
  pendingOutbound.push(outcome === undefined ? { t: 'send', to, sub, conn, frame, kind, seq, t0 } : { t: 'send', to, sub, conn, frame, kind, seq, t0, outcome });
}

/**
 * A refusal this shard decided: its frame, and its security event in the
 * same batch, so journaled before the frame leaves (or counted, past the
 * subscription's budget, for the next summary).
 */
function refuse(sub: string, conn: number, peer: Peer | undefined, code: RejectCode, message: string, sequence: number): void {
  send(sub, Audience.CONN, conn, encodeReject(code, message, sequence), 'reject', sequence, code);
  const event = refusalEvents.onRefusal({ subscriptionId: sub, peer, code, message, sequence }, Date.now());
  if (event !== null) journalSecurityEvent(event);
}

/** Journaled with the batch; once committed, the I/O thread logs it (within its log budget). */
function journalSecurityEvent(event: SecurityEvent): void {
  batch.securityEvents.push(event);
  pendingOutbound.push({ t: 'security', ev: event });
}

function execute(sub: string, effect: Effect, role: 'master' | 'receiver', pacing?: WelcomePacing, peer?: Peer): void {
  switch (effect.kind) {
    case 'persistSignal':
      batch.signals.push(effect.record);
      return;
    case 'persistSnapshot':
      batch.snapshots.push(effect.snapshot);
      return;
    case 'persistCursor': {
      const key = `${effect.subscriptionId}\u0000${effect.receiverId}`;
      const prior = cursorUpdates.get(key);
      if (prior === undefined || prior.sequence < effect.sequence) cursorUpdates.set(key, { ...effect });
      return;
    }
    case 'persistState':
      batch.states.push({ subscriptionId: effect.subscriptionId, state: effect.state, sequence: effect.sequence, reason: effect.reason, atMs: Date.now() });
      return;
    case 'persistReport':
      batch.executionReports.push(effect.report);
      return;
    case 'ack':
      send(sub, Audience.CONN, effect.connId, encodeAck(effect.sequence, effect.status), 'ack', effect.sequence, effect.status);
      return;
    case 'reject':
      refuse(sub, effect.connId, peer ?? refusalEvents.peerOf(effect.connId), effect.code, effect.message, effect.sequence);
      return;
    case 'reportAck': {
      const report = effect.report;
      pendingOutbound.push({
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
      send(sub, Audience.RECEIVERS, 0, encodeDelivery(effect.record), 'delivery', effect.record.sequence);
      return;
    case 'sendDeliveries':
      for (const record of effect.records) {
        pendingOutbound.push({ t: 'send', to: Audience.CONN, sub, conn: effect.connId, frame: encodeDelivery(record), kind: 'delivery', seq: record.sequence, t0: 0 });
      }
      return;
    case 'sendSnapshot':
      send(
        sub,
        effect.connId === null ? Audience.RECEIVERS : Audience.CONN,
        effect.connId ?? 0,
        encodeSnapshot(sub, effect.sequence, effect.positions),
        'snapshot',
        effect.sequence,
      );
      return;
    case 'receiverLive':
      pendingOutbound.push({ t: 'live', sub, conn: effect.connId });
      return;
    case 'stateChange':
      send(sub, Audience.ALL, 0, encodeStateChange(effect.state, effect.sequence, effect.reason), 'state', effect.sequence);
      pendingOutbound.push({ t: 'state', sub, state: effect.state, seq: effect.sequence });
      return;
    case 'syncRequest':
      send(
        sub,
        effect.connId === null ? Audience.MASTERS : Audience.CONN,
        effect.connId ?? 0,
        encodeSyncRequest(effect.fromSequence, effect.toSequence, effect.full),
        'sync',
        effect.fromSequence,
      );
      return;
    case 'welcome':
      send(sub, Audience.CONN, effect.connId, encodeWelcome(sub, effect.state, effect.lastSequence, role, pacing), 'welcome', effect.lastSequence);
      return;
    default: {
      const never: never = effect;
      throw new Error(`unhandled effect ${JSON.stringify(never)}`);
    }
  }
}

function runDueTimers(nowMs: number): void {
  for (const [subscriptionId, atMs] of timers) {
    if (atMs <= nowMs) runEvent(subscriptionId, { kind: 'tick' });
  }
}

/** Journal first, then the frames: the order that makes an ack mean durable. */
function flush(): void {
  for (const cursor of cursorUpdates.values()) batch.cursors.push(cursor);
  const rows =
    batch.signals.length + batch.snapshots.length + batch.cursors.length + batch.states.length + batch.securityEvents.length + batch.executionReports.length;
  if (rows > 0) {
    const started = performance.now();
    try {
      journal.commit(batch);
    } catch (error) {
      refuseUncommitted();
      if (isOutOfSpace(error)) stopForLackOfSpace();
      throw error;
    }
    stats.journalCommits++;
    stats.journalRows += rows;
    stats.journalCommitMsTotal += performance.now() - started;
    batch = emptyBatch();
    cursorUpdates = new Map();
  }
  if (pendingOutbound.length === 0) return;
  for (const message of pendingOutbound) writeOutbound(message);
  pendingOutbound = [];
  outbound.notify();
}

/**
 * The batch's commit failed, so nothing of it may leave. Each answer to a
 * connection (an ack, a report ack, a reject decided on state that was not
 * committed) becomes BUSY for its sequence, which promises nothing: resend.
 * Deliveries, snapshots, welcomes and state changes are dropped. The worker
 * then dies and its actors with it (they had moved on past the commit); the
 * new worker rebuilds them from the journal and the connections resync.
 */
function refuseUncommitted(): void {
  for (const message of pendingOutbound) {
    if (message.t !== 'send' || message.to !== Audience.CONN) continue;
    if (message.kind !== 'ack' && message.kind !== 'reject' && message.kind !== 'reportAck') continue;
    const frame = encodeReject(RejectCode.BUSY, 'the journal write failed: resend', message.seq);
    writeOutbound({ t: 'send', to: Audience.CONN, sub: message.sub, conn: message.conn, frame, kind: 'reject', seq: message.seq, t0: 0, outcome: RejectCode.BUSY });
  }
  pendingOutbound = [];
  outbound.notify();
}

/** No space for the journal: end with the code on which the host waits for space instead of counting a crash. */
function stopForLackOfSpace(): never {
  try {
    journal.close();
  } catch {
    // the file stays as its last commit left it
  }
  process.exit(shardExitCode.journalOutOfSpace);
}

/** The I/O thread always drains: a full ring back is waited out, never dropped. */
function writeOutbound(message: ShardOutbound): void {
  const bytes = encodeOutbound(message);
  while (!outbound.tryWrite(bytes)) {
    outbound.notify();
    Atomics.wait(sleepCell, 0, 0, 1);
  }
}
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

let stopping = false;
let lastStatsAtMs = 0;

function loop(): void {
  const recovered = recover();
  pendingOutbound.push({ t: 'ready', subscriptions: recovered.subscriptions, signals: recovered.signals });
  // The I/O thread learns every recovered state that is not ACTIVE (metrics; incident control lifts an
  // actor recovered ISOLATED whose subscription an operator lifted meanwhile).
  for (const actor of actors.values()) {
    if (actor.state !== 'ACTIVE') pendingOutbound.push({ t: 'state', sub: actor.subscriptionId, state: actor.state, seq: actor.lastSequence });
  }
  flush();
  while (!stopping) {
    const taken = inbound.drain(engineLimits.shardBatchRecordsMax, onRecord);
    const nowMs = Date.now();
    if (timers.size > 0) runDueTimers(nowMs);
    for (const event of refusalEvents.summariesDue(nowMs)) journalSecurityEvent(event);
    flush();
    if (nowMs - lastStatsAtMs >= 1000) {
      lastStatsAtMs = nowMs;
      writeOutbound({ t: 'stats', ...stats, memory: threadMemory(), windowRecords: windowBudget.records });
      outbound.notify();
    }
    if (taken === 0 && !stopping) {
      let waitMs: number = engineLimits.shardIdleWaitMs;
      for (const atMs of timers.values()) waitMs = Math.max(0, Math.min(waitMs, atMs - nowMs));
      inbound.waitSync(waitMs);
    }
  }
  journal.close();
  parentPort?.postMessage({ t: 'stopped' });
}

loop();
