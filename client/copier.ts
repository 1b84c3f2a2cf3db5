/**
 * The receiver's copier: applies deliveries and snapshots to a broker
 * account under the license's copy settings, exactly once.
 *
 *   const copier = Copier.open({ broker, mapFile: 'copier.json' });
 *   await receiver.connect(url, token, copier.receiverOptions());
 *
 * Exactly once, per master position:
 *   - Every delivery has an idempotency key (subscription, sequence). The
 *     last sequence applied is kept in the position map file together with
 *     the positions, so a restarted receiver resumes after it.
 *   - Every order carries a key in its comment: `sp:<subscription 6>:<master
 *     ticket>` (v1 netting: `sp:<subscription 6>:n<sequence base 36>`, from a
 *     snapshot `...n<sequence>.<index>`). Before it
 *     opens, the copier looks for a position with that comment and adopts
 *     it: a crash between the broker's fill and the map write cannot open
 *     the same master position twice.
 *   - Volumes are targets, not deltas: a partial close brings the copy to
 *     localOpenVolume x masterVolume / masterOpenVolume (copy-rules
 *     targetVolume) measured against what the broker holds, so applying
 *     the same delivery twice changes nothing.
 *   - A snapshot reconciles: copies of positions the master no longer holds
 *     are closed, missing ones opened (copyOpenPositions), volumes and stops
 *     brought to target, and positions with this subscription's key that no
 *     entry owns (orphans of a crash) closed.
 *
 * Events: 'execution' (CopyExecution), 'settings' (ReceiverSettingsMessage),
 * 'report' (ExecutionReportInput: the executions of one delivery or
 * snapshot, merged per (sequence, master position, kind), after it was
 * applied or failed; `reportTo(receiver)` sends them to the server).
 *
 * Once reporting, the reports the server has not acked are written into the
 * position map file with the delivery that made them, and a copier opened
 * on that file sends them again on `reportTo`: a receiver process that dies
 * loses no report of an execution it remembered.
 */
import { EventEmitter } from 'node:events';
import { pipSize, Action, type CopySettings, type Position, type ReceiverSettingsMessage } from '@sigplane/protocol';
import type { Broker, BrokerPosition, BrokerResult } from './broker';
import type { ReceivedDelivery, ReceivedSnapshot } from './convert';
import { localStops, mapSymbol, planOpen, roundToStep, SkipReason, targetVolume, type MasterPosition } from './copy-rules';
import { ClientErrorCode, SigplaneClientError } from './errors';
import { copier as limits } from './limits';
import { CopyStatus, PositionMap, type CopiedPosition } from './position-map';
import type { ReceiverClient, ReceiverConnectOptions } from './receiver-client';
import { reportKey, type ExecutionReportInput } from './report-outbox';

export interface CopierOptions {
  broker: Broker;
  mapFile: string;
  clock?: () => number;
  /** The account currency of reported profits (default client/limits.ts copier.currencyDefault). */
  currency?: string;
}

/** One thing the copier did (or decided not to do): the input of execution reports. */
export interface CopyExecution {
  sequence: number;
  masterPositionId: string;
  kind: 'open' | 'adopt' | 'close' | 'reduce' | 'modify' | 'skip';
  ticket: string | null;
  volume: number;
  price: number | null;
  reason: string | null;
  /** When it was done (the copier's clock, ms). */
  atMs: number;
  /** Fill price against the master's price, in the master symbol's pips, positive when worse for the receiver; null without both. */
  slippagePips: number | null;
  /** From the master's generated_at to atMs (deliveries; null for snapshots). */
  delayMs: number | null;
  /** What the copy rules asked for (0 for a skip); volume is what filled. */
  requestedVolume: number;
  /** Realized result of a close or reduce, account currency (price difference x tick value; the paper broker charges no commission or swap); null otherwise. */
  profit: number | null;
}

const volumeEpsilon = 1e-9;
/** Volumes are rounded to this many decimals after arithmetic (as the server's positions book). */
const volumeDecimalsFactor = 1e8;

function roundVolume(v: number): number {
  return Math.round(v * volumeDecimalsFactor) / volumeDecimalsFactor;
}

