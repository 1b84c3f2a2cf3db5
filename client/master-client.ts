/**
 * A Master EA's connection to /v1/master: numbers, signs and sends signals,
 * resolves each publish() on the server's ack, resends what is unanswered
 * after a reconnect and answers the server's sync requests.
 *
 *   const master = new MasterClient();
 *   await master.connect(url, token, { signing: { version: 2, keyId, key } });
 *   const { sequence, status } = await master.publish({ symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.0876 });
 *
 * Sequences: the first is welcome.lastSequence + 1; after that the client
 * continues its own counter, never at or below a sequence the server is
 * known to hold (welcome, acks, StateChange ACTIVE, REPLAY). A rejected
 * signal is never sent again ("a rejected signal changes nothing"); when
 * none of ours above it is in flight, the next publish takes the first
 * sequence the server lacks, so a reject does not open a gap. BUSY and
 * RATE_LIMITED are the exception: they refuse nothing for good ("resend
 * from N"), so the outbox from N on is sent again after a short backoff and
 * the publishes wait.
 *
 * What a correct master does after an outage (docs/protocol.md):
 * - every frame it sends (publishes, resends, snapshots) is paced by a
 *   token bucket at the rate the welcome gives (client/send-pacer.ts), so
 *   a backlog is never refused RATE_LIMITED nor closed 4029;
 * - it never re-signs: a resend is the exact bytes first sent, and a copy
 *   of an accepted signal is answered DUPLICATE whatever its age;
 * - generatedAt is stamped at publish(), so a signal that waited in the
 *   outbox through a long outage can come back STALE: never accepted, too
 *   old to execute. Then nothing after it can be accepted in order either:
 *   every outbox signal is dropped (its publish rejects, STALE or
 *   SUPERSEDED_BY_SNAPSHOT) and the server gets a signed snapshot of the
 *   application's positions (snapshotProvider, v2) at the last sequence
 *   assigned; publishing continues after it.
 * Unanswered signals up to welcome.lastSequence (or an ACTIVE StateChange's
 * sequence) are resolved ACCEPTED: the server holds them. sendSignal and
 * sendRaw (crafted frames) are neither paced nor kept in the outbox.
 *
 * Events: 'welcome' (Welcome), 'ack' ({sequence, status}), 'reject'
 * (SigplaneClientError), 'state' ({state, sequence, reason}), 'syncRequest'
 * ({fromSequence, toSequence, full}), 'heartbeat' (rttMs), 'close' (code,
 * reason, willReconnect), 'error' (SigplaneClientError). 'error' is only
 * emitted when someone listens.
 */
import { EventEmitter } from 'node:events';
import { exactDecimal, rejectCodeName, safeInteger, stateName, type DecodedFrame, wire } from '@sigplane/protocol';

type FrameOf<K extends DecodedFrame['kind']> = Extract<DecodedFrame, { kind: K }>;
import { clientSession, ClientCloseCode, type ClientConnectOptions, type Connection } from './connection';
import { toWelcome, type Welcome } from './convert';
import { asError, ClientErrorCode, SigplaneClientError } from './errors';
import { master as limits } from './limits';
import { BusyWindow, type BusyAction } from './busy-window';
import { MasterOutbox, planResend, SentLog } from './master-outbox';
import { SendPacer } from './send-pacer';
import { encodeSignalFrame, encodeSnapshotFrame, type CraftedSignal, type MasterSnapshot } from './master-frames';
import type { MasterSigning } from './signing';

export interface PublishSignal {
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  /** v2 only */
  action?: number;
  positionId?: string | number | bigint;
  stopLoss?: number;
  takeProfit?: number;
  magic?: string | number | bigint;
}

export interface PublishResult {
  sequence: number;
  status: 'ACCEPTED' | 'DUPLICATE';
}

/** sendSignal's input: every field explicit, subscriptionId defaulting to the welcome's. */
export type SendSignalFields = Omit<CraftedSignal, 'subscriptionId'> & { subscriptionId?: string };

export interface MasterConnectOptions extends ClientConnectOptions {
  signing: MasterSigning;
  /** ms since the epoch; stamps generatedAt and heartbeats. Default Date.now. */
  clock?: () => number;
  /**
   * Full sync (v2 only): the application's positions and the sequence they
   * are at. Called with the last sequence assigned to a publish: a snapshot
   * sent after a STALE (or one answering a range the client dropped) is sent
   * at no lower sequence than the signals it replaces, whatever it says.
   */
  snapshotProvider?: (lastAssignedSequence: number) => MasterSnapshot | Promise<MasterSnapshot>;
  outboxSignalsMax?: number;
  sentLogSignalsMax?: number;
}

