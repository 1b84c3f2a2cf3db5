import { describe, expect, it } from 'vitest';
import { ReceiverQueue } from '../client/receiver-queue';

describe('ReceiverQueue', () => {
  it('is FIFO, pauses at high, resumes at low, refuses at max', () => {
    const calls: string[] = [];
    const q = new ReceiverQueue<number>(4, 1, 6, { pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    for (let i = 1; i <= 6; i++) expect(q.push(i)).toBe(true);
    expect(calls).toEqual(['pause']);
    expect(q.push(7)).toBe(false);
    expect(q.length).toBe(6);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) out.push(q.shift()!);
    expect(calls).toEqual(['pause']);
    out.push(q.shift()!); // 1 left: resume
    expect(calls).toEqual(['pause', 'resume']);
    out.push(q.shift()!);
    expect(q.shift()).toBeUndefined();
    expect(out).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('clear() empties and resumes a paused transport', () => {
    const calls: string[] = [];
    const q = new ReceiverQueue<number>(2, 0, 3, { pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    q.push(1);
    q.push(2);
    q.clear();
    expect(calls).toEqual(['pause', 'resume']);
    expect(q.length).toBe(0);
    expect(q.isPaused).toBe(false);
  });

  it('stays correct across many pushes and shifts (compaction)', () => {
    const q = new ReceiverQueue<number>(100, 10, 20_000, { pause: () => undefined, resume: () => undefined });
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 5_000; round++) {
      q.push(next++);
      q.push(next++);
      expect(q.shift()).toBe(expected++);
    }
    while (q.length > 0) expect(q.shift()).toBe(expected++);
    expect(expected).toBe(next);
  });

  it('asserts its bounds', () => {
    expect(() => new ReceiverQueue(2, 2, 3, { pause: () => undefined, resume: () => undefined })).toThrow();
    expect(() => new ReceiverQueue(4, 1, 3, { pause: () => undefined, resume: () => undefined })).toThrow();
  });
});
