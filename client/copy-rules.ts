/**
 * How a receiver turns a master position into its own order, as pure
 * functions of the copy settings (proto/receiver-settings.ts), the broker's
 * symbol specification, a quote, the account equity and the time. No I/O:
 * Copier (client/copier.ts) asks, the broker executes. docs/receivers.md
 * states the same rules for an MQL5 implementation.
 *
 * Order of checks for an open (first failure wins, its code is the skip
 * reason): order type, symbol filter, magic filter, signal age, broker
 * symbol, quote, price deviation, stop loss (RISK_PERCENT), lot size.
 */
import { pipSize, LotMode, type CopySettings } from '@sigplane/protocol';

/** Why a master position is not copied: stable codes (execution reports carry them). */
export const SkipReason = {
  /** A pending order or CLOSE_BY: only market positions are copied. */
  NOT_A_POSITION: 'NOT_A_POSITION',
  SYMBOL_NOT_ALLOWED: 'SYMBOL_NOT_ALLOWED',
  SYMBOL_BLOCKED: 'SYMBOL_BLOCKED',
  MAGIC_NOT_ALLOWED: 'MAGIC_NOT_ALLOWED',
  MAGIC_BLOCKED: 'MAGIC_BLOCKED',
  /** Older than signalAgeMsMax at the receiver (master's generatedAt to the receiver's clock). */
  SIGNAL_TOO_OLD: 'SIGNAL_TOO_OLD',
  /** The broker has no such symbol (after mapping). */
  SYMBOL_UNKNOWN: 'SYMBOL_UNKNOWN',
  NO_QUOTE: 'NO_QUOTE',
  /** The receiver's own price is further than priceDeviationPipsMax from the master's. */
  PRICE_DEVIATION: 'PRICE_DEVIATION',
  /** RISK_PERCENT needs the master's stop loss to size the trade. */
  NO_STOP_LOSS: 'NO_STOP_LOSS',
  /** The sized volume rounds below the smallest allowed. */
  LOT_BELOW_MIN: 'LOT_BELOW_MIN',
  /** A snapshot showed a position opened while this receiver was away, and copyOpenPositions is off. */
  OPEN_POSITIONS_NOT_COPIED: 'OPEN_POSITIONS_NOT_COPIED',
  /** The broker refused the order for good (not a requote). */
  BROKER_REJECTED: 'BROKER_REJECTED',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** What the receiver's broker says about a symbol (MT5 SymbolInfo*). */
export interface SymbolSpec {
  symbol: string;
  /** Price decimals. */
  digits: number;
  volumeMin: number;
  volumeMax: number;
  volumeStep: number;
  /** Account currency gained or lost per 1 lot when the price moves by tickSize. */
  tickValue: number;
  tickSize: number;
}

export interface Quote {
  bid: number;
  ask: number;
}

/** A master position as the copy rules need it (from a delivery or a snapshot). */
export interface MasterPosition {
  symbol: string;
  /** 0 BUY, 1 SELL (MT5 ENUM_ORDER_TYPE); anything else is not a position. */
  orderType: number;
  volume: number;
  /** The master's price: the signal's price, or a snapshot position's open price. */
  price: number;
  stopLoss: number;
  takeProfit: number;
  /** Decimal uint64, '' or '0' when none. */
  magic: string;
}

export type OpenPlan =
  | { kind: 'open'; symbol: string; orderType: 0 | 1; volume: number; stopLoss: number; takeProfit: number }
  | { kind: 'skip'; reason: SkipReason; detail: string };

const volumeEpsilon = 1e-9;

/** Receiver symbol: the explicit map first, else prefix + master symbol + suffix. */
export function mapSymbol(settings: CopySettings, masterSymbol: string): string {
  if (Object.hasOwn(settings.symbolMap, masterSymbol)) return settings.symbolMap[masterSymbol];
  return `${settings.symbolPrefix}${masterSymbol}${settings.symbolSuffix}`;
}

/** The filter that refuses this master symbol and magic number, or null. Filters see the master's symbol. */
export function filterReason(settings: CopySettings, masterSymbol: string, magic: string): SkipReason | null {
  if (settings.symbolsAllowed.length > 0 && !settings.symbolsAllowed.includes(masterSymbol)) return SkipReason.SYMBOL_NOT_ALLOWED;
  if (settings.symbolsBlocked.includes(masterSymbol)) return SkipReason.SYMBOL_BLOCKED;
  const m = magic === '' ? '0' : magic;
  if (settings.magicsAllowed.length > 0 && !settings.magicsAllowed.includes(m)) return SkipReason.MAGIC_NOT_ALLOWED;
  if (settings.magicsBlocked.includes(m)) return SkipReason.MAGIC_BLOCKED;
  return null;
}

/** BUY <-> SELL when reverse is on. */
export function localOrderType(settings: CopySettings, masterOrderType: 0 | 1): 0 | 1 {
  return settings.reverse ? (masterOrderType === 0 ? 1 : 0) : masterOrderType;
}

/**
 * The receiver's stop loss and take profit: the master's prices, swapped
 * when reversed (the master's take profit is where a reversed copy loses),
 * each 0 when its copy setting is off.
 */
export function localStops(settings: CopySettings, stopLoss: number, takeProfit: number): { stopLoss: number; takeProfit: number } {
  const sl = settings.reverse ? takeProfit : stopLoss;
  const tp = settings.reverse ? stopLoss : takeProfit;
  return { stopLoss: settings.copyStopLoss ? sl : 0, takeProfit: settings.copyTakeProfit ? tp : 0 };
}

/** Decimals of a step (0.01 -> 2), for exact rounding of lots. */
function stepDecimals(step: number): number {
  const text = String(step);
  const dot = text.indexOf('.');
  if (text.includes('e-')) return Number(text.split('e-')[1]);
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** `volume` as a whole number of `step`s: nearest, or down (never more risk than asked). */
export function roundToStep(volume: number, step: number, mode: 'nearest' | 'down'): number {
  if (!(step > 0)) throw new Error(`assertion failed: step ${step} > 0`);
  const steps = volume / step;
  const n = mode === 'nearest' ? Math.round(steps) : Math.floor(steps + volumeEpsilon);
  return Number((n * step).toFixed(stepDecimals(step)));
}

/** The smallest and largest volume: the broker's, narrowed by the settings (0 = the broker's). */
export function volumeBounds(settings: CopySettings, spec: SymbolSpec): { min: number; max: number } {
  const min = Math.max(settings.lotMin, spec.volumeMin);
  const max = settings.lotMax > 0 ? Math.min(settings.lotMax, spec.volumeMax) : spec.volumeMax;
  return { min, max: roundToStep(max, spec.volumeStep, 'down') };
}

/**
 * The volume of a new copy, before bounds:
 *   FIXED         lotValue
 *   MULTIPLIER    master volume x lotValue
 *   EQUITY_RATIO  master volume x lotValue x equity / masterEquity
 *   RISK_PERCENT  (equity x lotValue / 100) / (|price - stop loss| / tickSize x tickValue)
 * then rounded to the broker's step (nearest; RISK_PERCENT down), capped at
 * the maximum; below the minimum it is not copied (LOT_BELOW_MIN).
 */
export function sizeVolume(
  settings: CopySettings,
  master: Pick<MasterPosition, 'volume' | 'price' | 'stopLoss'>,
  spec: SymbolSpec,
  equity: number,
): { ok: true; volume: number } | { ok: false; reason: SkipReason; detail: string } {
  let raw: number;
  switch (settings.lotMode) {
    case LotMode.FIXED:
      raw = settings.lotValue;
      break;
    case LotMode.MULTIPLIER:
      raw = master.volume * settings.lotValue;
      break;
    case LotMode.EQUITY_RATIO:
      raw = (master.volume * settings.lotValue * equity) / settings.masterEquity;
      break;
    case LotMode.RISK_PERCENT: {
      if (!(master.stopLoss > 0)) return { ok: false, reason: SkipReason.NO_STOP_LOSS, detail: 'RISK_PERCENT needs a stop loss' };
      const lossPerLot = (Math.abs(master.price - master.stopLoss) / spec.tickSize) * spec.tickValue;
      raw = lossPerLot > 0 ? (equity * settings.lotValue) / 100 / lossPerLot : 0;
      break;
    }
  }
  const { min, max } = volumeBounds(settings, spec);
  const rounded = roundToStep(raw, spec.volumeStep, settings.lotMode === LotMode.RISK_PERCENT ? 'down' : 'nearest');
  const volume = Math.min(rounded, max);
  if (volume < min - volumeEpsilon) return { ok: false, reason: SkipReason.LOT_BELOW_MIN, detail: `${raw} lots rounds to ${volume}, below ${min}` };
  return { ok: true, volume };
}

/**
 * What a copy should hold after the master's volume changed: the copy keeps
 * the ratio it was opened with (localOpenVolume / masterOpenVolume), rounded
 * to the nearest step and kept within the bounds, so it never drops below
 * the minimum while the master still holds something. 0 when the master
 * holds nothing.
 */
export function targetVolume(localOpenVolume: number, masterOpenVolume: number, masterVolume: number, settings: CopySettings, spec: SymbolSpec): number {
  if (masterVolume <= volumeEpsilon) return 0;
  if (!(masterOpenVolume > 0)) throw new Error('assertion failed: masterOpenVolume > 0');
  const { min, max } = volumeBounds(settings, spec);
  const scaled = roundToStep((localOpenVolume * masterVolume) / masterOpenVolume, spec.volumeStep, 'nearest');
  return Math.min(Math.max(scaled, min), max);
}

/** The receiver's price against the master's, in pips of the master's symbol. */
export function deviationPips(masterSymbol: string, masterPrice: number, quote: Quote, orderType: 0 | 1): number {
  const ours = orderType === 0 ? quote.ask : quote.bid;
  return Math.abs(ours - masterPrice) / pipSize(masterSymbol);
}

export interface OpenInput {
  settings: CopySettings;
  master: MasterPosition;
  /** The broker's spec of the mapped symbol; null: the broker has none. */
  spec: SymbolSpec | null;
  quote: Quote | null;
  equity: number;
  /** ms: when the master generated the signal; null for a snapshot position (no age). */
  generatedAtMs: number | null;
  nowMs: number;
}

/** Open this master position on the receiver, or skip it with a reason. */
export function planOpen(input: OpenInput): OpenPlan {
  const { settings, master } = input;
  if (master.orderType !== 0 && master.orderType !== 1) {
    return { kind: 'skip', reason: SkipReason.NOT_A_POSITION, detail: `order type ${master.orderType}` };
  }
  const filtered = filterReason(settings, master.symbol, master.magic);
  if (filtered !== null) return { kind: 'skip', reason: filtered, detail: `${master.symbol} magic ${master.magic || '0'}` };
  if (settings.signalAgeMsMax > 0 && input.generatedAtMs !== null && input.nowMs - input.generatedAtMs > settings.signalAgeMsMax) {
    return { kind: 'skip', reason: SkipReason.SIGNAL_TOO_OLD, detail: `${input.nowMs - input.generatedAtMs} ms old` };
  }
  const symbol = mapSymbol(settings, master.symbol);
  if (input.spec === null) return { kind: 'skip', reason: SkipReason.SYMBOL_UNKNOWN, detail: symbol };
  const orderType = localOrderType(settings, master.orderType);
  if (settings.priceDeviationPipsMax > 0) {
    if (input.quote === null) return { kind: 'skip', reason: SkipReason.NO_QUOTE, detail: symbol };
    const pips = deviationPips(master.symbol, master.price, input.quote, orderType);
    if (pips > settings.priceDeviationPipsMax) {
      return { kind: 'skip', reason: SkipReason.PRICE_DEVIATION, detail: `${pips.toFixed(1)} pips from the master's price` };
    }
  }
  const sized = sizeVolume(settings, master, input.spec, input.equity);
  if (!sized.ok) return { kind: 'skip', reason: sized.reason, detail: sized.detail };
  const stops = localStops(settings, master.stopLoss, master.takeProfit);
  return { kind: 'open', symbol, orderType, volume: sized.volume, ...stops };
}
