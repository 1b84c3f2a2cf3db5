/**
 * What the copier needs from the receiver's trading account: symbols,
 * quotes, equity, open positions and three operations. The MT5 terminal is
 * one implementation (an EA), client/paper-broker.ts another.
 *
 * A position carries the comment it was opened with: the copier puts its
 * idempotency key there, so the account itself says which master position
 * a local one copies, even when the copier crashed before writing it down.
 */
import type { Quote, SymbolSpec } from './copy-rules';

export interface BrokerPosition {
  ticket: string;
  symbol: string;
  /** 0 BUY, 1 SELL. */
  orderType: 0 | 1;
  volume: number;
  openPrice: number;
  stopLoss: number;
  takeProfit: number;
  comment: string;
}

export interface OpenRequest {
  symbol: string;
  orderType: 0 | 1;
  volume: number;
  stopLoss: number;
  takeProfit: number;
  /** The copier's idempotency key (at most brokerCommentCharsMax characters, as MT5). */
  comment: string;
}

export type BrokerResult =
  | { ok: true; ticket: string; price: number; volume: number }
  /** transient: a requote, off quotes, busy: the same request may succeed later. */
  | { ok: false; code: string; message: string; transient: boolean };

export interface Broker {
  symbolSpec(symbol: string): SymbolSpec | null;
  quote(symbol: string): Quote | null;
  equity(): number;
  positions(): Promise<BrokerPosition[]>;
  open(request: OpenRequest): Promise<BrokerResult>;
  /** Close `volume` lots of the position (all of it when equal). */
  close(ticket: string, volume: number): Promise<BrokerResult>;
  modify(ticket: string, stopLoss: number, takeProfit: number): Promise<BrokerResult>;
}

/** MT5 keeps 31 characters of an order comment. */
export const brokerCommentCharsMax = 31;
