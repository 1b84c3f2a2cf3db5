import { describe, expect, it } from 'vitest';
import { MasterOutbox, planResend, SentLog } from '../client/master-outbox';

const frame = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff);

describe('MasterOutbox', () => {
  it('holds ascending sequences up to its capacity and refuses past it', () => {
    const outbox = new MasterOutbox<string>(3);
    outbox.add(1, frame(1), 'a');
    outbox.add(2, frame(2), 'b');
    outbox.add(5, frame(5), 'c');
    expect(outbox.size).toBe(3);
    expect(outbox.isFull).toBe(true);
    expect(outbox.highestSequence).toBe(5);
    expect(() => outbox.add(6, frame(6), 'd')).toThrow(/room/);
    expect(outbox.size).toBe(3);
  });

  it('refuses a sequence that does not ascend', () => {
    const outbox = new MasterOutbox<string>(10);
    outbox.add(4, frame(4), 'a');
    expect(() => outbox.add(4, frame(4), 'b')).toThrow(/ascend/);
    expect(() => outbox.add(3, frame(3), 'b')).toThrow(/ascend/);
    expect(() => outbox.add(0, frame(0), 'b')).toThrow(/positive/);
    expect(() => new MasterOutbox(0)).toThrow();
  });

  it('take removes one answered entry; takeUpTo settles everything the server already has, in order', () => {
    const outbox = new MasterOutbox<string>(10);
    for (let s = 1; s <= 6; s++) outbox.add(s, frame(s), `w${s}`);
    expect(outbox.take(3)?.waiter).toBe('w3');
    expect(outbox.take(3)).toBeUndefined();
    expect(outbox.takeUpTo(4).map((e) => e.sequence)).toEqual([1, 2, 4]);
    expect(outbox.list().map((e) => e.sequence)).toEqual([5, 6]);
    expect(outbox.takeUpTo(0)).toEqual([]);
    expect(outbox.takeAll().map((e) => e.waiter)).toEqual(['w5', 'w6']);
    expect(outbox.size).toBe(0);
    expect(outbox.highestSequence).toBe(0);
  });

  it('a sequence freed by take can be reused when it is above everything held', () => {
    const outbox = new MasterOutbox<string>(10);
    outbox.add(1, frame(1), 'a');
    outbox.add(2, frame(2), 'b');
    outbox.take(2); // rejected, the newest: the client reuses 2
    outbox.add(2, frame(22), 'c');
    expect(outbox.get(2)?.waiter).toBe('c');
  });
});

describe('SentLog', () => {
  it('keeps the first frame per sequence and evicts the oldest past its capacity', () => {
    const log = new SentLog(3);
    log.record(1, frame(1));
    log.record(1, frame(99)); // a resend keeps the first bytes
    log.record(2, frame(2));
    log.record(3, frame(3));
    log.record(4, frame(4));
    expect(log.size).toBe(3);
    expect(log.get(1)).toBeUndefined();
    expect(log.get(2)).toEqual(frame(2));
    expect(log.highestSequence).toBe(4);
    log.forget(4);
    expect(log.get(4)).toBeUndefined();
    expect(log.highestSequence).toBe(3);
  });
});

describe('planResend', () => {
  it('answers a range with the exact frames from the outbox or the log, in order', () => {
    const outbox = new MasterOutbox<string>(4);
    const log = new SentLog(4);
    for (let s = 1; s <= 6; s++) log.record(s, frame(s)); // 1, 2 evicted
    outbox.add(2, frame(2), 'unacked, evicted from the log');
    const plan = planResend(outbox, log, 2, 6);
    expect(plan.frames.map((f) => f.sequence)).toEqual([2, 3, 4, 5, 6]);
    expect(plan.frames[0].frame).toEqual(frame(2));
    expect(plan.missingCount).toBe(0);
  });

  it('counts what neither holds', () => {
    const outbox = new MasterOutbox<string>(2);
    const log = new SentLog(2);
    log.record(5, frame(5));
    log.record(6, frame(6));
    const plan = planResend(outbox, log, 3, 6);
    expect(plan.frames.map((f) => f.sequence)).toEqual([5, 6]);
    expect(plan.missingCount).toBe(2);
    expect(planResend(outbox, log, 7, 6)).toEqual({ frames: [], missingCount: 0 });
  });

  it('bounds its work by what the stores can hold', () => {
    const outbox = new MasterOutbox<string>(2);
    const log = new SentLog(3);
    log.record(1, frame(1));
    const plan = planResend(outbox, log, 1, Number.MAX_SAFE_INTEGER);
    expect(plan.frames.map((f) => f.sequence)).toEqual([1]);
    expect(plan.missingCount).toBe(Number.MAX_SAFE_INTEGER - 1);
  });
});
