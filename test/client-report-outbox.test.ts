import { describe, expect, it } from 'vitest';
import { decodeFrame, executionKindName } from '@sigplane/protocol';
import { encodeCheckedReport, reportKey, ReportOutbox } from '../client/report-outbox';
import { skipReport } from './support/reports';

const nowMs = 1_800_000_000_000;
const skip = (sequence: number, position: string, overrides = {}) => skipReport(sequence, position, { executedAtMs: nowMs, ...overrides });
const sequencesOf = (outbox: ReportOutbox): string[] => outbox.list().map((p) => reportKey(p.report.sequence, p.report.masterPositionId, p.report.kind));

describe('ReportOutbox', () => {
  it('keeps a valid report with the frame the server will read, until it is acked', () => {
    const outbox = new ReportOutbox(8);
    const added = outbox.add(skip(3, 'p1'), nowMs);
    expect(added.kind).toBe('kept');
    if (added.kind !== 'kept') return;
    expect(added.dropped).toBe(0);
    const decoded = decodeFrame(added.pending.frame);
    expect(decoded?.kind).toBe('executionReport');
    if (decoded?.kind !== 'executionReport') return;
    expect(decoded.executionReport.masterPositionId).toBe('p1');
    expect(executionKindName(decoded.executionReport.kind)).toBe('skip');
    expect(outbox.size).toBe(1);

    expect(outbox.acked(3, 'p1', 'open')).toBeUndefined(); // another kind: another row
    expect(outbox.acked(3, 'p1', 'skip')?.report.sequence).toBe(3);
    expect(outbox.acked(3, 'p1', 'skip')).toBeUndefined();
    expect(outbox.size).toBe(0);
    expect(outbox.counters).toEqual({ reportsAcked: 1, reportsRefused: 0, reportsDropped: 0 });
  });

  it('refuses for good, and keeps nothing of, a report the server would refuse', () => {
    const outbox = new ReportOutbox(8);
    const badReason = outbox.add(skip(1, 'p1', { reason: 'no spaces allowed' }), nowMs);
    expect(badReason).toEqual({ kind: 'refused', problem: expect.stringMatching(/reason/) });
    const tooOld = outbox.add(skip(2, 'p2', { executedAtMs: nowMs - 31 * 86_400_000 }), nowMs);
    expect(tooOld).toEqual({ kind: 'refused', problem: expect.stringMatching(/executed_at/) });
    const notEncodable = outbox.add(skip(3, 'p3', { kind: 'nonsense' as never }), nowMs);
    expect(notEncodable.kind).toBe('refused');
    expect(outbox.size).toBe(0);
    expect(outbox.counters).toEqual({ reportsAcked: 0, reportsRefused: 3, reportsDropped: 0 });
    expect(encodeCheckedReport(skip(4, 'p4'), nowMs)).toHaveProperty('frame');
  });

  it('the same key replaces the report and makes it the newest', () => {
    const outbox = new ReportOutbox(8);
    outbox.add(skip(1, 'a'), nowMs);
    outbox.add(skip(2, 'b'), nowMs);
    outbox.add(skip(1, 'a', { reason: 'SECOND' }), nowMs);
    expect(sequencesOf(outbox)).toEqual(['2|b|skip', '1|a|skip']);
    expect(outbox.list()[1]!.report.reason).toBe('SECOND');
  });

  it('never holds more than its capacity: the oldest are dropped and counted', () => {
    const outbox = new ReportOutbox(3);
    for (let s = 1; s <= 3; s++) expect(outbox.add(skip(s, 'p'), nowMs)).toMatchObject({ kind: 'kept', dropped: 0 });
    expect(outbox.add(skip(4, 'p'), nowMs)).toMatchObject({ kind: 'kept', dropped: 1 });
    expect(outbox.add(skip(5, 'p'), nowMs)).toMatchObject({ kind: 'kept', dropped: 1 });
    expect(outbox.size).toBe(3);
    expect(sequencesOf(outbox)).toEqual(['3|p|skip', '4|p|skip', '5|p|skip']);
    expect(outbox.counters.reportsDropped).toBe(2);
    expect(() => new ReportOutbox(0)).toThrow(/capacity/);
  });

  it('a refusal from the server removes every report of its sequence, and nothing without a sequence', () => {
    const outbox = new ReportOutbox(8);
    outbox.add(skip(7, 'a'), nowMs);
    outbox.add(skip(8, 'b'), nowMs);
    outbox.add(skip(7, 'c'), nowMs);
    expect(outbox.refused(null)).toEqual([]);
    expect(outbox.refused(7).map((p) => p.report.masterPositionId)).toEqual(['a', 'c']);
    expect(sequencesOf(outbox)).toEqual(['8|b|skip']);
    expect(outbox.counters).toEqual({ reportsAcked: 0, reportsRefused: 2, reportsDropped: 0 });
  });

  it('BUSY notes sequences; what is due is the held reports of those, oldest first, once', () => {
    const outbox = new ReportOutbox(8);
    outbox.add(skip(1, 'a'), nowMs);
    outbox.add(skip(2, 'b'), nowMs);
    outbox.add(skip(1, 'c'), nowMs);
    expect(outbox.busy(null)).toBe(false);
    expect(outbox.busy(0)).toBe(false);
    expect(outbox.takeBusyDue()).toEqual([]);
    expect(outbox.busy(1)).toBe(true);
    expect(outbox.busy(9)).toBe(true); // none held: nothing due for it
    outbox.acked(1, 'c', 'skip');
    expect(outbox.takeBusyDue().map((p) => p.report.masterPositionId)).toEqual(['a']);
    expect(outbox.takeBusyDue()).toEqual([]);
    outbox.busy(2);
    outbox.clearBusy();
    expect(outbox.takeBusyDue()).toEqual([]);
    expect(outbox.size).toBe(2); // BUSY removes nothing
  });
});
