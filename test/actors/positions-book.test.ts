import { describe, expect, it } from 'vitest';
import {
  applySignal,
  checkSignal,
  checkSnapshotPositions,
  createPositionsBook,
  listPositions,
  positionsMax,
  replacePositions,
  type PositionsBook,
} from '../../actors/positions-book';
import { Action, OrderType, RejectCode, type Position } from '@sigplane/protocol';
import { signal, v2 } from './fixtures';

function apply(book: PositionsBook, ...records: ReturnType<typeof signal>[]): void {
  for (const r of records) applySignal(book, r);
}

describe('positions book, v2 actions', () => {
  it('OPEN adds a position with the signal fields', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100', { orderType: OrderType.SELL, volume: 0.5, price: 1.2, stopLoss: 1.21, takeProfit: 1.1 }));
    expect(listPositions(book)).toEqual([{
      positionId: '100', symbol: 'EURUSD', orderType: OrderType.SELL, volume: 0.5, openPrice: 1.2,
      stopLoss: 1.21, takeProfit: 1.1, magic: '7', openedSequence: 1,
    }]);
  });

  it('OPEN of an open position id, a non-v2 id or a pending type is INVALID_FIELD and changes nothing', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100'));
    const before = listPositions(book);
    expect(checkSignal(book, v2(2, Action.OPEN, '100'))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(checkSignal(book, v2(2, Action.OPEN, '0'))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(checkSignal(book, v2(2, Action.OPEN, ''))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(checkSignal(book, v2(2, Action.OPEN, '101', { orderType: OrderType.BUY_LIMIT }))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(() => applySignal(book, v2(2, Action.OPEN, '100'))).toThrow(/refused/);
    expect(listPositions(book)).toEqual(before);
  });

  it('MODIFY sets stop loss and take profit and keeps the open price', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100', { price: 1.1, stopLoss: 1.09 }), v2(2, Action.MODIFY, '100', { price: 1.15, stopLoss: 0, takeProfit: 1.2 }));
    const [p] = listPositions(book);
    expect(p).toMatchObject({ openPrice: 1.1, stopLoss: 0, takeProfit: 1.2, volume: 0.1, openedSequence: 1 });
  });

  it('MODIFY / CLOSE / PARTIAL_CLOSE of a missing position is POSITION_UNKNOWN', () => {
    const book = createPositionsBook();
    for (const action of [Action.MODIFY, Action.CLOSE, Action.PARTIAL_CLOSE]) {
      expect(checkSignal(book, v2(1, action, '9'))?.code).toBe(RejectCode.POSITION_UNKNOWN);
    }
  });

  it('refuses another symbol than the position\'s (INVALID_FIELD)', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100'));
    expect(checkSignal(book, v2(2, Action.CLOSE, '100', { symbol: 'GBPUSD' }))?.code).toBe(RejectCode.INVALID_FIELD);
  });

  it('CLOSE removes the position', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100'), v2(2, Action.CLOSE, '100'));
    expect(book.size).toBe(0);
  });

  it('PARTIAL_CLOSE reduces, closes when equal, refuses when greater', () => {
    const book = createPositionsBook();
    apply(book, v2(1, Action.OPEN, '100', { volume: 0.3 }), v2(2, Action.PARTIAL_CLOSE, '100', { volume: 0.1 }));
    expect(book.get('100')!.volume).toBe(0.2);
    expect(checkSignal(book, v2(3, Action.PARTIAL_CLOSE, '100', { volume: 0.21 }))?.code).toBe(RejectCode.INVALID_FIELD);
    apply(book, v2(3, Action.PARTIAL_CLOSE, '100', { volume: 0.2 }));
    expect(book.size).toBe(0);
  });

  it('refuses a v1 signal with an action and an unknown action', () => {
    const book = createPositionsBook();
    expect(checkSignal(book, signal(1, { action: Action.OPEN, positionId: '5' }))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(checkSignal(book, v2(1, 9, '5'))?.code).toBe(RejectCode.INVALID_FIELD);
  });

  it('holds at most positionsMax positions', () => {
    const book = createPositionsBook();
    for (let i = 1; i <= positionsMax; i++) apply(book, v2(i, Action.OPEN, String(i)));
    expect(checkSignal(book, v2(positionsMax + 1, Action.OPEN, String(positionsMax + 1)))?.code).toBe(RejectCode.INVALID_FIELD);
    expect(checkSignal(book, signal(positionsMax + 1))?.code).toBe(RejectCode.INVALID_FIELD);
  });
});