function brokerFailure(what: string, result: Extract<BrokerResult, { ok: false }>): SigplaneClientError {
  return new SigplaneClientError(ClientErrorCode.BROKER_FAILED, `${what}: ${result.code} ${result.message}`);
}

export class Copier extends EventEmitter {
  private current: ReceiverSettingsMessage | null = null;
  private readonly clock: () => number;

  private map: PositionMap;
  /** The signal being applied (null for a snapshot): the reference of slippage and delay. */
  private signal: { symbol: string; price: number } | null = null;
  private generatedAtMs: number | null = null;
  /** Reports of the delivery or snapshot being applied, merged per key (several tickets of one close are one report). */
  private pendingReports = new Map<string, ExecutionReportInput>();
  /** The reports of an apply that failed half way, for its retry (applyOrForget). */
  private carriedReports: { sequence: number; reports: Map<string, ExecutionReportInput> } | null = null;
  /** Once reportTo was called: reports made and not acked by the server yet, oldest first (kept in the map file). */
  private unackedReports: Map<string, ExecutionReportInput> | null = null;

  private constructor(
    private readonly broker: Broker,
    private readonly mapFile: string,
    clock: () => number,
    private readonly currency: string,
  ) {
    super();
    this.clock = clock;
    this.map = PositionMap.load(mapFile);
    const carried = this.map.carried;
    if (carried !== null) this.carriedReports = { sequence: carried.sequence, reports: new Map(carried.reports.map((r) => [keyOfReport(r), r])) };
  }

  static open(options: CopierOptions): Copier {
    return new Copier(options.broker, options.mapFile, options.clock ?? Date.now, options.currency ?? limits.currencyDefault);
  }

  /**
   * Send an execution report to the server for every execution (event
   * 'report', one per (sequence, master position, kind) of each delivery
   * or snapshot). The receiver keeps them until acked and resends them
   * after reconnects; the copier keeps the unacked ones in its map file
   * too, and sends those an earlier process left there now.
   */
  reportTo(receiver: Pick<ReceiverClient, 'sendExecutionReport' | 'on'>): void {
    if (this.unackedReports === null) this.unackedReports = new Map(this.map.reports.map((r) => [keyOfReport(r), r]));
    const unacked = this.unackedReports;
    const settled = (report: ExecutionReportInput): void => void unacked.delete(keyOfReport(report));
    receiver.on('reportAck', settled);
    receiver.on('reportRefused', settled);
    this.on('report', (report: ExecutionReportInput) => receiver.sendExecutionReport(report));
    // What an earlier process reported and never saw acked (the server makes a resent report the same row).
    for (const report of unacked.values()) receiver.sendExecutionReport(report);
  }

  /** The last sequence applied (from the map file after a restart); null before any. */
  get lastSequence(): number | null {
    return this.map.lastSequence;
  }

  get settings(): ReceiverSettingsMessage | null {
    return this.current;
  }

  /** The copies, as remembered. */
  get positions(): CopiedPosition[] {
    return this.map.entries();
  }

  /** What ReceiverClient.connect needs: resume from the map's sequence, apply everything here. */
  receiverOptions(): Pick<ReceiverConnectOptions, 'lastSequence' | 'onSignal' | 'onSnapshot' | 'onSettings'> {
    return {
      lastSequence: () => this.map.lastSequence,
      onSignal: (d) => this.onDelivery(d),
      onSnapshot: (s) => this.onSnapshot(s),
      onSettings: (s) => this.onSettings(s),
    };
  }

  /** Newer settings replace older ones; an older revision (a late resend) is ignored. */
  onSettings(message: ReceiverSettingsMessage): void {
    if (this.current !== null && message.revision < this.current.revision) return;
    this.current = message;
    this.map.settingsRevision = message.revision;
    this.emit('settings', message);
  }

  // ---- deliveries ----

  async onDelivery(delivery: ReceivedDelivery): Promise<void> {
    await this.applyOrForget(delivery.sequenceNumber, () => this.applyDelivery(delivery));
  }

  async onSnapshot(snapshot: ReceivedSnapshot): Promise<void> {
    await this.applyOrForget(snapshot.sequenceNumber, () => this.applySnapshot(snapshot));
  }

