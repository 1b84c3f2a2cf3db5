/**
 * The positions book of one subscription: open positions by position id.
 *
 * A signal is first checked (checkSignal, changes nothing) and only then
 * applied (applySignal), so a refused signal leaves the book untouched.
 *
 * v2 actions:
 *   OPEN           adds a position. Needs a v2 position id (decimal, not 0)
 *                  not already in the book and order type BUY or SELL:
 *                  pending orders are not positions. Else INVALID_FIELD.
 *   MODIFY         sets stop loss and take profit (0 = none). The open
 *                  price is kept: the signal's price is the market price.
 *   CLOSE          removes the position.
 *   PARTIAL_CLOSE  reduces the volume by the signal's volume; equal within
 *                  volumeEpsilon closes it, greater is INVALID_FIELD.
 *   MODIFY / CLOSE / PARTIAL_CLOSE of a position not in the book is
 *   POSITION_UNKNOWN; with another symbol than the position's, INVALID_FIELD.
 * v1 (action NETTING): a market order on the symbol's net position, kept as
 *   position `v1:<symbol>`: BUY adds +volume, SELL -volume; the position is
 *   BUY when net > 0, SELL when < 0, removed at 0 (within volumeEpsilon). Its
 *   open price is the volume-weighted average while adding, unchanged while
 *   reducing, the signal's price when the net flips side. Pending order
 *   types (2..7) and CLOSE_BY (8) do not change the book (they are forwarded).
 * The book holds at most positionsMax positions (what one snapshot can
 * carry): an order that would open one more is INVALID_FIELD.
 */
import { wire, Action, OrderType, RejectCode, type Position, type SignalRecord } from '@sigplane/protocol';

export type PositionsBook = Map<string, Position>;

/** A book larger than one snapshot could not be synced to a receiver. */
export const positionsMax = wire.snapshotPositionsMax;
/** Volumes closer than this are equal (lots are multiples of 0.01). */
export const volumeEpsilon = 1e-9;
/** Volumes are rounded to this many decimals after arithmetic (0.1 + 0.2). */
const volumeDecimalsFactor = 1e8;

export interface BookRefusal {
  code: RejectCode;
  message: string;
}

export function createPositionsBook(): PositionsBook {
  return new Map();
}

export function netPositionId(symbol: string): string {
  return `v1:${symbol}`;
}

function roundVolume(volume: number): number {
  return Math.round(volume * volumeDecimalsFactor) / volumeDecimalsFactor;
}

function invalid(message: string): BookRefusal {
  return { code: RejectCode.INVALID_FIELD, message };
}

function isV2PositionId(positionId: string): boolean {
  return /^[1-9][0-9]{0,19}$/.test(positionId);
}

/** Signed net volume of a v1 net position (0 when none). */
function netVolume(position: Position | undefined): number {
  if (position === undefined) return 0;
  return position.orderType === OrderType.BUY ? position.volume : -position.volume;
}

function nettingDelta(record: SignalRecord): number {
  if (record.orderType === OrderType.BUY) return record.volume;
  if (record.orderType === OrderType.SELL) return -record.volume;
  return 0;
}

/** Why the book refuses this signal, or null when applySignal may run. Changes nothing. */
export function checkSignal(book: PositionsBook, record: SignalRecord): BookRefusal | null {
  if (!(Number.isFinite(record.volume) && record.volume >= 0)) return invalid('volume must be a finite number >= 0');
  if (!(Number.isInteger(record.orderType) && record.orderType >= 0 && record.orderType <= OrderType.CLOSE_BY)) {
    return invalid(`order type ${record.orderType} is not one the book understands`);
  }
  if (record.action === Action.NETTING) return checkNetting(book, record);
  if (record.signingVersion === 1) return invalid('a v1 signal carries no action');
  if (record.action === Action.OPEN) return checkOpen(book, record);
  if (record.action === Action.MODIFY || record.action === Action.CLOSE || record.action === Action.PARTIAL_CLOSE) {
    return checkExisting(book, record);
  }
  return invalid(`unknown action ${record.action}`);
}

function checkNetting(book: PositionsBook, record: SignalRecord): BookRefusal | null {
  const delta = nettingDelta(record);
  if (delta === 0) return null;
  if (!(record.volume > 0)) return invalid('a market order needs a volume > 0');
  const position = book.get(netPositionId(record.symbol));
  if (position === undefined && book.size >= positionsMax) {
    return invalid(`the book already holds ${positionsMax} positions`);
  }
  return null;
}

function checkOpen(book: PositionsBook, record: SignalRecord): BookRefusal | null {
  if (!isV2PositionId(record.positionId)) return invalid(`position id '${record.positionId}' is not a v2 position id`);
  if (record.orderType !== OrderType.BUY && record.orderType !== OrderType.SELL) {
    return invalid('OPEN takes BUY or SELL: pending orders are not positions');
  }
  if (!(record.volume > 0)) return invalid('OPEN needs a volume > 0');
  if (!(Number.isFinite(record.price) && record.price >= 0)) return invalid('OPEN needs a finite price');
  if (!validStops(record)) return invalid('stop loss and take profit must be finite and >= 0');
  if (book.has(record.positionId)) return invalid(`position ${record.positionId} is already open`);
  if (book.size >= positionsMax) return invalid(`the book already holds ${positionsMax} positions`);
  return null;
}

