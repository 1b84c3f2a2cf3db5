/**
 * The copier's durable memory: which local tickets copy which master
 * position, at what ratio, and the last sequence applied, in one small JSON
 * file replaced atomically after each delivery or snapshot was applied in
 * full (writeFileAtomic). The last sequence lives in the same file as the
 * positions, so "applied" and "remembered" cannot disagree after a crash;
 * what the broker did before the write is found again through the
 * idempotency key in each order's comment (client/copier.ts).
 *
 * The same write keeps the execution reports the server has not acked yet
 * (the copier's, when it reports): the reports of an execution are on disk
 * as soon as the execution is remembered, so a receiver process that dies
 * before the server acked them sends them again after its restart.
 */
import fs from 'node:fs';
import { ClientErrorCode, SigplaneClientError } from './errors';
import { copier as limits } from './limits';
import { writeFileAtomic } from './receiver-cursor';
import type { ExecutionReportInput } from './report-outbox';

export const CopyStatus = {
  /** Local tickets hold the copy. */
  COPIED: 'COPIED',
  /** Never copied (skipReason says why); later changes of it are ignored. */
  SKIPPED: 'SKIPPED',
  /** Copied, then closed on the receiver's side (its own stop, by hand): not reopened. */
  CLOSED_LOCALLY: 'CLOSED_LOCALLY',
} as const;
export type CopyStatus = (typeof CopyStatus)[keyof typeof CopyStatus];

export interface CopiedPosition {
  /** v2: the master's ticket in decimal; v1: "v1:<SYMBOL>". */
  masterPositionId: string;
  masterSymbol: string;
  masterOrderType: 0 | 1;
  /** The master's volume when the copy was opened, and now. */
  masterOpenVolume: number;
  masterVolume: number;
  masterStopLoss: number;
  masterTakeProfit: number;
  status: CopyStatus;
  skipReason: string | null;
  localSymbol: string;
  localOrderType: 0 | 1;
  /** What the copy was opened with: target volumes keep localOpenVolume / masterOpenVolume. */
  localOpenVolume: number;
  /** Whether it was opened reversed (stops follow the copy's own direction). */
  reversed: boolean;
  tickets: string[];
  /** The delivery or snapshot sequence that opened (or skipped) it. */
  openedSequence: number;
}

interface MapFile {
  version: 1;
  subscriptionId: string | null;
  lastSequence: number | null;
  settingsRevision: number;
  positions: CopiedPosition[];
  /** Execution reports not acked by the server when the file was written (absent in older files). */
  reports?: ExecutionReportInput[];
  /** The reports of a delivery whose apply failed half way, waiting for its retry (client/copier.ts). */
  carried?: CarriedReports | null;
}

export interface CarriedReports {
  sequence: number;
  reports: ExecutionReportInput[];
}

function unreadable(file: string, why: string, cause?: unknown): SigplaneClientError {
  return new SigplaneClientError(ClientErrorCode.POSITION_MAP_UNREADABLE, `position map ${file}: ${why}`, { cause });
}

function isEntry(p: unknown): p is CopiedPosition {
  if (typeof p !== 'object' || p === null) return false;
  const e = p as Record<string, unknown>;
  return (
    typeof e.masterPositionId === 'string' &&
    typeof e.masterSymbol === 'string' &&
    (e.masterOrderType === 0 || e.masterOrderType === 1) &&
    typeof e.masterOpenVolume === 'number' &&
    typeof e.masterVolume === 'number' &&
    typeof e.status === 'string' &&
    Object.values(CopyStatus).includes(e.status as CopyStatus) &&
    typeof e.localSymbol === 'string' &&
    (e.localOrderType === 0 || e.localOrderType === 1) &&
    typeof e.localOpenVolume === 'number' &&
    Array.isArray(e.tickets) &&
    e.tickets.every((t) => typeof t === 'string') &&
    typeof e.openedSequence === 'number'
  );
}