  /**
   * The map file is written once, after a delivery or snapshot was applied
   * in full. When applying fails half way, what is in memory is forgotten
   * and the file read again: the redelivery starts from the last complete
   * state and finds the broker's side through the keys and the targets.
   *
   * The fills of a failed apply happened, so they are reported, but not
   * yet: the server keeps the first report of a key, and the retry of the
   * same sequence closes the rest of the same copy under the same key. They
   * are carried into the retry and merged with its fills (volumes and
   * profits add up), then reported once, complete; they wait in the map
   * file too, for a copier opened on it after a restart. Should something
   * else be applied instead (a snapshot at a later sequence), they are
   * reported as they are.
   */
  private async applyOrForget(sequence: number, apply: () => Promise<void>): Promise<void> {
    const carried = this.carriedReports;
    this.carriedReports = null;
    if (carried !== null && carried.sequence === sequence) this.pendingReports = carried.reports;
    else if (carried !== null) this.emitReports(carried.reports);
    try {
      await apply();
    } catch (error) {
      this.map = PositionMap.load(this.mapFile);
      if (this.pendingReports.size > 0) {
        const reports = this.pendingReports;
        this.carriedReports = { sequence, reports };
        // On disk too, beside the last complete state: a process that stops before the retry leaves them to the next.
        this.map.carried = { sequence, reports: [...reports.values()] };
        await this.map.save().catch(() => undefined); // the apply's own error is the one to report; memory still has them
      }
      this.pendingReports = new Map();
      throw error;
    }
    const reports = this.pendingReports;
    this.pendingReports = new Map();
    this.emitReports(reports);
  }

  private emitReports(reports: Map<string, ExecutionReportInput>): void {
    for (const [key, report] of reports) {
      if (this.unackedReports !== null) keepNewest(this.unackedReports, key, report);
      this.emit('report', report);
    }
  }

  /**
   * Write the map after a delivery or snapshot was applied in full, with
   * the reports not acked yet and those of this delivery (when reporting).
   */
  private async saveApplied(): Promise<void> {
    if (this.unackedReports !== null) {
      const kept = new Map(this.unackedReports);
      for (const report of this.pendingReports.values()) keepNewest(kept, keyOfReport(report), report);
      this.map.reports = [...kept.values()];
    }
    this.map.carried = null; // merged into this apply's reports, or reported before it
    await this.map.save();
  }

  /** Merge one execution into the pending report of its key. */
  private queueReport(e: CopyExecution): void {
    const key = reportKey(e.sequence, e.masterPositionId, e.kind);
    const prior = this.pendingReports.get(key);
    const clean = (v: number) => Number(v.toFixed(8));
    if (prior === undefined) {
      const rejected = e.kind === 'skip' && (e.reason ?? '').startsWith(SkipReason.BROKER_REJECTED);
      this.pendingReports.set(key, {
        sequence: e.sequence,
        masterPositionId: e.masterPositionId,
        kind: e.kind,
        outcome: e.kind === 'skip' ? (rejected ? 'rejected' : 'skipped') : e.volume < e.requestedVolume - volumeEpsilon ? 'partially_filled' : 'filled',
        ticket: e.kind === 'skip' ? null : e.ticket,
        requestedVolume: e.requestedVolume,
        volume: e.kind === 'skip' ? 0 : e.volume,
        price: e.kind === 'skip' ? null : e.price,
        slippagePips: e.kind === 'skip' ? null : e.slippagePips,
        delayMs: e.delayMs === null ? null : Math.max(0, e.delayMs),
        profit: e.profit === null ? null : clean(e.profit),
        currency: e.profit === null ? null : this.currency,
        reason: e.kind === 'skip' ? e.reason : null,
        executedAtMs: e.atMs,
      });
      return;
    }
    // Another ticket of the same copy in the same delivery: volumes and profits add up, prices are volume-weighted.
    const total = prior.volume + e.volume;
    const weighted = (a: number | null, b: number | null): number | null =>
      a === null || b === null || total <= 0 ? (a ?? b) : clean((a * prior.volume + b * e.volume) / total);
    prior.price = weighted(prior.price, e.price);
    prior.slippagePips = weighted(prior.slippagePips, e.slippagePips);
    prior.volume = clean(total);
    prior.requestedVolume = clean(prior.requestedVolume + e.requestedVolume);
    if (e.profit !== null) {
      prior.profit = clean((prior.profit ?? 0) + e.profit);
      prior.currency = this.currency;
    }
    if (prior.outcome === 'filled' && e.volume < e.requestedVolume - volumeEpsilon) prior.outcome = 'partially_filled';
    prior.executedAtMs = e.atMs;
  }

