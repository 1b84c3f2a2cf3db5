import { describe, expect, it } from 'vitest';
import { ReceiverSequencer, type DeliveryDecision } from '../client/receiver-sequencer';

/** Feed deliveries, executing whatever the sequencer says to; returns what was executed and the decisions. */
function run(sequencer: ReceiverSequencer, sequences: number[], nowMs = 0): { executed: number[]; decisions: DeliveryDecision[] } {
  const executed: number[] = [];
  const decisions: DeliveryDecision[] = [];
  for (const sequence of sequences) {
    const decision = sequencer.onDelivery(sequence, nowMs);
    decisions.push(decision);
    if (decision.kind === 'execute') {
      sequencer.executed(sequence, nowMs);
      executed.push(sequence);
    }
  }
  return { executed, decisions };
}

describe('ReceiverSequencer', () => {
  it('executes an in-order stream once each', () => {
    const s = new ReceiverSequencer(0, 2_000);
    expect(run(s, [1, 2, 3, 4]).executed).toEqual([1, 2, 3, 4]);
    expect(s.lastExecuted).toBe(4);
    expect(s.counters).toMatchObject({ executed: 4, duplicatesIgnored: 0, gapsSeen: 0 });
  });

  it('ignores duplicates and replays of executed sequences', () => {
    const s = new ReceiverSequencer(0, 2_000);
    const { executed, decisions } = run(s, [1, 2, 2, 1, 3, 3]);
    expect(executed).toEqual([1, 2, 3]);
    expect(decisions.filter((d) => d.kind === 'duplicate')).toHaveLength(3);
    expect(s.counters.duplicatesIgnored).toBe(3);
  });

  it('asks once for the missing range on a gap and ignores out-of-order deliveries until filled', () => {
    const s = new ReceiverSequencer(0, 2_000);
    const first = run(s, [1, 2, 5, 6, 7]);
    expect(first.executed).toEqual([1, 2]);
    expect(first.decisions[2]).toEqual({ kind: 'gap', syncFrom: 3 });
    expect(first.decisions.slice(3).map((d) => d.kind)).toEqual(['out-of-order', 'out-of-order']);
    expect(s.gapOpen).toBe(true);
    expect(s.counters).toMatchObject({ gapsSeen: 1, syncRequestsSent: 1, outOfOrderIgnored: 2 });
    // The server resends from 3: everything executes once, in order.
    const second = run(s, [3, 4, 5, 6, 7, 8]);
    expect(second.executed).toEqual([3, 4, 5, 6, 7, 8]);
    expect(s.gapOpen).toBe(false);
    expect(s.lastExecuted).toBe(8);
  });

  it('keeps the gap open until it reaches the highest sequence seen meanwhile', () => {
    const s = new ReceiverSequencer(10, 2_000);
    run(s, [11, 15, 20]);
    run(s, [12, 13, 14, 15]);
    expect(s.gapOpen).toBe(true); // 20 was seen: 16..19 still missing
    // A later out-of-order delivery does not ask again while the gap is open.
    expect(s.onDelivery(19, 0)).toEqual({ kind: 'out-of-order' });
    run(s, [16, 17, 18, 19, 20]);
    expect(s.gapOpen).toBe(false);
    expect(s.counters.gapsSeen).toBe(1);
    // A new gap after it closed is a new gap.
    expect(s.onDelivery(23, 0)).toEqual({ kind: 'gap', syncFrom: 21 });
    expect(s.counters.gapsSeen).toBe(2);
  });

  it('repeats the sync request only after gapRetryMs without progress, from the current position', () => {
    const s = new ReceiverSequencer(0, 1_000);
    run(s, [1, 4], 0);
    expect(s.tick(500)).toBeNull();
    expect(s.tick(1_000)).toBe(2);
    expect(s.tick(1_500)).toBeNull();
    run(s, [2], 1_800); // progress pushes the retry back
    expect(s.tick(2_500)).toBeNull();
    expect(s.tick(2_800)).toBe(3);
    expect(s.counters.syncRequestsSent).toBe(3);
    run(s, [3, 4], 3_000);
    expect(s.gapOpen).toBe(false);
    expect(s.tick(10_000)).toBeNull();
  });

  it('a reconnect drops the open gap (the new subscribe asks for everything after lastExecuted)', () => {
    const s = new ReceiverSequencer(0, 1_000);
    run(s, [1, 3]);
    expect(s.gapOpen).toBe(true);
    s.onReconnect();
    expect(s.gapOpen).toBe(false);
    expect(s.tick(1_000_000)).toBeNull();
    expect(run(s, [2, 3]).executed).toEqual([2, 3]);
  });

  it('applies a snapshot at or beyond lastExecuted and continues after it', () => {
    const s = new ReceiverSequencer(0, 1_000);
    run(s, [1, 2, 9]); // gap at 3..8
    expect(s.onSnapshot(9)).toEqual({ kind: 'apply' });
    s.snapshotApplied(9, 0);
    expect(s.lastExecuted).toBe(9);
    expect(s.gapOpen).toBe(false);
    const after = run(s, [9, 10]);
    expect(after.executed).toEqual([10]);
    expect(s.counters).toMatchObject({ snapshotsApplied: 1, duplicatesIgnored: 1 });
  });

  it('a snapshot below the highest seen leaves the gap open; a stale snapshot is ignored', () => {
    const s = new ReceiverSequencer(5, 1_000);
    run(s, [9]);
    expect(s.onSnapshot(7).kind).toBe('apply');
    s.snapshotApplied(7, 0);
    expect(s.gapOpen).toBe(true);
    expect(s.onSnapshot(6)).toEqual({ kind: 'stale' });
    expect(s.counters.staleSnapshotsIgnored).toBe(1);
    expect(s.lastExecuted).toBe(7);
    expect(run(s, [8, 9]).executed).toEqual([8, 9]);
  });

  it('with no known cursor, the first delivery or snapshot sets the baseline', () => {
    const a = new ReceiverSequencer(null, 1_000);
    expect(a.expected).toBeNull();
    expect(run(a, [42, 43, 42]).executed).toEqual([42, 43]);
    const b = new ReceiverSequencer(null, 1_000);
    expect(b.onSnapshot(100).kind).toBe('apply');
    b.snapshotApplied(100, 0);
    expect(run(b, [100, 101]).executed).toEqual([101]);
  });

  it('an abandoned delivery (handler failed) can be executed when it comes again', () => {
    const s = new ReceiverSequencer(0, 1_000);
    expect(s.onDelivery(1, 0).kind).toBe('execute');
    s.abandoned();
    expect(s.lastExecuted).toBe(0);
    expect(run(s, [1]).executed).toEqual([1]);
  });

  it('asserts its protocol: one item at a time, done() must match', () => {
    const s = new ReceiverSequencer(0, 1_000);
    expect(s.onDelivery(1, 0).kind).toBe('execute');
    expect(() => s.onDelivery(2, 0)).toThrow(/one delivery or snapshot at a time/);
    expect(() => s.executed(2, 0)).toThrow(/matches/);
    s.executed(1, 0);
    expect(() => s.executed(1, 0)).toThrow(/matches/);
    expect(() => s.onDelivery(-1, 0)).toThrow(/safe integer/);
    expect(() => new ReceiverSequencer(1.5, 1_000)).toThrow();
  });

  it('a seeded random stream with duplicates, reorderings and resends executes each sequence exactly once, in order', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const s = new ReceiverSequencer(0, 1_000);
    const executed: number[] = [];
    const total = 500;
    let now = 0;
    let serverNext = 1; // what the "server" sends next on its live stream
    while (s.lastExecuted! < total && now < 1_000_000) {
      now += 10;
      let sequence = Math.min(serverNext, total);
      const r = random();
      if (r < 0.1) sequence = Math.max(1, sequence - 1 - Math.floor(random() * 5)); // duplicate / old
      else if (r < 0.2) sequence = sequence + 1 + Math.floor(random() * 3); // skip ahead (lost frames)
      if (sequence > total) sequence = total;
      const decision = s.onDelivery(sequence, now);
      if (decision.kind === 'execute') {
        s.executed(sequence, now);
        executed.push(sequence);
      } else if (decision.kind === 'gap') {
        serverNext = decision.syncFrom; // the server resends from there
        continue;
      }
      const retry = s.tick(now);
      if (retry !== null) serverNext = retry;
      serverNext = Math.max(serverNext, sequence) + (decision.kind === 'execute' ? 1 : 0);
      if (decision.kind !== 'execute' && s.gapOpen) serverNext = s.expected!;
    }
    expect(executed).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});
