/**
 * A simulated broker account for the copier (client/broker.ts): quotes with
 * a spread around a mid price the caller moves, adverse slippage, lot steps
 * and bounds, broker symbol names (suffixes), a balance that realises
 * profit and loss, and occasional requotes, all drawn from an injected
 * random source so a seeded run replays exactly.
 *
 * It also keeps what a test needs to prove exactly-once execution: every
 * fill in `executions`, with the comment (the copier's idempotency key).
 * `crashAfterNextFill` makes the next fill throw after it was booked, as a
 * receiver process dying between the broker's fill and its own bookkeeping.
 */
import type { Broker, BrokerPosition, BrokerResult, OpenRequest } from './broker';
import { brokerCommentCharsMax } from './broker';
import type { Quote, SymbolSpec } from './copy-rules';

export interface PaperSymbol extends SymbolSpec {
  /** Ask minus bid, in points (10^-digits). */
  spreadPoints: number;
}

export interface PaperBrokerOptions {
  symbols: PaperSymbol[];
  balance: number;
  /** Uniform in [0, 1): Math.random or a seeded generator. */
  random: () => number;
  /** Each order is refused as a requote with this probability (transient). */
  requoteProbability?: number;
  /** Fills are worse than the quote by 0..slippagePointsMax points. */
  slippagePointsMax?: number;
  clock?: () => number;
}

export interface PaperExecution {
  kind: 'open' | 'close' | 'modify';
  ticket: string;
  symbol: string;
  orderType: 0 | 1;
  volume: number;
  price: number;
  comment: string;
  atMs: number;
}

export const PaperRejectCode = {
  REQUOTE: 'REQUOTE',
  INVALID_SYMBOL: 'INVALID_SYMBOL',
  INVALID_VOLUME: 'INVALID_VOLUME',
  INVALID_STOPS: 'INVALID_STOPS',
  NO_QUOTE: 'NO_QUOTE',
  POSITION_NOT_FOUND: 'POSITION_NOT_FOUND',
  COMMENT_TOO_LONG: 'COMMENT_TOO_LONG',
} as const;

/** Thrown by a fill when crashAfterNextFill was set: the fill stands. */
export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash right after a fill');
    this.name = 'SimulatedCrash';
  }
}

const volumeEpsilon = 1e-9;

export class PaperBroker implements Broker {
  private readonly specs = new Map<string, PaperSymbol>();
  private readonly mids = new Map<string, number>();
  private readonly open_ = new Map<string, BrokerPosition>();
  private nextTicket = 1000;
  private balance: number;
  readonly executions: PaperExecution[] = [];
  requotes = 0;
  /** The next fill is booked, then SimulatedCrash is thrown. */
  crashAfterNextFill = false;
  private readonly clock: () => number;

  constructor(private readonly options: PaperBrokerOptions) {
    for (const s of options.symbols) this.specs.set(s.symbol, s);
    this.balance = options.balance;
    this.clock = options.clock ?? Date.now;
  }

  /** Move a symbol's mid price (the test follows the master's prices). */
  setMid(symbol: string, mid: number): void {
    if (!this.specs.has(symbol)) throw new Error(`paper broker: no symbol ${symbol}`);
    this.mids.set(symbol, mid);
  }

  symbolSpec(symbol: string): SymbolSpec | null {
    return this.specs.get(symbol) ?? null;
  }

  quote(symbol: string): Quote | null {
    const spec = this.specs.get(symbol);
    const mid = this.mids.get(symbol);
    if (spec === undefined || mid === undefined) return null;
    const half = (spec.spreadPoints * 10 ** -spec.digits) / 2;
    return { bid: this.round(mid - half, spec), ask: this.round(mid + half, spec) };
  }

  /** Balance plus floating profit at the current quotes. */
  equity(): number {
    let floating = 0;
    for (const p of this.open_.values()) {
      const q = this.quote(p.symbol);
      if (q !== null) floating += this.profit(p, p.orderType === 0 ? q.bid : q.ask, p.volume);
    }
    return this.balance + floating;
  }

  async positions(): Promise<BrokerPosition[]> {
    return [...this.open_.values()].map((p) => ({ ...p }));
  }

  /** Positions right now, without the async hop (for tests). */
  snapshotPositions(): BrokerPosition[] {
    return [...this.open_.values()].map((p) => ({ ...p }));
  }