  /** Realized result of closing `volume` of `h` at `price`, in the account currency. */
  private realized(h: BrokerPosition, price: number, volume: number): number | null {
    const spec = this.broker.symbolSpec(h.symbol);
    if (spec === null || !(spec.tickSize > 0)) return null;
    const move = h.orderType === 0 ? price - h.openPrice : h.openPrice - price;
    const profit = (move / spec.tickSize) * spec.tickValue * volume;
    return Number.isFinite(profit) ? Number(profit.toFixed(8)) : null;
  }

  private async applyDelivery(delivery: ReceivedDelivery): Promise<void> {
    const settings = this.requireSettings();
    const s = delivery.signal;
    this.signal = { symbol: s.symbol, price: s.price };
    this.generatedAtMs = s.generatedAt;
    const sequence = delivery.sequenceNumber;
    this.bind(delivery.subscriptionId);
    if (this.map.lastSequence !== null && sequence <= this.map.lastSequence) return; // applied before a restart
    switch (s.action) {
      case Action.NETTING:
        await this.onNettingOrder(delivery);
        break;
      case Action.OPEN:
        if (this.map.get(s.positionId) === undefined) {
          await this.openCopy(s.positionId, s, sequence, s.generatedAt, this.keyOf(s.positionId), settings);
        }
        break;
      case Action.MODIFY: {
        const entry = this.map.get(s.positionId);
        if (entry !== undefined) {
          entry.masterStopLoss = s.stopLoss;
          entry.masterTakeProfit = s.takeProfit;
          if (entry.status === CopyStatus.COPIED) await this.syncStops(entry, sequence, await this.broker.positions());
        }
        break;
      }
      case Action.PARTIAL_CLOSE: {
        const entry = this.map.get(s.positionId);
        if (entry !== undefined) {
          entry.masterVolume = Math.max(0, roundVolume(entry.masterVolume - s.volume));
          await this.bringToTarget(entry, sequence, await this.broker.positions());
        }
        break;
      }
      case Action.CLOSE: {
        const entry = this.map.get(s.positionId);
        if (entry !== undefined) await this.closeCopy(entry, sequence, await this.broker.positions());
        break;
      }
      default:
        break;
    }
    this.map.lastSequence = sequence;
    await this.saveApplied();
  }

  /** v1: a market order on the symbol's net position (as actors/positions-book.ts keeps it). */
  private async onNettingOrder(delivery: ReceivedDelivery): Promise<void> {
    const s = delivery.signal;
    if (s.orderType !== 0 && s.orderType !== 1) return; // pending orders do not change the book
    const settings = this.requireSettings();
    const id = `v1:${s.symbol}`;
    const entry = this.map.get(id);
    const before = entry === undefined ? 0 : entry.masterOrderType === 0 ? entry.masterVolume : -entry.masterVolume;
    const after = roundVolume(before + (s.orderType === 0 ? s.volume : -s.volume));
    const flipped = entry !== undefined && (Math.abs(after) <= volumeEpsilon || Math.sign(after) !== Math.sign(before));
    if (entry !== undefined && flipped) await this.closeCopy(entry, delivery.sequenceNumber, await this.broker.positions());
    if (Math.abs(after) <= volumeEpsilon) return;
    if (entry === undefined || flipped) {
      const master: MasterPosition = { symbol: s.symbol, orderType: after > 0 ? 0 : 1, volume: Math.abs(after), price: s.price, stopLoss: 0, takeProfit: 0, magic: s.magic };
      await this.openCopy(id, master, delivery.sequenceNumber, s.generatedAt, this.nettingKey(delivery.sequenceNumber), settings);
      return;
    }
    entry.masterVolume = Math.abs(after);
    await this.bringToTarget(entry, delivery.sequenceNumber, await this.broker.positions());
  }

