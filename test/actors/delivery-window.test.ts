import { describe, expect, it } from 'vitest';
import {
  clearWindow,
  createDeliveryWindow,
  getRecord,
  lookupRecord,
  pushRecord,
  readRange,
  windowLastSequence,
} from '../../actors/delivery-window';
import { MemoryHistory, SUB, signal } from './fixtures';

describe('delivery window', () => {
  it('keeps the last `capacity` records, evicting the oldest, with O(1) lookup', () => {
    const w = createDeliveryWindow(4);
    for (let s = 1; s <= 10; s++) pushRecord(w, signal(s));
    expect(w.count).toBe(4);
    expect(w.slots.length).toBe(4);
    expect(w.firstSequence).toBe(7);
    expect(windowLastSequence(w)).toBe(10);
    expect(getRecord(w, 6)).toBeUndefined();
    expect(getRecord(w, 7)?.sequence).toBe(7);
    expect(getRecord(w, 10)?.sequence).toBe(10);
    expect(getRecord(w, 11)).toBeUndefined();
  });

  it('refuses a record that does not follow the newest', () => {
    const w = createDeliveryWindow(4);
    pushRecord(w, signal(5));
    expect(() => pushRecord(w, signal(7))).toThrow(/does not follow/);
    expect(() => pushRecord(w, signal(5))).toThrow(/does not follow/);
  });

  it('is empty after clear and then starts anywhere', () => {
    const w = createDeliveryWindow(4);
    pushRecord(w, signal(1));
    clearWindow(w);
    expect(windowLastSequence(w)).toBeNull();
    expect(getRecord(w, 1)).toBeUndefined();
    pushRecord(w, signal(50));
    expect(getRecord(w, 50)?.sequence).toBe(50);
  });

  it('reads a range from the journal then the window, or null when the journal lost part of it', () => {
    const w = createDeliveryWindow(3);
    const history = new MemoryHistory();
    for (let s = 1; s <= 10; s++) {
      pushRecord(w, signal(s));
      history.add(signal(s));
    }
    const before = history.reads;
    expect(readRange(w, history, SUB, 8, 10)!.map((r) => r.sequence)).toEqual([8, 9, 10]);
    expect(history.reads).toBe(before);
    expect(readRange(w, history, SUB, 3, 10)!.map((r) => r.sequence)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(readRange(w, history, SUB, 3, 5)!.map((r) => r.sequence)).toEqual([3, 4, 5]);
    expect(readRange(w, history, SUB, 11, 10)).toEqual([]);
    history.retainFrom(5);
    expect(readRange(w, history, SUB, 3, 10)).toBeNull();
    expect(readRange(w, history, SUB, 5, 10)).not.toBeNull();
    history.records.delete(6);
    expect(readRange(w, history, SUB, 5, 10)).toBeNull();
  });

  it('looks one record up in the window, else the journal, and checks what the journal returns', () => {
    const w = createDeliveryWindow(2);
    const history = new MemoryHistory();
    for (let s = 1; s <= 5; s++) {
      pushRecord(w, signal(s));
      history.add(signal(s));
    }
    expect(lookupRecord(w, history, SUB, 5)?.sequence).toBe(5);
    expect(lookupRecord(w, history, SUB, 2)?.sequence).toBe(2);
    expect(lookupRecord(w, history, SUB, 9)).toBeUndefined();
    const liar = { readSignals: () => [signal(3)] };
    expect(() => lookupRecord(w, liar, SUB, 2)).toThrow(/history returned/);
  });
});
