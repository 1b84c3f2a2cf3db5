/**
 * A Receiver EA's connection to /v1/receiver: subscribes with the last
 * sequence it executed and hands the application every signal strictly in
 * order, exactly once (the ordering rules are ReceiverSequencer's), then
 * acks it.
 *
 *   const receiver = new ReceiverClient();
 *   await receiver.connect(url, token, {
 *     onSignal: async (d) => execute(d.signal),
 *     onSnapshot: async (s) => replacePositions(s.positions),
 *   });
 *
 * Frames are processed one at a time: onSignal / onSnapshot are awaited
 * before the next frame is looked at. Past queueFramesHigh waiting frames
 * the socket is paused (TCP pushes back; the server may drop us to resync);
 * past queueFramesMax the connection is dropped and resumed from
 * lastExecuted. A handler that throws is not acked: the connection is
 * dropped and the reconnect delivers that signal again.
 *
 * Events: 'welcome' (Welcome), 'settings' (ReceiverSettingsMessage, after
 * onSettings), 'signal' (ReceivedDelivery, after execution),
 * 'snapshot' (ReceivedSnapshot, after it was applied), 'state' ({state,
 * sequence, reason}), 'reject' (SigplaneClientError), 'heartbeat' (rttMs),
 * 'close' (code, reason, willReconnect), 'error' (only when listened to),
 * 'reportAck' (ExecutionReportInput the server journaled), 'reportRefused'
 * (ExecutionReportInput refused for good: REPORT_INVALID, REPORT_NOT_DELIVERED).
 *
 * Execution reports (sendExecutionReport): each is kept until the server
 * acks it and resent after every welcome (at most
 * executionReportsUnackedMax; past that the oldest is dropped and counted).
 * Resending is safe: the report's key makes it the same row. What is kept,
 * refused and due again is client/report-outbox.ts; this class sends.
 */
import { EventEmitter } from 'node:events';
import {
  encodeFrame,
  rejectCodeName,
  safeInteger,
  stateName,
  type DecodedFrame,
  wire,
  fromReceiverSettingsFrame,
  SettingsError,
  type ReceiverSettingsFrame,
  type ReceiverSettingsMessage,
  executionKindName,
  RejectCode,
} from '@sigplane/protocol';
import { clientSession, ClientCloseCode, type ClientConnectOptions, type Connection } from './connection';
import {
  toSafeNumber,
  toDelivery,
  toSnapshot,
  toWelcome,
  type DeliveryFrame,
  type ReceivedDelivery,
  type ReceivedSnapshot,
  type SnapshotFrame,
  type Welcome,
} from './convert';
import { asError, ClientErrorCode, SigplaneClientError } from './errors';
import { receiver as limits } from './limits';
import { readCursor, writeCursor } from './receiver-cursor';
import { ReceiverAcks } from './receiver-acks';
import { ReceiverQueue } from './receiver-queue';
import { ReceiverSequencer, type SequencerCounters } from './receiver-sequencer';
import { ReportOutbox, type ExecutionReportInput, type PendingReport, type ReportOutboxCounters } from './report-outbox';

export interface ReceiverConnectOptions extends ClientConnectOptions {
  /**
   * The last sequence this receiver executed, or a function asked at each
   * connect while the client itself knows none. Absent (and no cursor file):
   * resume from the server's cursor for this token.
   */
  lastSequence?: number | (() => number | null);
  onSignal(delivery: ReceivedDelivery): void | Promise<void>;
  /** Replace local state with snapshot.positions; deliveries continue after snapshot.sequenceNumber. */
  onSnapshot(snapshot: ReceivedSnapshot): void | Promise<void>;
  /**
   * The license's copy settings, checked (proto/receiver-settings.ts): sent
   * before the welcome and again on every change, in order with the
   * deliveries (a change applies from the next delivery on).
   */
  onSettings?(settings: ReceiverSettingsMessage): void | Promise<void>;
  clock?: () => number;
  /**
   * Acks are cumulative and coalesced (client/receiver-acks.ts): each
   * executed signal is acked at once while the ack budget lasts (ackBurst
   * acks, one more per ackIntervalMs); past it, in a burst, the highest
   * executed sequence is acked within ackIntervalMs or after ackEvery
   * executions, whichever first. 1 acks every execution at once.
   * Default 256 (client/limits.ts receiver.ackEveryDefault).
   */
  ackEvery?: number;
  /** See ackEvery. Default 100 (receiver.ackIntervalMs). */
  ackIntervalMs?: number;
  /** Durable cursor: read at connect, replaced atomically after each execution. */
  cursorFile?: string;
  gapRetryMs?: number;
}

