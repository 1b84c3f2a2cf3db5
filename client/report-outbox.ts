/**
 * The receiver's execution reports until the server acks them, free of
 * sockets and clocks (client/master-outbox.ts is the master's outbox):
 *
 * - add() checks a report as the server will, on its frame decoded back
 *   (what the server will read), and refuses for good one the server would
 *   refuse: a server refusal names only the sequence, so a bad report sent
 *   would take the valid reports of its sequence with it. A kept report's
 *   frame is encoded once and sent again as it is.
 * - Keyed by what makes two reports the same row on the server (sequence,
 *   master position, kind): adding a key again replaces the report and makes
 *   it the newest, and sending one again is safe.
 * - Bounded: past `capacity` the oldest is dropped and counted; it never
 *   grows past its capacity.
 * - BUSY (the server's ring was full) names a sequence: busy() notes it and
 *   takeBusyDue() gives the reports of the noted sequences to send again.
 */
import {
  checkExecutionReport,
  decodeFrame,
  encodeFrame,
  executionReportObject,
  type DecodedFrame,
  type ExecutionReportRecord,
} from '@sigplane/protocol';
import { asError } from './errors';

/** One execution report as the client sends it (the connection names subscription and receiver). */
export type ExecutionReportInput = Omit<ExecutionReportRecord, 'subscriptionId' | 'receiverId' | 'receivedAtMs'>;

/** What makes two reports the same row on the server: (sequence, master position, kind). */
export function reportKey(sequence: number, masterPositionId: string, kind: string): string {
  return `${sequence}|${masterPositionId}|${kind}`;
}

/** A report kept until the server acks it, with its frame as sent. */
export interface PendingReport {
  report: ExecutionReportInput;
  frame: Uint8Array;
}

export type ReportAddResult =
  /** Kept (and to be sent); `dropped` oldest reports made room for it. */
  | { kind: 'kept'; pending: PendingReport; dropped: number }
  /** The server would refuse it for good: not kept, never sent. */
  | { kind: 'refused'; problem: string };

export interface ReportOutboxCounters {
  reportsAcked: number;
  reportsRefused: number;
  reportsDropped: number;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/**
 * The report's frame, or why the server would refuse it for good: checked
 * as the server checks it, on the frame decoded back.
 */
export function encodeCheckedReport(report: ExecutionReportInput, nowMs: number): { frame: Uint8Array } | { problem: string } {
  let frame: Uint8Array;
  let decoded: DecodedFrame | null;
  try {
    frame = encodeFrame({ executionReport: executionReportObject(report) });
    decoded = decodeFrame(frame);
  } catch (err) {
    return { problem: `execution report: cannot be encoded (${asError(err).message})` };
  }
  if (decoded === null || decoded.kind !== 'executionReport') return { problem: 'execution report: cannot be encoded' };
  const checked = checkExecutionReport(decoded.executionReport, nowMs);
  return checked.ok ? { frame } : { problem: checked.message };
}

export class ReportOutbox {
  /** Oldest first (a replaced key moves to the end). */
  private readonly pending = new Map<string, PendingReport>();
  /** Sequences the server answered BUSY since the last takeBusyDue(). */
  private readonly busySequences = new Set<number>();
  private readonly counts: ReportOutboxCounters = { reportsAcked: 0, reportsRefused: 0, reportsDropped: 0 };

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'report outbox capacity is a positive integer');
  }

  get size(): number {
    return this.pending.size;
  }

  get counters(): ReportOutboxCounters {
    return { ...this.counts };
  }

  /** Keep `report` until acked, unless the server would refuse it (checked at `nowMs`). */
  add(report: ExecutionReportInput, nowMs: number): ReportAddResult {
    const checked = encodeCheckedReport(report, nowMs);
    if ('problem' in checked) {
      this.counts.reportsRefused++;
      return { kind: 'refused', problem: checked.problem };
    }
    const key = reportKey(report.sequence, report.masterPositionId, report.kind);
    const pending: PendingReport = { report, frame: checked.frame };
    this.pending.delete(key);
    this.pending.set(key, pending);
    let dropped = 0;
    while (this.pending.size > this.capacity) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      dropped++;
    }
    this.counts.reportsDropped += dropped;
    return { kind: 'kept', pending, dropped };
  }

  /** The server acked the report of this key: removed and returned (undefined when not held). */
  acked(sequence: number, masterPositionId: string, kind: string): PendingReport | undefined {
    const key = reportKey(sequence, masterPositionId, kind);
    const pending = this.pending.get(key);
    if (pending === undefined) return undefined;
    this.pending.delete(key);
    this.counts.reportsAcked++;
    return pending;
  }

  /**
   * The server refused the reports of `sequence` for good (REPORT_INVALID,
   * REPORT_NOT_DELIVERED): each is removed and returned, never sent again
   * (it would be refused again). A refusal naming no sequence removes nothing.
   */
  refused(sequence: number | null): PendingReport[] {
    const removed: PendingReport[] = [];
    for (const [key, pending] of this.pending) {
      if (pending.report.sequence === sequence) {
        this.pending.delete(key);
        removed.push(pending);
      }
    }
    this.counts.reportsRefused += removed.length;
    return removed;
  }

  /** Every report held, oldest first (a copy): what a new session sends again. */
  list(): PendingReport[] {
    return [...this.pending.values()];
  }

  /** The server answered BUSY for `sequence`: its reports are due again. False (nothing noted) without a valid sequence. */
  busy(sequence: number | null): boolean {
    if (sequence === null || sequence < 1) return false;
    this.busySequences.add(sequence);
    return true;
  }

  /** The reports of every sequence noted busy() since the last call, oldest first; the notes are cleared. */
  takeBusyDue(): PendingReport[] {
    if (this.busySequences.size === 0) return [];
    const due: PendingReport[] = [];
    for (const pending of this.pending.values()) if (this.busySequences.has(pending.report.sequence)) due.push(pending);
    this.busySequences.clear();
    return due;
  }

  /** Forget the busy() notes (the connection closed: the next welcome sends everything held). */
  clearBusy(): void {
    this.busySequences.clear();
  }
}
