/**
 * Test fixtures for the subscription actor: signals, an in-memory journal
 * reader, a context with an injected clock, and effect helpers.
 */
import type { ActorContext, Effect, HistoryReader } from '../../actors/actor-types';
import { createActor, handle, type ActorLimits, type SubscriptionActor } from '../../actors/subscription-actor';
import { skipReport } from '../support/reports';
import {
  subscriptionDefaults,
  type SubscriptionSettings,
  Action,
  OrderType,
  type ExecutionReportRecord,
  type SignalRecord,
} from '@sigplane/protocol';

export const SUB = 'a6f1b0d2-0000-4000-8000-000000000001';
export const T0 = 1_700_000_000_000;

export const smallLimits: ActorLimits = {
  deliveryWindowMax: 8,
  heldSignalsMax: 4,
  catchUpBatchMax: 3,
  syncRetryMs: 2_000,
  degradedEscalateMs: 10_000,
};

const encoder = new TextEncoder();

/** Content is derived from every field, so equal fields make a duplicate and any change a replay. */
export function signal(sequence: number, fields: Partial<SignalRecord> = {}): SignalRecord {
  const record: SignalRecord = {
    subscriptionId: SUB,
    sequence,
    generatedAtMs: T0,
    symbol: 'EURUSD',
    orderType: OrderType.BUY,
    volume: 0.1,
    price: 1.1,
    action: Action.NETTING,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: new Uint8Array(),
    receivedAtMs: T0,
    ...fields,
  };
  if (fields.content === undefined) record.content = contentOf(record);
  return record;
}

function contentOf(r: SignalRecord): Uint8Array {
  return encoder.encode(
    [r.subscriptionId, r.sequence, r.generatedAtMs, r.symbol, r.orderType, r.volume, r.price, r.action,
      r.positionId, r.stopLoss, r.takeProfit, r.magic, r.signingVersion].join('|'),
  );
}

/** A receiver's execution report (a skip of position 11) of `sequence`, as the I/O thread hands it to the shard. */
export function report(sequence: number, receiverId: string, fields: Partial<ExecutionReportRecord> = {}): ExecutionReportRecord {
  return { ...skipReport(sequence, '11', { executedAtMs: T0 }), subscriptionId: SUB, receiverId, receivedAtMs: T0, ...fields };
}

/** v2 signal on a position. */
export function v2(sequence: number, action: number, positionId: string, fields: Partial<SignalRecord> = {}): SignalRecord {
  return signal(sequence, { signingVersion: 2, action, positionId, magic: '7', ...fields });
}

/** The journal, in memory: what persistSignal effects wrote, optionally trimmed (retention). */
export class MemoryHistory implements HistoryReader {
  readonly records = new Map<number, SignalRecord>();
  reads = 0;

  add(record: SignalRecord): void {
    this.records.set(record.sequence, record);
  }

  /** Forget everything below `sequence`, like journal retention. */
  retainFrom(sequence: number): void {
    for (const key of [...this.records.keys()]) if (key < sequence) this.records.delete(key);
  }

  readSignals(subscriptionId: string, fromSequence: number, toSequence: number, limit: number): SignalRecord[] {
    this.reads++;
    const out: SignalRecord[] = [];
    for (let s = fromSequence; s <= toSequence && out.length < limit; s++) {
      const r = this.records.get(s);
      if (r !== undefined && r.subscriptionId === subscriptionId) out.push(r);
    }
    return out;
  }
}

/** An actor with a clock, a journal that takes persistSignal effects, and settings. */
export class Harness {
  readonly actor: SubscriptionActor;
  readonly history = new MemoryHistory();
  nowMs = T0;
  settings: SubscriptionSettings = { ...subscriptionDefaults };

  constructor(limits: ActorLimits = smallLimits, subscriptionId = SUB) {
    this.actor = createActor(subscriptionId, T0, limits);
  }

  ctx(): ActorContext {
    return { nowMs: this.nowMs, settings: this.settings, history: this.history };
  }

  send(event: Parameters<typeof handle>[1]): Effect[] {
    const effects = handle(this.actor, event, this.ctx());
    for (const e of effects) if (e.kind === 'persistSignal') this.history.add(e.record);
    return effects;
  }

  signal(record: SignalRecord, connId = 1): Effect[] {
    return this.send({ kind: 'signal', connId, record });
  }

  /** Accept 1..count (netting BUY/SELL alternating so the book stays small). */
  acceptRange(from: number, to: number, connId = 1): void {
    for (let s = from; s <= to; s++) {
      const effects = this.signal(signal(s, { subscriptionId: this.actor.subscriptionId, orderType: s % 2 === 1 ? OrderType.BUY : OrderType.SELL }), connId);
      if (!effects.some((e) => e.kind === 'ack' && e.status === 'ACCEPTED')) {
        throw new Error(`acceptRange: ${s} not accepted: ${JSON.stringify(effects.map(brief))}`);
      }
    }
  }
}

/** A compact, comparable form of an effect. */
function brief(e: Effect): string {
  switch (e.kind) {
    case 'ack': return `ack ${e.sequence} ${e.status} @${e.connId}`;
    case 'reject': return `reject ${e.sequence} ${e.code} @${e.connId}`;
    case 'persistSignal': return `persistSignal ${e.record.sequence}`;
    case 'deliver': return `deliver ${e.record.sequence}`;
    case 'persistSnapshot': return `persistSnapshot ${e.snapshot.sequence}`;
    case 'persistCursor': return `persistCursor ${e.receiverId} ${e.sequence}`;
    case 'persistState': return `persistState ${e.state}`;
    case 'stateChange': return `stateChange ${e.state}`;
    case 'sendDeliveries': return `sendDeliveries @${e.connId} ${e.records.map((r) => r.sequence).join(',')}`;
    case 'sendSnapshot': return `sendSnapshot @${e.connId} ${e.sequence}`;
    case 'receiverLive': return `receiverLive @${e.connId}`;
    case 'syncRequest': return `syncRequest @${e.connId} ${e.fromSequence}-${e.toSequence}${e.full ? ' full' : ''}`;
    case 'welcome': return `welcome @${e.connId} ${e.state} ${e.lastSequence}`;
    case 'persistReport': return `persistReport ${e.report.sequence} ${e.report.masterPositionId}`;
    case 'reportAck': return `reportAck ${e.report.sequence} ${e.report.masterPositionId} @${e.connId}`;
  }
}

export function briefs(effects: Effect[]): string[] {
  return effects.map(brief);
}