  // ---- snapshots ----

  private async applySnapshot(snapshot: ReceivedSnapshot): Promise<void> {
    const settings = this.requireSettings();
    this.signal = null;
    this.generatedAtMs = null;
    this.bind(snapshot.subscriptionId);
    const held = await this.reconcileCopies(snapshot, await this.broker.positions());
    await this.copyNewPositions(snapshot, settings, held);
    await this.closeOrphans(snapshot.sequenceNumber);
    this.map.lastSequence = snapshot.sequenceNumber;
    await this.saveApplied();
  }

  /**
   * Every copy against the snapshot: closed when the master no longer holds
   * its position (or holds it on the other side), else brought to the
   * master's volume and stops. Answers what the broker holds after.
   */
  private async reconcileCopies(snapshot: ReceivedSnapshot, held: BrokerPosition[]): Promise<BrokerPosition[]> {
    const sequence = snapshot.sequenceNumber;
    const master = new Map<string, Position>(snapshot.positions.map((p) => [p.positionId, p]));
    for (const entry of this.map.entries()) {
      const p = master.get(entry.masterPositionId);
      if (p === undefined || (p.orderType !== entry.masterOrderType && entry.status !== CopyStatus.SKIPPED)) {
        await this.closeCopy(entry, sequence, held);
        held = await this.broker.positions();
        continue;
      }
      entry.masterVolume = p.volume;
      entry.masterStopLoss = p.stopLoss;
      entry.masterTakeProfit = p.takeProfit;
      await this.bringToTarget(entry, sequence, held, this.nettingKey(sequence, snapshot.positions.indexOf(p)));
      held = await this.broker.positions();
      if (entry.status === CopyStatus.COPIED) await this.syncStops(entry, sequence, held);
    }
    return held;
  }

  /** The snapshot's positions no copy knows: opened, adopted when already held, or skipped when open positions are not copied. */
  private async copyNewPositions(snapshot: ReceivedSnapshot, settings: ReceiverSettingsMessage, held: BrokerPosition[]): Promise<void> {
    const sequence = snapshot.sequenceNumber;
    for (const [index, p] of snapshot.positions.entries()) {
      if (this.map.get(p.positionId) !== undefined) continue;
      if (p.orderType !== 0 && p.orderType !== 1) continue;
      const m: MasterPosition = { symbol: p.symbol, orderType: p.orderType, volume: p.volume, price: p.openPrice, stopLoss: p.stopLoss, takeProfit: p.takeProfit, magic: p.magic };
      const key = p.positionId.startsWith('v1:') ? this.nettingKey(sequence, index) : this.keyOf(p.positionId);
      if (!settings.settings.copyOpenPositions && held.every((h) => h.comment !== key)) {
        this.remember(p.positionId, m, null, sequence, SkipReason.OPEN_POSITIONS_NOT_COPIED, false);
        this.report(sequence, p.positionId, 'skip', { reason: SkipReason.OPEN_POSITIONS_NOT_COPIED });
        continue;
      }
      await this.openCopy(p.positionId, m, sequence, null, key, settings);
      held = await this.broker.positions();
    }
  }

  /** Orphans: this subscription's key on a position no entry owns (a crash between a fill and the map write): closed. */
  private async closeOrphans(sequence: number): Promise<void> {
    const owned = this.map.tickets();
    for (const h of await this.broker.positions()) {
      if (h.comment.startsWith(this.keyPrefix()) && !owned.has(h.ticket)) {
        const result = await this.attempt(() => this.broker.close(h.ticket, h.volume));
        if (!result.ok) throw brokerFailure(`closing orphan ${h.ticket}`, result);
        this.report(sequence, h.comment.slice(this.keyPrefix().length), 'close', {
          ticket: h.ticket,
          volume: h.volume,
          requested: h.volume,
          price: result.price,
          reason: 'ORPHAN',
          profit: this.realized(h, result.price, h.volume),
        });
      }
    }
  }

  // ---- the operations ----