function checkExisting(book: PositionsBook, record: SignalRecord): BookRefusal | null {
  const position = book.get(record.positionId);
  if (position === undefined) {
    return { code: RejectCode.POSITION_UNKNOWN, message: `position '${record.positionId}' is not open` };
  }
  if (position.symbol !== record.symbol) {
    return invalid(`position ${record.positionId} is on ${position.symbol}, not ${record.symbol}`);
  }
  if (record.action === Action.MODIFY && !validStops(record)) {
    return invalid('stop loss and take profit must be finite and >= 0');
  }
  if (record.action === Action.PARTIAL_CLOSE) {
    if (!(record.volume > 0)) return invalid('PARTIAL_CLOSE needs a volume > 0');
    if (record.volume > position.volume + volumeEpsilon) {
      return invalid(`PARTIAL_CLOSE of ${record.volume} exceeds the open volume ${position.volume}`);
    }
  }
  return null;
}

function validStops(record: SignalRecord): boolean {
  return (
    Number.isFinite(record.stopLoss) && record.stopLoss >= 0 &&
    Number.isFinite(record.takeProfit) && record.takeProfit >= 0
  );
}

/** Apply a signal that checkSignal accepted. Throws if it would not have. */
export function applySignal(book: PositionsBook, record: SignalRecord): void {
  const refusal = checkSignal(book, record);
  if (refusal !== null) {
    throw new Error(`applySignal: sequence ${record.sequence} refused by the book: ${refusal.code} ${refusal.message}`);
  }
  switch (record.action) {
    case Action.NETTING:
      applyNetting(book, record);
      return;
    case Action.OPEN:
      book.set(record.positionId, {
        positionId: record.positionId,
        symbol: record.symbol,
        orderType: record.orderType,
        volume: record.volume,
        openPrice: record.price,
        stopLoss: record.stopLoss,
        takeProfit: record.takeProfit,
        magic: record.magic,
        openedSequence: record.sequence,
      });
      return;
    case Action.MODIFY: {
      const position = book.get(record.positionId)!;
      position.stopLoss = record.stopLoss;
      position.takeProfit = record.takeProfit;
      return;
    }
    case Action.CLOSE:
      book.delete(record.positionId);
      return;
    case Action.PARTIAL_CLOSE: {
      const position = book.get(record.positionId)!;
      const remaining = roundVolume(position.volume - record.volume);
      if (remaining <= volumeEpsilon) book.delete(record.positionId);
      else position.volume = remaining;
      return;
    }
    default:
      throw new Error(`applySignal: unreachable action ${record.action}`);
  }
}

function applyNetting(book: PositionsBook, record: SignalRecord): void {
  const delta = nettingDelta(record);
  if (delta === 0) return;
  const positionId = netPositionId(record.symbol);
  const position = book.get(positionId);
  const before = netVolume(position);
  const after = roundVolume(before + delta);
  if (Math.abs(after) <= volumeEpsilon) {
    book.delete(positionId);
    return;
  }
  const orderType = after > 0 ? OrderType.BUY : OrderType.SELL;
  if (position === undefined) {
    book.set(positionId, {
      positionId,
      symbol: record.symbol,
      orderType,
      volume: Math.abs(after),
      openPrice: record.price,
      stopLoss: 0,
      takeProfit: 0,
      magic: '',
      openedSequence: record.sequence,
    });
    return;
  }
  if (Math.sign(after) !== Math.sign(before)) {
    // The net flipped side: what remains was opened by this order.
    position.orderType = orderType;
    position.volume = Math.abs(after);
    position.openPrice = record.price;
    position.openedSequence = record.sequence;
    return;
  }
  if (Math.abs(after) > Math.abs(before) && record.price > 0) {
    position.openPrice = (position.volume * position.openPrice + Math.abs(delta) * record.price) / Math.abs(after);
  }
  position.volume = Math.abs(after);
}

/** Why a snapshot's positions cannot become a book, or null. */
export function checkSnapshotPositions(positions: readonly Position[], sequence: number): string | null {
  if (positions.length > positionsMax) return `${positions.length} positions exceed ${positionsMax}`;
  const seen = new Set<string>();
  for (const p of positions) {
    if (p.positionId === '' || seen.has(p.positionId)) return `position id '${p.positionId}' empty or repeated`;
    seen.add(p.positionId);
    if (p.symbol === '') return `position ${p.positionId} has no symbol`;
    if (p.orderType !== OrderType.BUY && p.orderType !== OrderType.SELL) {
      return `position ${p.positionId} has order type ${p.orderType}, not BUY or SELL`;
    }
    if (!(Number.isFinite(p.volume) && p.volume > 0)) return `position ${p.positionId} has volume ${p.volume}`;
    const prices = [p.openPrice, p.stopLoss, p.takeProfit];
    if (!prices.every((x) => Number.isFinite(x) && x >= 0)) return `position ${p.positionId} has an invalid price`;
    if (!(Number.isInteger(p.openedSequence) && p.openedSequence >= 0 && p.openedSequence <= sequence)) {
      return `position ${p.positionId} opened at ${p.openedSequence}, after the snapshot's ${sequence}`;
    }
  }
  return null;
}

/** Replace the whole book (a snapshot). The positions are copied. */
export function replacePositions(book: PositionsBook, positions: readonly Position[], sequence: number): void {
  const reason = checkSnapshotPositions(positions, sequence);
  if (reason !== null) throw new Error(`replacePositions: ${reason}`);
  book.clear();
  for (const p of positions) book.set(p.positionId, { ...p });
}

/** Copies of the open positions, in the order they were opened or loaded. */
export function listPositions(book: PositionsBook): Position[] {
  const positions: Position[] = [];
  for (const p of book.values()) positions.push({ ...p });
  return positions;
}