export interface ReceiverCounters extends SequencerCounters, ReportOutboxCounters {
  acksSent: number;
  reportsSent: number;
  handlerFailures: number;
  sessions: number;
}

type QueueItem =
  | { kind: 'settings'; session: number; frame: ReceiverSettingsFrame }
  | { kind: 'delivery'; session: number; frame: DeliveryFrame }
  | { kind: 'snapshot'; session: number; frame: SnapshotFrame };

interface SequenceWaiter {
  sequence: number;
  resolve(): void;
  reject(error: SigplaneClientError): void;
  timer: NodeJS.Timeout;
}

export class ReceiverClient extends EventEmitter {
  private connection: Connection | null = null;
  private options: ReceiverConnectOptions | null = null;
  private clock: () => number = Date.now;
  private sequencer = new ReceiverSequencer(null, limits.gapRetryMs);
  private readonly queue = new ReceiverQueue<QueueItem>(limits.queueFramesHigh, limits.queueFramesLow, limits.queueFramesMax, {
    pause: () => this.connection?.pause(),
    resume: () => this.connection?.resume(),
  });
  /** The drain loop while it runs (a handler may be in progress). */
  private draining: Promise<void> | null = null;
  private session = 0;
  private acks: ReceiverAcks | null = null;
  private gapTimer: NodeJS.Timeout | null = null;
  private waiters: SequenceWaiter[] = [];
  private closed = false;
  private lastWelcome: Welcome | null = null;
  private readonly extra = { handlerFailures: 0, sessions: 0, reportsSent: 0 };
  /** Execution reports not acked yet (client/report-outbox.ts). */
  private readonly reports = new ReportOutbox(limits.executionReportsUnackedMax);
  private welcomed = false;
  /** Armed while reports the server answered BUSY (a full ring) wait reportBusyRetryMs to go again. */
  private busyReportTimer: NodeJS.Timeout | null = null;

  /** Execution reports waiting for the server's ack. */
  get unackedReportCount(): number {
    return this.reports.size;
  }

  /**
   * Report one execution (client/copier.ts makes them). Kept until acked;
   * sent now when the session is welcomed, else after the next welcome.
   */
  sendExecutionReport(report: ExecutionReportInput): void {
    // The server's own checks, here: a report it would refuse for good is refused now and never sent (report-outbox.ts).
    const added = this.reports.add(report, this.clock());
    if (added.kind === 'refused') {
      this.emit('reportRefused', report);
      this.emitError(new SigplaneClientError(RejectCode.REPORT_INVALID, added.problem, { sequence: report.sequence }));
      return;
    }
    if (this.welcomed) this.transmitReport(added.pending);
  }

  private transmitReport(pending: PendingReport): void {
    if (this.connection?.send(pending.frame)) this.extra.reportsSent++;
  }

  private onReportAck(frame: Extract<DecodedFrame, { kind: 'executionReportAck' }>['executionReportAck']): void {
    const kind = executionKindName(frame.kind);
    const sequence = safeInteger(frame.sequenceNumber);
    if (kind === null || sequence === null) return;
    const pending = this.reports.acked(sequence, frame.masterPositionId, kind);
    if (pending !== undefined) this.emit('reportAck', pending.report);
  }