  private async openCopy(
    masterPositionId: string,
    master: MasterPosition,
    sequence: number,
    generatedAtMs: number | null,
    key: string,
    settings: ReceiverSettingsMessage,
  ): Promise<void> {
    const symbol = mapSymbol(settings.settings, master.symbol);
    const existing = (await this.broker.positions()).find((h) => h.comment === key && h.symbol === symbol);
    if (existing !== undefined) {
      // Filled before a crash, never written down: adopt, do not open again.
      const entry = this.remember(masterPositionId, master, existing, sequence, null, settings.settings.reverse);
      entry.localOpenVolume = existing.volume;
      this.report(sequence, masterPositionId, 'adopt', { ticket: existing.ticket, volume: existing.volume, requested: existing.volume, price: existing.openPrice });
      return;
    }
    const plan = planOpen({
      settings: settings.settings,
      master,
      spec: this.broker.symbolSpec(symbol),
      quote: this.broker.quote(symbol),
      equity: this.broker.equity(),
      generatedAtMs,
      nowMs: this.clock(),
    });
    if (plan.kind === 'skip') {
      this.remember(masterPositionId, master, null, sequence, plan.reason, settings.settings.reverse);
      this.report(sequence, masterPositionId, 'skip', { reason: plan.reason });
      return;
    }
    const result = await this.attempt(() =>
      this.broker.open({ symbol: plan.symbol, orderType: plan.orderType, volume: plan.volume, stopLoss: plan.stopLoss, takeProfit: plan.takeProfit, comment: key }),
    );
    if (!result.ok) {
      if (result.transient) throw brokerFailure(`opening ${masterPositionId}`, result);
      this.remember(masterPositionId, master, null, sequence, SkipReason.BROKER_REJECTED, settings.settings.reverse);
      this.report(sequence, masterPositionId, 'skip', { reason: `${SkipReason.BROKER_REJECTED}:${result.code}` });
      return;
    }
    const entry = this.remember(masterPositionId, master, null, sequence, null, settings.settings.reverse);
    entry.tickets = [result.ticket];
    entry.localOpenVolume = result.volume;
    this.report(sequence, masterPositionId, 'open', { ticket: result.ticket, volume: result.volume, requested: plan.volume, price: result.price, fillSide: plan.orderType, master });
  }

  /** Close every ticket of the copy and forget it. */
  private async closeCopy(entry: CopiedPosition, sequence: number, held: BrokerPosition[]): Promise<void> {
    for (const ticket of entry.tickets) {
      const h = held.find((x) => x.ticket === ticket);
      if (h === undefined) continue; // already closed (before a crash, or by its own stop)
      const result = await this.attempt(() => this.broker.close(ticket, h.volume));
      if (!result.ok) throw brokerFailure(`closing ${ticket}`, result);
      this.report(sequence, entry.masterPositionId, 'close', {
        ticket,
        volume: h.volume,
        requested: h.volume,
        price: result.price,
        fillSide: h.orderType === 0 ? 1 : 0,
        master: this.signal,
        profit: this.realized(h, result.price, h.volume),
      });
    }
    this.map.delete(entry.masterPositionId);
  }

  /** Bring the copy's volume to its target: reduce from the newest ticket; grow (v1 netting only) with a new ticket. */
  private async bringToTarget(entry: CopiedPosition, sequence: number, held: BrokerPosition[], growKey = this.nettingKey(sequence)): Promise<void> {
    if (entry.status !== CopyStatus.COPIED) return;
    const settings = this.requireSettings().settings;
    const spec = this.broker.symbolSpec(entry.localSymbol);
    if (spec === null) throw new SigplaneClientError(ClientErrorCode.BROKER_FAILED, `the broker no longer has ${entry.localSymbol}`);
    const live = entry.tickets.filter((t) => held.some((h) => h.ticket === t));
    if (live.length !== entry.tickets.length) {
      entry.tickets = live;
      if (live.length === 0) {
        entry.status = CopyStatus.CLOSED_LOCALLY;
        return;
      }
    }
    const target = targetVolume(entry.localOpenVolume, entry.masterOpenVolume, entry.masterVolume, settings, spec);
    const holding = roundVolume(live.reduce((sum, t) => sum + held.find((h) => h.ticket === t)!.volume, 0));
    await this.reduceCopy(entry, sequence, held, live, roundToStep(holding - target, spec.volumeStep, 'nearest'));
    const missing = roundToStep(target - holding, spec.volumeStep, 'nearest');
    if (missing > volumeEpsilon && entry.masterPositionId.startsWith('v1:')) await this.growCopy(entry, sequence, held, missing, growKey, settings);
  }