describe('positions book, v1 netting', () => {
  it('BUY adds to the net position with a volume-weighted open price', () => {
    const book = createPositionsBook();
    apply(book, signal(1, { volume: 0.1, price: 1.1 }), signal(2, { volume: 0.3, price: 1.2 }));
    const p = book.get('v1:EURUSD')!;
    expect(p.orderType).toBe(OrderType.BUY);
    expect(p.volume).toBeCloseTo(0.4, 12);
    expect(p.openPrice).toBeCloseTo(1.175, 12);
    expect(p.openedSequence).toBe(1);
  });

  it('reducing keeps the open price; reaching 0 removes the position', () => {
    const book = createPositionsBook();
    apply(book, signal(1, { volume: 0.3, price: 1.1 }), signal(2, { orderType: OrderType.SELL, volume: 0.1, price: 1.3 }));
    expect(book.get('v1:EURUSD')).toMatchObject({ orderType: OrderType.BUY, volume: 0.2, openPrice: 1.1 });
    apply(book, signal(3, { orderType: OrderType.SELL, volume: 0.1 }), signal(4, { orderType: OrderType.SELL, volume: 0.1 }));
    expect(book.size).toBe(0);
  });

  it('0.1 + 0.2 - 0.3 is flat (volumes are rounded)', () => {
    const book = createPositionsBook();
    apply(book, signal(1, { volume: 0.1 }), signal(2, { volume: 0.2 }), signal(3, { orderType: OrderType.SELL, volume: 0.3 }));
    expect(book.size).toBe(0);
  });

  it('flipping side opens the remainder at the signal price', () => {
    const book = createPositionsBook();
    apply(book, signal(1, { volume: 0.1, price: 1.1 }), signal(2, { orderType: OrderType.SELL, volume: 0.3, price: 1.2 }));
    expect(book.get('v1:EURUSD')).toMatchObject({ orderType: OrderType.SELL, volume: 0.2, openPrice: 1.2, openedSequence: 2 });
  });

  it('pending order types and CLOSE_BY change nothing; types beyond 8 are refused', () => {
    const book = createPositionsBook();
    for (let t = OrderType.BUY_LIMIT; t <= OrderType.CLOSE_BY; t++) apply(book, signal(t, { orderType: t }));
    expect(book.size).toBe(0);
    expect(checkSignal(book, signal(1, { orderType: 9 }))?.code).toBe(RejectCode.INVALID_FIELD);
  });

  it('keeps one net position per symbol', () => {
    const book = createPositionsBook();
    apply(book, signal(1), signal(2, { symbol: 'XAUUSD', orderType: OrderType.SELL, price: 2000 }));
    expect([...book.keys()]).toEqual(['v1:EURUSD', 'v1:XAUUSD']);
    expect(book.get('v1:XAUUSD')!.orderType).toBe(OrderType.SELL);
  });
});

describe('positions book, snapshots', () => {
  const position = (id: string, fields: Partial<Position> = {}): Position => ({
    positionId: id, symbol: 'EURUSD', orderType: OrderType.BUY, volume: 1, openPrice: 1.1,
    stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 1, ...fields,
  });

  it('replaces the book with copies', () => {
    const book = createPositionsBook();
    apply(book, signal(1));
    const positions = [position('1'), position('2', { orderType: OrderType.SELL })];
    replacePositions(book, positions, 5);
    positions[0]!.volume = 99;
    expect(listPositions(book).map((p) => [p.positionId, p.volume])).toEqual([['1', 1], ['2', 1]]);
  });

  it('finds inconsistent positions', () => {
    expect(checkSnapshotPositions([position('1'), position('1')], 5)).toMatch(/repeated/);
    expect(checkSnapshotPositions([position('1', { volume: 0 })], 5)).toMatch(/volume/);
    expect(checkSnapshotPositions([position('1', { orderType: OrderType.BUY_LIMIT })], 5)).toMatch(/order type/);
    expect(checkSnapshotPositions([position('1', { openedSequence: 6 })], 5)).toMatch(/after/);
    expect(checkSnapshotPositions([position('1', { openPrice: Number.NaN })], 5)).toMatch(/price/);
    expect(checkSnapshotPositions([position('1')], 5)).toBeNull();
    expect(() => replacePositions(createPositionsBook(), [position('1'), position('1')], 5)).toThrow();
  });
});