  async open(request: OpenRequest): Promise<BrokerResult> {
    const spec = this.specs.get(request.symbol);
    if (spec === undefined) return this.refuse(PaperRejectCode.INVALID_SYMBOL, request.symbol, false);
    if (request.comment.length > brokerCommentCharsMax) return this.refuse(PaperRejectCode.COMMENT_TOO_LONG, request.comment, false);
    if (!this.volumeValid(request.volume, spec)) return this.refuse(PaperRejectCode.INVALID_VOLUME, String(request.volume), false);
    const quote = this.quote(request.symbol);
    if (quote === null) return this.refuse(PaperRejectCode.NO_QUOTE, request.symbol, true);
    if (this.requoted()) return this.refuse(PaperRejectCode.REQUOTE, 'price changed', true);
    const price = this.fillPrice(request.orderType === 0 ? quote.ask : quote.bid, request.orderType === 0 ? 1 : -1, spec);
    const ticket = String(this.nextTicket++);
    const position: BrokerPosition = {
      ticket,
      symbol: request.symbol,
      orderType: request.orderType,
      volume: request.volume,
      openPrice: price,
      stopLoss: request.stopLoss,
      takeProfit: request.takeProfit,
      comment: request.comment,
    };
    this.open_.set(ticket, position);
    this.book('open', position, request.volume, price);
    return { ok: true, ticket, price, volume: request.volume };
  }

  async close(ticket: string, volume: number): Promise<BrokerResult> {
    const p = this.open_.get(ticket);
    if (p === undefined) return this.refuse(PaperRejectCode.POSITION_NOT_FOUND, ticket, false);
    const spec = this.specs.get(p.symbol)!;
    const remaining = Number((p.volume - volume).toFixed(8));
    if (!this.volumeValid(volume, spec) || volume > p.volume + volumeEpsilon) return this.refuse(PaperRejectCode.INVALID_VOLUME, String(volume), false);
    if (remaining > volumeEpsilon && remaining < spec.volumeMin - volumeEpsilon) return this.refuse(PaperRejectCode.INVALID_VOLUME, `${remaining} would remain`, false);
    const quote = this.quote(p.symbol);
    if (quote === null) return this.refuse(PaperRejectCode.NO_QUOTE, p.symbol, true);
    if (this.requoted()) return this.refuse(PaperRejectCode.REQUOTE, 'price changed', true);
    const price = this.fillPrice(p.orderType === 0 ? quote.bid : quote.ask, p.orderType === 0 ? -1 : 1, spec);
    this.balance += this.profit(p, price, volume);
    if (remaining <= volumeEpsilon) this.open_.delete(ticket);
    else p.volume = remaining;
    this.book('close', p, volume, price);
    return { ok: true, ticket, price, volume };
  }

  async modify(ticket: string, stopLoss: number, takeProfit: number): Promise<BrokerResult> {
    const p = this.open_.get(ticket);
    if (p === undefined) return this.refuse(PaperRejectCode.POSITION_NOT_FOUND, ticket, false);
    if (!(stopLoss >= 0 && takeProfit >= 0)) return this.refuse(PaperRejectCode.INVALID_STOPS, `${stopLoss} ${takeProfit}`, false);
    p.stopLoss = stopLoss;
    p.takeProfit = takeProfit;
    this.executions.push({ kind: 'modify', ticket, symbol: p.symbol, orderType: p.orderType, volume: p.volume, price: 0, comment: p.comment, atMs: this.clock() });
    return { ok: true, ticket, price: 0, volume: p.volume };
  }

  private volumeValid(volume: number, spec: SymbolSpec): boolean {
    const steps = volume / spec.volumeStep;
    return volume >= spec.volumeMin - volumeEpsilon && volume <= spec.volumeMax + volumeEpsilon && Math.abs(steps - Math.round(steps)) < 1e-6;
  }

  private requoted(): boolean {
    if (this.options.random() < (this.options.requoteProbability ?? 0)) {
      this.requotes++;
      return true;
    }
    return false;
  }

  /** The quote moved against the trader by 0..slippagePointsMax points. */
  private fillPrice(quoted: number, against: 1 | -1, spec: SymbolSpec): number {
    const points = Math.floor(this.options.random() * ((this.options.slippagePointsMax ?? 0) + 1));
    return this.round(quoted + against * points * 10 ** -spec.digits, spec);
  }

  private profit(p: BrokerPosition, closePrice: number, volume: number): number {
    const spec = this.specs.get(p.symbol)!;
    const move = p.orderType === 0 ? closePrice - p.openPrice : p.openPrice - closePrice;
    return (move / spec.tickSize) * spec.tickValue * volume;
  }

  private round(price: number, spec: SymbolSpec): number {
    return Number(price.toFixed(spec.digits));
  }

  private book(kind: 'open' | 'close', p: BrokerPosition, volume: number, price: number): void {
    this.executions.push({ kind, ticket: p.ticket, symbol: p.symbol, orderType: p.orderType, volume, price, comment: p.comment, atMs: this.clock() });
    if (this.crashAfterNextFill) {
      this.crashAfterNextFill = false;
      throw new SimulatedCrash();
    }
  }

  private refuse(code: string, message: string, transient: boolean): BrokerResult {
    return { ok: false, code, message, transient };
  }
}