  /** Close `excess` of the copy, from its newest live ticket back; a ticket closed whole leaves the copy. */
  private async reduceCopy(entry: CopiedPosition, sequence: number, held: BrokerPosition[], live: string[], excess: number): Promise<void> {
    for (let i = live.length - 1; i >= 0 && excess > volumeEpsilon; i--) {
      const h = held.find((x) => x.ticket === live[i])!;
      const volume = Math.min(h.volume, excess);
      const result = await this.attempt(() => this.broker.close(h.ticket, volume));
      if (!result.ok) throw brokerFailure(`reducing ${h.ticket}`, result);
      if (volume >= h.volume - volumeEpsilon) entry.tickets = entry.tickets.filter((t) => t !== h.ticket);
      excess = roundVolume(excess - volume);
      this.report(sequence, entry.masterPositionId, volume >= h.volume - volumeEpsilon ? 'close' : 'reduce', {
        ticket: h.ticket,
        volume,
        requested: volume,
        price: result.price,
        fillSide: h.orderType === 0 ? 1 : 0,
        master: this.signal,
        profit: this.realized(h, result.price, volume),
      });
    }
  }

  /** Add `missing` to a v1 netting copy with a ticket under `key`: adopted when it was filled before a crash, else opened. */
  private async growCopy(entry: CopiedPosition, sequence: number, held: BrokerPosition[], missing: number, key: string, settings: CopySettings): Promise<void> {
    const existing = held.find((h) => h.comment === key && h.symbol === entry.localSymbol);
    if (existing !== undefined) {
      if (!entry.tickets.includes(existing.ticket)) entry.tickets.push(existing.ticket);
      return;
    }
    const stops = localStops({ ...settings, reverse: entry.reversed }, entry.masterStopLoss, entry.masterTakeProfit);
    const result = await this.attempt(() =>
      this.broker.open({ symbol: entry.localSymbol, orderType: entry.localOrderType, volume: missing, ...stops, comment: key }),
    );
    if (!result.ok) throw brokerFailure(`adding to ${entry.masterPositionId}`, result);
    entry.tickets.push(result.ticket);
    this.report(sequence, entry.masterPositionId, 'open', {
      ticket: result.ticket,
      volume: result.volume,
      requested: missing,
      price: result.price,
      fillSide: entry.localOrderType,
      master: this.signal,
    });
  }

  /** Stops as the settings say (reverse as the copy was opened), on every ticket that differs. */
  private async syncStops(entry: CopiedPosition, sequence: number, held: BrokerPosition[]): Promise<void> {
    const settings = this.requireSettings().settings;
    const stops = localStops({ ...settings, reverse: entry.reversed }, entry.masterStopLoss, entry.masterTakeProfit);
    for (const ticket of entry.tickets) {
      const h = held.find((x) => x.ticket === ticket);
      if (h === undefined || (h.stopLoss === stops.stopLoss && h.takeProfit === stops.takeProfit)) continue;
      const result = await this.attempt(() => this.broker.modify(ticket, stops.stopLoss, stops.takeProfit));
      if (!result.ok) throw brokerFailure(`modifying ${ticket}`, result);
      this.report(sequence, entry.masterPositionId, 'modify', { ticket, volume: h.volume, requested: h.volume });
    }
  }

  // ---- helpers ----

  /** A broker operation, repeated on transient refusals up to brokerAttemptsMax times. */
  private async attempt(operation: () => Promise<BrokerResult>): Promise<BrokerResult> {
    let result = await operation();
    for (let i = 1; i < limits.brokerAttemptsMax && !result.ok && result.transient; i++) result = await operation();
    return result;
  }

