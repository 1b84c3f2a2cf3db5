/**
 * client/busy-window.ts without sockets: the refused burst is waited out,
 * the window halves on BUSY and widens per ack until it no longer limits,
 * and the backoff doubles while BUSY repeats.
 */
import { describe, expect, it } from 'vitest';
import { BusyWindow } from '../client/busy-window';
import { master as limits } from '../client/limits';

function sentThrough(w: BusyWindow, last: number): void {
  for (let s = 1; s <= last; s++) w.sent(s);
}

describe('BusyWindow', () => {
  it('limits nothing until BUSY', () => {
    const w = new BusyWindow(1024);
    sentThrough(w, 100);
    expect(w.limit).toBe(Infinity);
    expect(w.maySend(1_000_000)).toBe(true);
    expect(w.answered(1, true)).toEqual({ kind: 'ignore' });
  });

  it('waits for the answer to the last signal sent, then resends from the first refused one with half the window', () => {
    const w = new BusyWindow(1024);
    sentThrough(w, 100);
    expect(w.busy(41, 60)).toEqual({ kind: 'wait' });
    expect(w.maySend(0)).toBe(false);
    for (let s = 42; s < 100; s++) expect(w.busy(s, 60)).toEqual({ kind: 'wait' });
    expect(w.answered(7, true)).toEqual({ kind: 'wait' }); // an earlier ack still arriving
    expect(w.busy(100, 60)).toEqual({ kind: 'resendAfter', delayMs: limits.busyResendDelayMinMs });
    expect(w.maySend(0)).toBe(false);
    expect(w.resume()).toBe(41);
    expect(w.sentUpTo).toBe(40);
    expect(w.limit).toBe(30);
    expect(w.maySend(29)).toBe(true);
    expect(w.maySend(30)).toBe(false);
  });

  it('ignores BUSY answers above what it has rewound to; widens by one per ack until the outbox is covered', () => {
    const w = new BusyWindow(8);
    sentThrough(w, 10);
    expect(w.busy(10, 6)).toEqual({ kind: 'resendAfter', delayMs: limits.busyResendDelayMinMs });
    expect(w.resume()).toBe(10);
    expect(w.busy(11, 6)).toEqual({ kind: 'ignore' });
    expect(w.limit).toBe(3);
    w.sent(10);
    w.answered(10, true);
    expect(w.limit).toBe(4);
    for (let s = 11; s <= 14; s++) w.answered(s, true);
    expect(w.limit).toBe(Infinity);
  });

  it('doubles the backoff while BUSY repeats, up to the max, and an ack resets it', () => {
    const w = new BusyWindow(1024);
    const delays: number[] = [];
    for (let round = 0; round < 10; round++) {
      w.sent(w.sentUpTo + 1);
      const action = w.busy(w.sentUpTo, 4);
      if (action.kind === 'resendAfter') delays.push(action.delayMs);
      w.resume();
    }
    expect(delays[0]).toBe(limits.busyResendDelayMinMs);
    expect(delays[1]).toBe(limits.busyResendDelayMinMs * 2);
    expect(Math.max(...delays)).toBe(limits.busyResendDelayMaxMs);
    w.sent(w.sentUpTo + 1);
    w.answered(w.sentUpTo, true);
    w.sent(w.sentUpTo + 1);
    expect(w.busy(w.sentUpTo, 4)).toEqual({ kind: 'resendAfter', delayMs: limits.busyResendDelayMinMs });
  });

  it('a reconnect forgets everything', () => {
    const w = new BusyWindow(1024);
    sentThrough(w, 5);
    w.busy(3, 5);
    w.reset();
    expect(w.sentUpTo).toBe(0);
    expect(w.limit).toBe(Infinity);
    expect(w.maySend(0)).toBe(true);
  });
});