/** Enough of a report to send it again: the server checks every field and refuses a damaged one for good. */
function isReport(r: unknown): r is ExecutionReportInput {
  if (typeof r !== 'object' || r === null) return false;
  const e = r as Record<string, unknown>;
  return Number.isSafeInteger(e.sequence) && typeof e.masterPositionId === 'string' && typeof e.kind === 'string' && typeof e.outcome === 'string';
}

export class PositionMap {
  private readonly byMaster = new Map<string, CopiedPosition>();
  lastSequence: number | null = null;
  settingsRevision = 0;
  subscriptionId: string | null = null;
  /** Unacked execution reports, oldest first, written with the positions. */
  reports: ExecutionReportInput[] = [];
  /** Reports of a failed apply, for the retry of its sequence. */
  carried: CarriedReports | null = null;

  private constructor(private readonly file: string) {}

  /** The map in `file`, empty when there is none; throws POSITION_MAP_UNREADABLE on a damaged one. */
  static load(file: string): PositionMap {
    const map = new PositionMap(file);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return map;
      throw unreadable(file, 'cannot read', err);
    }
    let parsed: MapFile;
    try {
      parsed = JSON.parse(text) as MapFile;
    } catch (err) {
      throw unreadable(file, 'not JSON', err);
    }
    if (parsed === null || typeof parsed !== 'object' || parsed.version !== 1 || !Array.isArray(parsed.positions)) throw unreadable(file, 'not a version 1 map');
    if (parsed.lastSequence !== null && !(Number.isSafeInteger(parsed.lastSequence) && parsed.lastSequence >= 0)) throw unreadable(file, 'bad lastSequence');
    if (parsed.positions.length > limits.positionsMax) throw unreadable(file, `more than ${limits.positionsMax} positions`);
    for (const p of parsed.positions) {
      if (!isEntry(p)) throw unreadable(file, 'a position entry is damaged');
      map.byMaster.set(p.masterPositionId, p);
    }
    const reports = parsed.reports ?? [];
    if (!Array.isArray(reports) || reports.length > limits.reportsKeptMax) throw unreadable(file, 'bad reports');
    for (const r of reports) if (!isReport(r)) throw unreadable(file, 'a report is damaged');
    map.reports = reports;
    const carried = parsed.carried ?? null;
    if (carried !== null) {
      if (typeof carried !== 'object' || !Number.isSafeInteger(carried.sequence) || !Array.isArray(carried.reports) || !carried.reports.every(isReport)) {
        throw unreadable(file, 'bad carried reports');
      }
      map.carried = carried;
    }
    map.lastSequence = parsed.lastSequence;
    map.settingsRevision = typeof parsed.settingsRevision === 'number' ? parsed.settingsRevision : 0;
    map.subscriptionId = typeof parsed.subscriptionId === 'string' ? parsed.subscriptionId : null;
    return map;
  }

  get size(): number {
    return this.byMaster.size;
  }

  get(masterPositionId: string): CopiedPosition | undefined {
    return this.byMaster.get(masterPositionId);
  }

  set(entry: CopiedPosition): void {
    if (!this.byMaster.has(entry.masterPositionId) && this.byMaster.size >= limits.positionsMax) {
      throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `the position map holds ${limits.positionsMax} positions already`);
    }
    this.byMaster.set(entry.masterPositionId, entry);
  }

  delete(masterPositionId: string): void {
    this.byMaster.delete(masterPositionId);
  }

  entries(): CopiedPosition[] {
    return [...this.byMaster.values()];
  }

  /** Every ticket some entry holds. */
  tickets(): Set<string> {
    const out = new Set<string>();
    for (const e of this.byMaster.values()) for (const t of e.tickets) out.add(t);
    return out;
  }

  async save(): Promise<void> {
    const record: MapFile = {
      version: 1,
      subscriptionId: this.subscriptionId,
      lastSequence: this.lastSequence,
      settingsRevision: this.settingsRevision,
      positions: this.entries(),
      reports: this.reports,
      carried: this.carried,
    };
    await writeFileAtomic(this.file, JSON.stringify(record) + '\n');
  }
}