  private remember(
    masterPositionId: string,
    master: MasterPosition,
    adopted: BrokerPosition | null,
    sequence: number,
    skipReason: string | null,
    reversed: boolean,
  ): CopiedPosition {
    const settings = this.requireSettings();
    const orderType = (master.orderType === 1 ? 1 : 0) as 0 | 1;
    const entry: CopiedPosition = {
      masterPositionId,
      masterSymbol: master.symbol,
      masterOrderType: orderType,
      masterOpenVolume: master.volume,
      masterVolume: master.volume,
      masterStopLoss: master.stopLoss,
      masterTakeProfit: master.takeProfit,
      status: skipReason === null ? CopyStatus.COPIED : CopyStatus.SKIPPED,
      skipReason,
      localSymbol: adopted?.symbol ?? mapSymbol(settings.settings, master.symbol),
      localOrderType: adopted?.orderType ?? ((reversed ? 1 - orderType : orderType) as 0 | 1),
      localOpenVolume: adopted?.volume ?? 0,
      reversed,
      tickets: adopted === null ? [] : [adopted.ticket],
      openedSequence: sequence,
    };
    this.map.set(entry);
    return entry;
  }

  private requireSettings(): ReceiverSettingsMessage {
    if (this.current === null) {
      throw new SigplaneClientError(ClientErrorCode.SETTINGS_MISSING, 'no copy settings from the server yet: nothing is executed without them');
    }
    return this.current;
  }

  /** One map file belongs to one subscription. */
  private bind(subscriptionId: string): void {
    if (this.map.subscriptionId === null) this.map.subscriptionId = subscriptionId;
    else if (this.map.subscriptionId !== subscriptionId) {
      throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `position map belongs to subscription ${this.map.subscriptionId}, not ${subscriptionId}`);
    }
  }

  private keyPrefix(): string {
    return `sp:${(this.map.subscriptionId ?? '').replace(/-/g, '').slice(0, 6)}:`;
  }

  /**
   * A v1 netting ticket's key: the sequence that opened it (one order moves
   * one symbol), and for a snapshot the position's index in it; base 36 so
   * the longest fits MT5's 31 characters.
   */
  private nettingKey(sequence: number, snapshotIndex?: number): string {
    return this.keyOf(`n${sequence.toString(36)}${snapshotIndex === undefined ? '' : `.${snapshotIndex.toString(36)}`}`);
  }

  /** The idempotency key in an order's comment. */
  private keyOf(suffix: string): string {
    return `${this.keyPrefix()}${suffix}`;
  }

  private report(
    sequence: number,
    masterPositionId: string,
    kind: CopyExecution['kind'],
    what: {
      ticket?: string;
      volume?: number;
      requested?: number;
      price?: number;
      reason?: string;
      fillSide?: 0 | 1;
      master?: { symbol: string; price: number } | null;
      profit?: number | null;
    },
  ): void {
    const atMs = this.clock();
    const master = what.master ?? null;
    let slippagePips: number | null = null;
    if (what.fillSide !== undefined && what.price !== undefined && master !== null && master.price > 0) {
      const worse = what.fillSide === 0 ? what.price - master.price : master.price - what.price;
      slippagePips = Number((worse / pipSize(master.symbol)).toFixed(2));
    }
    const execution: CopyExecution = {
      sequence,
      masterPositionId,
      kind,
      ticket: what.ticket ?? null,
      volume: what.volume ?? 0,
      price: what.price ?? null,
      reason: what.reason ?? null,
      atMs,
      slippagePips,
      delayMs: this.generatedAtMs === null ? null : atMs - this.generatedAtMs,
      requestedVolume: what.requested ?? 0,
      profit: kind === 'close' || kind === 'reduce' ? (what.profit ?? null) : null,
    };
    this.emit('execution', execution);
    this.queueReport(execution);
  }
}

function keyOfReport(report: ExecutionReportInput): string {
  return reportKey(report.sequence, report.masterPositionId, report.kind);
}

/** Set `key` as the newest entry, dropping the oldest past copier.reportsKeptMax. */
function keepNewest(reports: Map<string, ExecutionReportInput>, key: string, report: ExecutionReportInput): void {
  reports.delete(key);
  reports.set(key, report);
  while (reports.size > limits.reportsKeptMax) reports.delete(reports.keys().next().value as string);
}