interface Waiter {
  resolve(result: PublishResult): void;
  reject(error: SigplaneClientError): void;
}

/** Answer frames carry sequences up to 2^64-1: waiters are keyed by the decimal string. */
type WaiterQueues = Map<string, Waiter[]>;

export class MasterClient extends EventEmitter {
  private connection: Connection | null = null;
  private options: MasterConnectOptions | null = null;
  private clock: () => number = Date.now;
  private outbox: MasterOutbox<Waiter> = new MasterOutbox(limits.outboxSignalsMax);
  private log: SentLog = new SentLog(limits.sentLogSignalsMax);
  /** sendSignal() callers, per sequence, first come first answered. */
  private readonly crafted: WaiterQueues = new Map();
  /** What BUSY allows to be sent (client/busy-window.ts), and the backoff before sending again. */
  private readonly busyWindow = new BusyWindow(limits.outboxSignalsMax);
  private busyResendTimer: NodeJS.Timeout | null = null;
  /** Every paced send waits for a token (client/send-pacer.ts); the timer sends again when one is due. */
  private readonly pacer = new SendPacer();
  private paceTimer: NodeJS.Timeout | null = null;
  /** Frames that go before the outbox, paced: a snapshot first, then a sync request's resends. */
  private snapshotFrame: Uint8Array | null = null;
  private resends: Uint8Array[] = [];
  /** A snapshot is being built (the provider runs): nothing of the outbox goes before it. */
  private snapshotPending = false;
  /** Sequences up to this were dropped for a snapshot (after STALE): every snapshot sent covers them. */
  private droppedUpTo = 0;
  /** The last snapshot sent and its sequence, to send again if the server answers it BUSY or RATE_LIMITED. */
  private lastSnapshot: { sequence: number; frame: Uint8Array } | null = null;
  /** The highest sequence a snapshot sent on this connection covers (0: none yet). */
  private snapshotSentUpTo = 0;
  /** 0 until the first welcome. */
  private nextSequence = 0;
  /** The highest sequence the server is known to hold (welcome, acks, ACTIVE, REPLAY). */
  private serverLast = 0;
  private welcomed = false;
  private closed = false;
  private lastWelcome: Welcome | null = null;

  /** The last welcome received (null before the first). */
  get welcome(): Welcome | null {
    return this.lastWelcome;
  }

  /** Signals published and not yet answered. */
  get outboxSize(): number {
    return this.outbox.size;
  }

  /** The sequence the next publish() will use (0 before the first welcome). */
  get nextPublishSequence(): number {
    return this.nextSequence;
  }

  /** Welcomed on an open socket: sends go out now. */
  get isReady(): boolean {
    return this.welcomed && this.connection !== null && this.connection.isOpen;
  }