  /**
   * A report answered BUSY was not taken: its sequence's unacked reports go
   * again after a pause, on this connection (a later welcome would send
   * them too, but a healthy connection may last for days).
   */
  private onReportBusy(sequence: number | null): void {
    if (this.closed || !this.reports.busy(sequence)) return;
    if (this.busyReportTimer !== null) return;
    this.busyReportTimer = setTimeout(() => {
      this.busyReportTimer = null;
      const due = this.reports.takeBusyDue();
      if (!this.welcomed) return; // the next welcome sends every unacked report
      for (const pending of due) this.transmitReport(pending);
    }, limits.reportBusyRetryMs);
    this.busyReportTimer.unref();
  }

  private stopReportBusyTimer(): void {
    if (this.busyReportTimer !== null) clearTimeout(this.busyReportTimer);
    this.busyReportTimer = null;
    this.reports.clearBusy();
  }

  /** A report refused for good (REPORT_INVALID, REPORT_NOT_DELIVERED) is not resent: it would be refused again. */
  private onReportRefused(sequence: number | null): void {
    for (const pending of this.reports.refused(sequence)) this.emit('reportRefused', pending.report);
  }

  /** The last sequence executed or covered by a snapshot; null while unknown. */
  get lastExecuted(): number | null {
    return this.sequencer.lastExecuted;
  }

  get duplicatesIgnored(): number {
    return this.sequencer.counters.duplicatesIgnored;
  }

  get gapsSeen(): number {
    return this.sequencer.counters.gapsSeen;
  }

  get counters(): ReceiverCounters {
    return { ...this.sequencer.counters, ...this.extra, acksSent: this.acks?.acksSent ?? 0, ...this.reports.counters };
  }

  get welcome(): Welcome | null {
    return this.lastWelcome;
  }

