/**
 * The master's pacing (client/send-pacer.ts), on a hand-driven clock: half
 * the Welcome's burst at once, then the Welcome's rate; unknown rate (0)
 * holds nothing back.
 */
import { describe, expect, it } from 'vitest';
import { SendPacer } from '../client/send-pacer';

function takeAll(pacer: SendPacer, nowMs: number): number {
  let n = 0;
  while (pacer.take(nowMs)) n++;
  return n;
}

describe('SendPacer', () => {
  it('sends half the burst at once, then one frame per 1/rate, and says how long to wait', () => {
    const pacer = new SendPacer();
    pacer.reset(100, 40, 0);
    expect(takeAll(pacer, 0)).toBe(20);
    expect(pacer.delayMs(0)).toBe(10);
    expect(takeAll(pacer, 9)).toBe(0);
    expect(pacer.delayMs(9)).toBe(1);
    expect(takeAll(pacer, 10)).toBe(1);
    // A second later: at most half the burst again, never the whole of it.
    expect(takeAll(pacer, 1_010)).toBe(20);
  });

  it('paces at least one frame at a time when the burst is 1', () => {
    const pacer = new SendPacer();
    pacer.reset(2, 1, 0);
    expect(takeAll(pacer, 0)).toBe(1);
    expect(pacer.delayMs(0)).toBe(500);
    expect(takeAll(pacer, 500)).toBe(1);
  });

  it('holds nothing back while the rate is unknown (0: an older server)', () => {
    const pacer = new SendPacer();
    expect(pacer.paced).toBe(false);
    for (let i = 0; i < 10_000; i++) expect(pacer.take(0)).toBe(true);
    pacer.reset(0, 0, 0);
    expect(pacer.take(0)).toBe(true);
    expect(pacer.delayMs(0)).toBe(0);
    pacer.reset(10, 10, 0);
    expect(pacer.paced).toBe(true);
  });
});