  /** Resolves on the first welcome; rejects when the first session cannot be had (HTTP 401/403, or any failure without reconnect). */
  connect(url: string, token: string, options: MasterConnectOptions): Promise<Welcome> {
    if (this.connection !== null) throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, 'connect() was already called');
    this.options = options;
    this.clock = options.clock ?? Date.now;
    this.outbox = new MasterOutbox(options.outboxSignalsMax ?? limits.outboxSignalsMax);
    this.log = new SentLog(options.sentLogSignalsMax ?? limits.sentLogSignalsMax);
    const hooks = {
      onOpen: () => {
        this.welcomed = false;
      },
      onFrame: (frame: DecodedFrame) => this.onFrame(frame),
      onSocketClosed: (willReconnect: boolean) => this.onSocketClosed(willReconnect),
      emitError: (error: Error) => this.emitError(error),
    };
    const session = clientSession<Welcome>(this, hooks, url, token, options, { clock: this.clock, maxPayloadBytes: wire.masterFrameBytesMax });
    this.connection = session.connection;
    this.connection.start();
    return session.welcomed;
  }

  /** Number, sign and send the next signal; resolves on its ack, rejects with the reject's code. */
  publish(signal: PublishSignal): Promise<PublishResult> {
    const options = this.options;
    if (this.closed) return Promise.reject(new SigplaneClientError(ClientErrorCode.CLOSED, 'client closed'));
    if (this.connection?.isStopped) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.DISCONNECTED, 'connection closed for good (no reconnect)'));
    }
    if (options === null || this.nextSequence === 0 || this.lastWelcome === null) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.NOT_CONNECTED, 'no welcome yet: the next sequence is unknown'));
    }
    if (this.outbox.isFull) {
      return Promise.reject(
        new SigplaneClientError(ClientErrorCode.OUTBOX_FULL, `${this.outbox.size} signals await an answer`),
      );
    }
    const sequence = this.nextSequence;
    let frame: Uint8Array;
    try {
      frame = encodeSignalFrame(options.signing, {
        ...signal,
        subscriptionId: this.lastWelcome.subscriptionId,
        sequence,
        generatedAt: this.clock(),
      });
    } catch (err) {
      return Promise.reject(err);
    }
    this.nextSequence = sequence + 1;
    return new Promise<PublishResult>((resolve, reject) => {
      this.outbox.add(sequence, frame, { resolve, reject });
      this.log.record(sequence, frame);
      this.pump();
    });
  }

  /**
   * Sign and send a signal with an explicit sequence and generatedAt,
   * bypassing the counter and the outbox (kept in the sent log). Resolves on
   * the ack for that sequence, rejects on its reject or when the connection
   * drops first. A reject that names no sequence only reaches 'reject' listeners.
   */
  sendSignal(fields: SendSignalFields): Promise<PublishResult> {
    const options = this.options;
    if (options === null || !this.isReady || this.lastWelcome === null) {
      return Promise.reject(new SigplaneClientError(ClientErrorCode.NOT_CONNECTED, 'not connected'));
    }
    let frame: Uint8Array;
    try {
      frame = encodeSignalFrame(options.signing, { ...fields, subscriptionId: fields.subscriptionId ?? this.lastWelcome.subscriptionId });
    } catch (err) {
      return Promise.reject(err);
    }
    const key = typeof fields.sequence === 'bigint' ? fields.sequence.toString() : String(fields.sequence);
    const numeric = Number(key);
    if (Number.isSafeInteger(numeric) && numeric > 0) this.log.record(numeric, frame);
    return new Promise<PublishResult>((resolve, reject) => {
      const queue = this.crafted.get(key) ?? [];
      queue.push({ resolve, reject });
      this.crafted.set(key, queue);
      this.connection!.send(frame);
    });
  }

  /** The frame sendSignal would send (to tamper with, then sendRaw). */
  encodeSignal(fields: SendSignalFields): Uint8Array {
    if (this.options === null) throw new SigplaneClientError(ClientErrorCode.NOT_CONNECTED, 'connect() first');
    const subscriptionId = fields.subscriptionId ?? this.lastWelcome?.subscriptionId ?? '';
    return encodeSignalFrame(this.options.signing, { ...fields, subscriptionId });
  }

  /** Send arbitrary bytes as one binary message; false when not connected. */
  sendRaw(bytes: Uint8Array): boolean {
    return this.connection !== null && this.connection.send(bytes);
  }

  /** Send a signed full snapshot now (v2 only). */
  sendSnapshot(snapshot: MasterSnapshot, generatedAtMs: number = this.clock()): boolean {
    if (this.options === null || this.lastWelcome === null) {
      throw new SigplaneClientError(ClientErrorCode.NOT_CONNECTED, 'no welcome yet');
    }
    const frame = encodeSnapshotFrame(this.options.signing, this.lastWelcome.subscriptionId, snapshot, generatedAtMs);
    if (snapshot.sequence >= this.nextSequence) this.nextSequence = snapshot.sequence + 1;
    return this.sendRaw(frame);
  }

  /** Stop for good: pending publishes reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelBusyResend();
    this.cancelPace();
    const closing = this.connection?.close() ?? Promise.resolve();
    this.failEverything(ClientErrorCode.CLOSED, 'client closed');
    await closing;
  }

  // ---- frames from the server ----

  private onFrame(frame: DecodedFrame): void {
    switch (frame.kind) {
      case 'welcome':
        return this.onWelcome(frame.welcome);
      case 'ack':
        return this.onAck(frame.ack);
      case 'reject':
        return this.onReject(frame.reject);
      case 'syncRequest':
        return this.onSyncRequest(frame.syncRequest);
      case 'stateChange':
        return this.onStateChange(frame.stateChange);
      default:
        this.emitError(new SigplaneClientError(ClientErrorCode.PROTOCOL, `unexpected ${frame.kind} frame on a master connection`));
    }
  }

  private onWelcome(frame: FrameOf<'welcome'>['welcome']): void {
    let welcome: Welcome;
    try {
      welcome = toWelcome(frame, stateName);
    } catch (err) {
      this.emitError(asError(err) as SigplaneClientError);
      this.connection?.drop(ClientCloseCode.PROTOCOL, 'bad welcome');
      return;
    }
    this.lastWelcome = welcome;
    this.welcomed = true;
    this.connection?.markWelcomed();
    // The server has everything up to lastSequence: those are answered.
    if (this.nextSequence === 0) this.nextSequence = welcome.lastSequence + 1;
    this.serverHas(welcome.lastSequence);
    this.settleUpTo(welcome.lastSequence);
    // The rest again, in order, the same bytes, paced at this session's rate.
    this.cancelBusyResend();
    this.cancelPace();
    this.busyWindow.reset();
    this.resends = [];
    this.snapshotSentUpTo = 0;
    this.pacer.reset(welcome.signalsPerSecond, welcome.signalsBurst, performance.now());
    this.emit('welcome', welcome);
    this.pump();
  }

  private onAck(ack: FrameOf<'ack'>['ack']): void {
    const key = exactDecimal(ack.sequenceNumber);
    const status: PublishResult['status'] = ack.status === 2 ? 'DUPLICATE' : 'ACCEPTED';
    const sequence = safeInteger(ack.sequenceNumber);
    const result: PublishResult = { sequence: sequence ?? Number(key), status };
    this.emit('ack', result);
    if (sequence !== null) {
      this.serverHas(sequence);
      const entry = this.outbox.take(sequence);
      this.onBusyAction(this.busyWindow.answered(sequence, true));
      if (entry !== undefined) return entry.waiter.resolve(result);
    }
    this.takeCrafted(key)?.resolve(result);
  }

  private onReject(reject: FrameOf<'reject'>['reject']): void {
    const key = exactDecimal(reject.sequenceNumber);
    const sequence = safeInteger(reject.sequenceNumber);
    const code = rejectCodeName(reject.code);
    const error = new SigplaneClientError(code, reject.message || code, { sequence: sequence ?? key });
    this.emit('reject', error);
    if (sequence === null || sequence === 0) return;
    if (code === 'REPLAY') this.serverHas(sequence);
    const notTaken = code === 'BUSY' || code === 'RATE_LIMITED';
    // BUSY and RATE_LIMITED refuse nothing for good: the signal waits in the outbox and goes again (client/busy-window.ts).
    if (notTaken && this.outbox.get(sequence) !== undefined) return this.onBusyAction(this.busyWindow.busy(sequence, this.inFlight()));
    if (notTaken && this.lastSnapshot?.sequence === sequence) return this.resendSnapshot();
    // Never accepted and too old to execute: nothing of the outbox can follow it (see the header).
    if (code === 'STALE' && this.outbox.get(sequence) !== undefined) return this.replaceOutboxWithSnapshot(error);
    // Never send a rejected signal again (a later sync request for it is answered by a snapshot, or not at all).
    this.log.forget(sequence);
    const entry = this.outbox.take(sequence);
    this.onBusyAction(this.busyWindow.answered(sequence, false));
    if (entry !== undefined) {
      // Nothing of ours above it in flight: the next publish takes the first sequence the server lacks.
      if (this.outbox.highestSequence < sequence) {
        this.nextSequence = Math.min(this.nextSequence, Math.max(this.outbox.highestSequence, this.serverLast) + 1);
        this.busyWindow.sentUpTo = Math.min(this.busyWindow.sentUpTo, this.nextSequence - 1);
      }
      return entry.waiter.reject(error);
    }
    this.takeCrafted(key)?.reject(error);
  }

  private onBusyAction(action: BusyAction): void {
    if (action.kind === 'resendAfter') {
      this.cancelBusyResend();
      this.busyResendTimer = setTimeout(() => {
        this.busyResendTimer = null;
        this.busyWindow.resume();
        this.pump();
      }, action.delayMs);
    } else if (action.kind === 'ignore' && this.busyWindow.limit !== Infinity) this.pump();
  }

  private cancelBusyResend(): void {
    if (this.busyResendTimer !== null) clearTimeout(this.busyResendTimer);
    this.busyResendTimer = null;
  }

  /** Outbox signals sent on this connection and not yet answered. */
  private inFlight(): number {
    return this.outbox.countUpTo(this.busyWindow.sentUpTo);
  }

  /**
   * Send what may go now, each frame paced: the snapshot, a sync request's
   * resends, then the outbox's unsent signals in order, as far as the BUSY
   * window allows. Whatever waits for a token goes when the timer fires.
   */
  private pump(): void {
    if (!this.isReady || this.paceTimer !== null) return;
    if (this.snapshotFrame !== null) {
      if (!this.paced()) return;
      this.connection!.send(this.snapshotFrame);
      this.snapshotFrame = null;
      this.snapshotSentUpTo = Math.max(this.snapshotSentUpTo, this.lastSnapshot!.sequence);
    }
    while (this.resends.length > 0) {
      if (!this.paced()) return;
      this.connection!.send(this.resends.shift()!);
    }
    if (this.snapshotPending) return;
    let inFlight = this.busyWindow.limit === Infinity ? 0 : this.inFlight();
    const highest = this.outbox.highestSequence;
    for (let sequence = Math.max(this.busyWindow.sentUpTo + 1, this.outbox.lowestSequence); sequence <= highest; sequence++) {
      const entry = this.outbox.get(sequence);
      if (entry === undefined) continue;
      if (!this.busyWindow.maySend(inFlight) || !this.paced()) return;
      this.connection!.send(entry.frame);
      this.busyWindow.sent(sequence);
      inFlight++;
    }
  }

  /** A token for one frame now; otherwise false, and pump() runs again when one is due. */
  private paced(): boolean {
    const nowMs = performance.now();
    if (this.pacer.take(nowMs)) return true;
    this.paceTimer = setTimeout(() => {
      this.paceTimer = null;
      this.pump();
    }, this.pacer.delayMs(nowMs));
    return false;
  }

  private cancelPace(): void {
    if (this.paceTimer !== null) clearTimeout(this.paceTimer);
    this.paceTimer = null;
  }

  /**
   * STALE for an outbox signal (docs/protocol.md, "what a correct master
   * does after an outage"): it was never accepted and is too old to
   * execute, so no later outbox signal can be accepted in order either.
   * Each is dropped and never sent again (its publish rejects: the stale
   * one with STALE, the others SUPERSEDED_BY_SNAPSHOT), and a signed
   * snapshot of the application's positions at the last assigned sequence
   * replaces them; the next publish follows it.
   */
  private replaceOutboxWithSnapshot(stale: SigplaneClientError): void {
    const lastAssigned = this.nextSequence - 1;
    this.droppedUpTo = Math.max(this.droppedUpTo, lastAssigned);
    this.cancelBusyResend();
    this.busyWindow.reset();
    this.busyWindow.sentUpTo = lastAssigned;
    this.resends = [];
    for (const entry of this.outbox.takeAll()) {
      this.log.forget(entry.sequence);
      entry.waiter.reject(
        entry.sequence === stale.sequence
          ? stale
          : new SigplaneClientError(ClientErrorCode.SUPERSEDED_BY_SNAPSHOT, `signal ${entry.sequence} dropped after STALE ${stale.sequence}: a snapshot at ${lastAssigned} replaces it`, { sequence: entry.sequence }),
      );
    }
    void this.answerWithSnapshot(`STALE ${stale.sequence}: the outbox up to ${lastAssigned} was dropped`);
  }

  /** Does a snapshot sent (or about to be) on this connection cover every sequence up to `sequence`? */
  private snapshotCovers(sequence: number): boolean {
    const coming = this.snapshotPending || this.snapshotFrame !== null ? this.droppedUpTo : 0;
    return Math.max(coming, this.snapshotSentUpTo) >= sequence;
  }

  /** The server did not take the last snapshot (BUSY, RATE_LIMITED): the same bytes go again after a short backoff. */
  private resendSnapshot(): void {
    const last = this.lastSnapshot;
    if (last === null) return;
    setTimeout(() => {
      if (this.lastSnapshot !== last || this.snapshotFrame !== null) return;
      this.snapshotFrame = last.frame;
      this.pump();
    }, limits.busyResendDelayMaxMs).unref();
  }

  private onSyncRequest(request: FrameOf<'syncRequest'>['syncRequest']): void {
    const fromSequence = safeInteger(request.fromSequence) ?? 0;
    const toSequence = safeInteger(request.toSequence) ?? 0;
    this.emit('syncRequest', { fromSequence, toSequence, full: request.full });
    if (request.full) {
      void this.answerWithSnapshot(`full sync requested`);
      return;
    }
    const highest = Math.max(this.outbox.highestSequence, this.log.highestSequence);
    const from = Math.max(1, fromSequence);
    const to = toSequence === 0 || toSequence < from ? highest : toSequence;
    // Asked before the snapshot that covers the range arrived: it answers this request too.
    if (this.snapshotCovers(to)) return;
    const plan = planResend(this.outbox, this.log, from, to);
    if (plan.missingCount > 0 && this.options?.signing.version === 2 && this.options.snapshotProvider !== undefined) {
      void this.answerWithSnapshot(`sync request ${from}..${to}: ${plan.missingCount} signals no longer held`);
      return;
    }
    this.resends = plan.frames.map((f) => f.frame);
    this.pump();
    if (plan.missingCount > 0) {
      this.emitError(
        new SigplaneClientError(
          ClientErrorCode.SYNC_UNANSWERABLE,
          `sync request ${from}..${to}: ${plan.missingCount} signals not held and no v2 snapshot provider`,
          { sequence: from },
        ),
      );
    }
  }

  /**
   * A signed snapshot from the application's provider, at its sequence or
   * at the highest one dropped for a snapshot, whichever is higher; sent
   * before anything of the outbox (paced like every frame).
   */
  private async answerWithSnapshot(why: string): Promise<void> {
    const options = this.options;
    if (options === null || options.signing.version !== 2 || options.snapshotProvider === undefined) {
      this.emitError(new SigplaneClientError(ClientErrorCode.SYNC_UNANSWERABLE, `${why}: a snapshot needs v2 signing and a snapshotProvider`));
      return;
    }
    this.snapshotPending = true;
    try {
      const provided = await options.snapshotProvider(this.nextSequence - 1);
      const snapshot = { ...provided, sequence: Math.max(provided.sequence, this.droppedUpTo) };
      const frame = encodeSnapshotFrame(options.signing, this.lastWelcome!.subscriptionId, snapshot, this.clock());
      if (snapshot.sequence >= this.nextSequence) this.nextSequence = snapshot.sequence + 1;
      this.lastSnapshot = { sequence: snapshot.sequence, frame };
      this.snapshotFrame = frame;
    } catch (err) {
      this.emitError(new SigplaneClientError(ClientErrorCode.SYNC_UNANSWERABLE, `${why}: snapshot failed: ${asError(err).message}`, { cause: err }));
    } finally {
      this.snapshotPending = false;
      this.pump();
    }
  }

  private onStateChange(change: FrameOf<'stateChange'>['stateChange']): void {
    const state = stateName(change.state);
    const sequence = safeInteger(change.sequenceNumber) ?? 0;
    // Whole again at `sequence`: whatever we still wait for up to there, the server has.
    if (state === 'ACTIVE') {
      this.serverHas(sequence);
      this.settleUpTo(sequence);
    }
    this.emit('state', { state, sequence, reason: change.reason });
  }

  // ---- helpers ----

  /** The server holds `sequence`: the counter never goes back to or below it. */
  private serverHas(sequence: number): void {
    if (sequence > this.serverLast) this.serverLast = sequence;
    if (this.nextSequence !== 0 && this.nextSequence <= sequence) this.nextSequence = sequence + 1;
  }

  private settleUpTo(sequence: number): void {
    for (const entry of this.outbox.takeUpTo(sequence)) {
      entry.waiter.resolve({ sequence: entry.sequence, status: 'ACCEPTED' });
    }
  }

  private takeCrafted(key: string): Waiter | undefined {
    const queue = this.crafted.get(key);
    if (queue === undefined) return undefined;
    const waiter = queue.shift();
    if (queue.length === 0) this.crafted.delete(key);
    return waiter;
  }

  private onSocketClosed(willReconnect: boolean): void {
    this.welcomed = false;
    this.cancelBusyResend();
    this.cancelPace();
    // sendSignal answers cannot come on another connection.
    for (const queue of this.crafted.values()) {
      for (const waiter of queue) waiter.reject(new SigplaneClientError(ClientErrorCode.DISCONNECTED, 'connection closed before the answer'));
    }
    this.crafted.clear();
    if (!willReconnect) this.failEverything(ClientErrorCode.DISCONNECTED, 'connection closed for good');
  }

  private failEverything(code: string, message: string): void {
    for (const entry of this.outbox.takeAll()) entry.waiter.reject(new SigplaneClientError(code, message, { sequence: entry.sequence }));
    for (const queue of this.crafted.values()) for (const waiter of queue) waiter.reject(new SigplaneClientError(code, message));
    this.crafted.clear();
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