  /** Resolves on the first welcome; rejects when the first session cannot be had (HTTP 401/403, a bad cursor file, or any failure without reconnect). */
  connect(url: string, token: string, options: ReceiverConnectOptions): Promise<Welcome> {
    if (this.connection !== null) throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, 'connect() was already called');
    const ackEvery = options.ackEvery ?? limits.ackEveryDefault;
    if (!Number.isSafeInteger(ackEvery) || ackEvery < 1) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `ackEvery ${ackEvery} is not a positive integer`));
    }
    const ackIntervalMs = options.ackIntervalMs ?? limits.ackIntervalMs;
    if (!(Number.isFinite(ackIntervalMs) && ackIntervalMs > 0)) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `ackIntervalMs ${ackIntervalMs} is not a positive number`));
    }
    let initial: number | null;
    try {
      initial = this.initialCursor(options);
    } catch (err) {
      return Promise.reject(err);
    }
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.acks = new ReceiverAcks({ ackEvery, ackIntervalMs, ackBurst: limits.ackBurst }, this.clock, (sequence) => this.sendAck(sequence));
    this.sequencer = new ReceiverSequencer(initial, options.gapRetryMs ?? limits.gapRetryMs);
    const hooks = {
      onOpen: () => this.onOpen(),
      onFrame: (frame: DecodedFrame) => this.onFrame(frame),
      onSocketClosed: (willReconnect: boolean) => this.onSocketClosed(willReconnect),
      emitError: (error: Error) => this.emitError(error),
    };
    // A snapshot of snapshotPositionsMax positions is the largest frame.
    const session = clientSession<Welcome>(this, hooks, url, token, options, { clock: this.clock, maxPayloadBytes: wire.masterFrameBytesMax * 2 });
    this.connection = session.connection;
    this.connection.start();
    return session.welcomed;
  }

  /** Resolves once lastExecuted >= sequence; rejects with TIMEOUT (or CLOSED). */
  waitFor(sequence: number, timeoutMs: number): Promise<void> {
    const last = this.sequencer.lastExecuted;
    if (last !== null && last >= sequence) return Promise.resolve();
    if (this.closed) return Promise.reject(new SigplaneClientError(ClientErrorCode.CLOSED, 'client closed'));
    if (this.waiters.length >= limits.waitersMax) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `more than ${limits.waitersMax} waitFor() callers`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: SequenceWaiter = {
        sequence,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new SigplaneClientError(ClientErrorCode.TIMEOUT, `sequence ${sequence} not executed within ${timeoutMs} ms (last ${this.lastExecuted})`, {
              sequence,
            }),
          );
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Stop for good. Resolves once the handler in progress (if any) has
   * returned and then the socket is closed, so another client may take over
   * the application's state: never await it from inside a handler. Frames
   * not yet handed to the application are dropped; the handler in progress
   * finishes on the open socket, so what it reports is sent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopGapTimer();
    this.clearQueue();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new SigplaneClientError(ClientErrorCode.CLOSED, 'client closed', { sequence: waiter.sequence }));
    }
    this.waiters = [];
    // The handler in progress finishes while the socket is still open: the execution
    // reports it makes (its fills happened) are sent before the close frame, not lost.
    await this.draining;
    // What was executed and not acked yet is acked before the socket closes.
    this.acks?.flush();
    this.stopReportBusyTimer();
    await (this.connection?.close() ?? Promise.resolve());
  }

  // ---- connection ----

  private initialCursor(options: ReceiverConnectOptions): number | null {
    const given = typeof options.lastSequence === 'function' ? options.lastSequence() : options.lastSequence;
    if (given !== undefined && given !== null) {
      if (!Number.isSafeInteger(given) || given < 0) {
        throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `lastSequence ${given} is not a non-negative safe integer`);
      }
      return given;
    }
    if (options.cursorFile !== undefined) return readCursor(options.cursorFile)?.lastExecuted ?? null;
    return null;
  }

  private onOpen(): void {
    this.session++;
    this.extra.sessions++;
    this.clearQueue();
    this.sequencer.onReconnect();
    this.stopGapTimer();
    this.acks?.forget();
    let cursor = this.sequencer.lastExecuted;
    if (cursor === null && typeof this.options?.lastSequence === 'function') cursor = this.options.lastSequence();
    const subscribe = cursor === null ? { hasLastSequence: false, lastSequence: 0 } : { hasLastSequence: true, lastSequence: cursor };
    this.connection?.send(encodeFrame({ subscribe }));
  }

  private onFrame(frame: DecodedFrame): void {
    switch (frame.kind) {
      case 'welcome':
        return this.onWelcome(frame.welcome);
      case 'delivery':
        return this.enqueue({ kind: 'delivery', session: this.session, frame: frame.delivery });
      case 'snapshot':
        return this.enqueue({ kind: 'snapshot', session: this.session, frame: frame.snapshot });
      case 'receiverSettings':
        return this.enqueue({ kind: 'settings', session: this.session, frame: frame.receiverSettings });
      case 'stateChange': {
        const change = frame.stateChange;
        this.emit('state', { state: stateName(change.state), sequence: safeInteger(change.sequenceNumber) ?? 0, reason: change.reason });
        return;
      }
      case 'executionReportAck':
        return this.onReportAck(frame.executionReportAck);
      case 'reject': {
        const code = rejectCodeName(frame.reject.code);
        if (code === 'REPORT_INVALID' || code === 'REPORT_NOT_DELIVERED') this.onReportRefused(safeInteger(frame.reject.sequenceNumber));
        if (code === 'BUSY') this.onReportBusy(safeInteger(frame.reject.sequenceNumber));
        const error = new SigplaneClientError(code, frame.reject.message || code, { sequence: safeInteger(frame.reject.sequenceNumber) });
        this.emit('reject', error);
        this.emitError(error);
        return;
      }
      default:
        this.emitError(new SigplaneClientError(ClientErrorCode.PROTOCOL, `unexpected ${frame.kind} frame on a receiver connection`));
    }
  }

  private onWelcome(frame: Extract<DecodedFrame, { kind: 'welcome' }>['welcome']): void {
    try {
      this.lastWelcome = toWelcome(frame, stateName);
    } catch (err) {
      this.emitError(asError(err));
      this.connection?.drop(ClientCloseCode.PROTOCOL, 'bad welcome');
      return;
    }
    this.connection?.markWelcomed();
    this.welcomed = true;
    // Subscribed and welcomed: whatever was reported and not acked goes again (the same key is the same row).
    for (const pending of this.reports.list()) this.transmitReport(pending);
    this.emit('welcome', this.lastWelcome);
  }

  private onSocketClosed(willReconnect: boolean): void {
    this.welcomed = false;
    this.acks?.forget();
    this.clearQueue();
    this.stopGapTimer();
    this.stopReportBusyTimer();
    if (!willReconnect) {
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new SigplaneClientError(ClientErrorCode.DISCONNECTED, 'connection closed for good', { sequence: waiter.sequence }));
      }
      this.waiters = [];
    }
  }

  // ---- the serial queue ----

  private enqueue(item: QueueItem): void {
    if (!this.queue.push(item)) {
      this.emitError(new SigplaneClientError(ClientErrorCode.PROTOCOL, `${this.queue.length} frames wait for the application: resubscribing`));
      this.clearQueue();
      this.connection?.drop(ClientCloseCode.QUEUE_OVERFLOW, 'receiver queue overflow');
      return;
    }
    void this.drain();
  }

  private clearQueue(): void {
    this.queue.clear();
  }

  private drain(): Promise<void> {
    if (this.draining !== null) return this.draining;
    this.draining = this.drainLoop().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drainLoop(): Promise<void> {
    for (let item = this.queue.shift(); item !== undefined && !this.closed; item = this.queue.shift()) {
      if (item.session !== this.session) continue;
      if (item.kind === 'delivery') await this.processDelivery(item.frame, item.session);
      else if (item.kind === 'snapshot') await this.processSnapshot(item.frame, item.session);
      else await this.processSettings(item.frame, item.session);
    }
  }

  private async processDelivery(frame: DeliveryFrame, session: number): Promise<void> {
    let delivery: ReceivedDelivery;
    try {
      delivery = toDelivery(frame);
    } catch (err) {
      return this.protocolFailure(asError(err));
    }
    const sequence = delivery.sequenceNumber;
    const decision = this.sequencer.onDelivery(sequence, this.clock());
    switch (decision.kind) {
      case 'duplicate':
      case 'out-of-order':
        return;
      case 'gap':
        this.sendSyncRequest(decision.syncFrom);
        this.startGapTimer();
        return;
      case 'execute':
        break;
    }
    try {
      await this.options!.onSignal(delivery);
    } catch (err) {
      this.sequencer.abandoned();
      return this.handlerFailure(err, sequence, session);
    }
    this.sequencer.executed(sequence, this.clock());
    await this.afterProgress(sequence, session);
    this.emit('signal', delivery);
  }

  private async processSnapshot(frame: SnapshotFrame, session: number): Promise<void> {
    let snapshot: ReceivedSnapshot;
    try {
      snapshot = toSnapshot(frame);
    } catch (err) {
      return this.protocolFailure(asError(err));
    }
    if (this.sequencer.onSnapshot(snapshot.sequenceNumber).kind === 'stale') return;
    try {
      await this.options!.onSnapshot(snapshot);
    } catch (err) {
      this.sequencer.abandoned();
      return this.handlerFailure(err, snapshot.sequenceNumber, session);
    }
    this.sequencer.snapshotApplied(snapshot.sequenceNumber, this.clock());
    await this.afterProgress(snapshot.sequenceNumber, session, true);
    this.emit('snapshot', snapshot);
  }

  private async processSettings(frame: ReceiverSettingsFrame, session: number): Promise<void> {
    let settings: ReceiverSettingsMessage;
    try {
      settings = fromReceiverSettingsFrame(frame, toSafeNumber(frame.revision, 'settings revision'));
    } catch (err) {
      const code = err instanceof SettingsError ? err.code : 'PROTOCOL';
      return this.protocolFailure(new SigplaneClientError(ClientErrorCode.SETTINGS_INVALID, `${code}: ${asError(err).message}`, { cause: err }));
    }
    try {
      await this.options!.onSettings?.(settings);
    } catch (err) {
      return this.handlerFailure(err, 0, session);
    }
    this.emit('settings', settings);
  }

  private sendAck(sequence: number): boolean {
    return this.connection?.send(encodeFrame({ deliveryAck: { sequenceNumber: sequence } })) ?? false;
  }

  /** Ask the server for a full snapshot (a resync); false when not connected. */
  requestSnapshot(): boolean {
    return this.connection?.send(encodeFrame({ syncRequest: { fromSequence: 0, toSequence: 0, full: true } })) ?? false;
  }

  /** Executed `sequence`: persist the cursor, ack, wake waiters, stop the gap timer when whole. A snapshot is acked at once. */
  private async afterProgress(sequence: number, session: number, ackNow = false): Promise<void> {
    const options = this.options!;
    if (options.cursorFile !== undefined) {
      try {
        await writeCursor(options.cursorFile, {
          version: 1,
          lastExecuted: sequence,
          subscriptionId: this.lastWelcome?.subscriptionId ?? null,
          updatedAtMs: this.clock(),
        });
      } catch (err) {
        this.emitError(new SigplaneClientError(ClientErrorCode.CURSOR_UNREADABLE, `cursor write failed: ${asError(err).message}`, { cause: err }));
      }
    }
    if (session === this.session) this.acks?.executed(sequence, ackNow);
    if (!this.sequencer.gapOpen) this.stopGapTimer();
    if (this.waiters.length > 0) {
      const still: SequenceWaiter[] = [];
      for (const waiter of this.waiters) {
        if (waiter.sequence <= sequence) {
          clearTimeout(waiter.timer);
          waiter.resolve();
        } else {
          still.push(waiter);
        }
      }
      this.waiters = still;
    }
  }

  private handlerFailure(err: unknown, sequence: number, session: number): void {
    this.extra.handlerFailures++;
    this.emitError(
      new SigplaneClientError(ClientErrorCode.HANDLER_FAILED, `handler failed at sequence ${sequence}: ${asError(err).message}`, {
        sequence,
        cause: err,
      }),
    );
    if (session !== this.session) return; // that connection is gone already
    this.clearQueue();
    this.connection?.drop(ClientCloseCode.HANDLER_FAILED, 'handler failed');
  }

  private protocolFailure(error: Error): void {
    this.emitError(new SigplaneClientError(ClientErrorCode.PROTOCOL, error.message, { cause: error }));
    this.clearQueue();
    this.connection?.drop(ClientCloseCode.PROTOCOL, 'bad frame');
  }

  // ---- gaps ----

  private sendSyncRequest(fromSequence: number): void {
    this.connection?.send(encodeFrame({ syncRequest: { fromSequence, toSequence: 0, full: false } }));
  }

  private startGapTimer(): void {
    if (this.gapTimer !== null) return;
    const retryMs = this.options?.gapRetryMs ?? limits.gapRetryMs;
    this.gapTimer = setInterval(() => {
      const from = this.sequencer.tick(this.clock());
      if (from !== null) this.sendSyncRequest(from);
      if (!this.sequencer.gapOpen) this.stopGapTimer();
    }, Math.max(1, Math.floor(retryMs / 2)));
    this.gapTimer.unref();
  }

  private stopGapTimer(): void {
    if (this.gapTimer !== null) {
      clearInterval(this.gapTimer);
      this.gapTimer = null;
    }
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
