/**
 * ExecutionReport frames (receiver -> server): the checks every field goes
 * through on the I/O thread before the report reaches its shard, and the
 * conversions between the wire's enums and the names stored in
 * execution_reports. docs/protocol.md lists the checks and their codes.
 *
 * A refused report is answered REPORT_INVALID (the message names the field)
 * or SEQUENCE_OUT_OF_RANGE and changes nothing.
 */
import { executionReports as limits } from './limits';
import {
  RejectCode,
  executionKinds,
  executionOutcomes,
  type ExecutionKind,
  type ExecutionOutcome,
  type ExecutionReportRecord,
} from './records';
import { safeInteger } from './codec';
import type { ExecutionReportFrame } from './wire-types';

/** proto ExecutionKind number -> name (index 0 is UNSPECIFIED). */
export function executionKindName(n: number): ExecutionKind | null {
  return n >= 1 && n <= executionKinds.length ? executionKinds[n - 1] : null;
}
export function executionKindNumber(kind: ExecutionKind): number {
  return executionKinds.indexOf(kind) + 1;
}
function executionOutcomeName(n: number): ExecutionOutcome | null {
  return n >= 1 && n <= executionOutcomes.length ? executionOutcomes[n - 1] : null;
}
function executionOutcomeNumber(outcome: ExecutionOutcome): number {
  return executionOutcomes.indexOf(outcome) + 1;
}

/** master_position_id and ticket (the journal checks them again with this). */
export const executionReportIdPattern = new RegExp(`^[A-Za-z0-9:._-]{1,${limits.idLengthMax}}$`);
const reasonPattern = new RegExp(`^[A-Za-z0-9_:.-]{1,${limits.reasonLengthMax}}$`);
const currencyPattern = /^[A-Z]{3,8}$/;

export type ReportCheck =
  | { ok: true; report: Omit<ExecutionReportRecord, 'subscriptionId' | 'receiverId' | 'receivedAtMs'> }
  | { ok: false; code: RejectCode; message: string; sequence: number };

function finiteIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
}

/** Checks every field of a decoded ExecutionReport; nowMs is the server's clock. */
export function checkExecutionReport(f: ExecutionReportFrame, nowMs: number): ReportCheck {
  const sequence = safeInteger(f.sequenceNumber);
  if (sequence === null) return { ok: false, code: RejectCode.SEQUENCE_OUT_OF_RANGE, message: 'execution report: sequence_number beyond 2^53-1', sequence: 0 };
  const bad = (field: string, why: string): ReportCheck => ({
    ok: false,
    code: RejectCode.REPORT_INVALID,
    message: `execution report: ${field} ${why}`,
    sequence,
  });
  if (sequence < 1) return bad('sequence_number', 'must be >= 1');
  if (typeof f.masterPositionId !== 'string' || !executionReportIdPattern.test(f.masterPositionId)) return bad('master_position_id', `must be 1..${limits.idLengthMax} of [A-Za-z0-9:._-]`);
  const kind = executionKindName(f.kind);
  if (kind === null) return bad('kind', 'unknown');
  const outcome = executionOutcomeName(f.outcome);
  if (outcome === null) return bad('outcome', 'unknown');
  const isSkip = kind === 'skip';
  if (isSkip !== (outcome === 'skipped' || outcome === 'rejected')) return bad('outcome', `does not fit kind ${kind}`);
  if (f.ticket !== '' && !executionReportIdPattern.test(f.ticket)) return bad('ticket', `must be empty or 1..${limits.idLengthMax} of [A-Za-z0-9:._-]`);
  if (isSkip && f.ticket !== '') return bad('ticket', 'must be empty for a skip');
  if (!finiteIn(f.requestedVolume, 0, limits.volumeMax)) return bad('requested_volume', `must be finite, 0..${limits.volumeMax}`);
  if (!finiteIn(f.volume, 0, limits.volumeMax)) return bad('volume', `must be finite, 0..${limits.volumeMax}`);
  if (f.hasPrice && !finiteIn(f.price, 0, limits.priceMax)) return bad('price', `must be finite, 0..${limits.priceMax}`);
  if (f.hasSlippage && !finiteIn(f.slippagePips, -limits.slippagePipsAbsMax, limits.slippagePipsAbsMax)) return bad('slippage_pips', 'out of range');
  const delayMs = f.hasDelay ? safeInteger(f.delayMs) : null;
  if (f.hasDelay && (delayMs === null || delayMs < 0 || delayMs > limits.delayMsMax)) return bad('delay_ms', `must be 0..${limits.delayMsMax}`);
  if (f.hasProfit) {
    if (kind !== 'close' && kind !== 'reduce') return bad('profit', 'only for close or reduce');
    if (!finiteIn(f.profit, -limits.profitAbsMax, limits.profitAbsMax)) return bad('profit', 'must be finite, |profit| <= 1e13');
    if (!currencyPattern.test(f.currency)) return bad('currency', 'must be [A-Z]{3,8} with a profit');
  } else if (f.currency !== '' && !currencyPattern.test(f.currency)) {
    return bad('currency', 'must be empty or [A-Z]{3,8}');
  }
  if (isSkip !== (f.reason !== '')) return bad('reason', isSkip ? 'required for a skip' : 'only for a skip');
  if (f.reason !== '' && !reasonPattern.test(f.reason)) return bad('reason', `must be 1..${limits.reasonLengthMax} of [A-Za-z0-9_:.-]`);
  if (isSkip && (f.volume !== 0 || f.hasPrice || f.hasSlippage || f.hasProfit)) return bad('volume', 'a skip fills nothing');
  const claimedAtMs = safeInteger(f.executedAt);
  if (claimedAtMs === null || claimedAtMs < nowMs - limits.executedAgeMsMax) return bad('executed_at', 'must be within 30 days before now');
  // A receiver whose clock runs ahead still executed what it reports: by now at the latest. Refusing
  // would lose the execution (and its profit) for good; it is recorded at the server's time instead.
  const executedAtMs = claimedAtMs > nowMs + limits.executedFutureMsMax ? nowMs : claimedAtMs;
  return {
    ok: true,
    report: {
      sequence,
      masterPositionId: f.masterPositionId,
      kind,
      outcome,
      ticket: f.ticket === '' ? null : f.ticket,
      requestedVolume: f.requestedVolume,
      volume: f.volume,
      price: f.hasPrice ? f.price : null,
      slippagePips: f.hasSlippage ? f.slippagePips : null,
      delayMs,
      profit: f.hasProfit ? f.profit : null,
      currency: f.currency === '' ? null : f.currency,
      reason: f.reason === '' ? null : f.reason,
      executedAtMs,
    },
  };
}

/** The frame a client sends for one report (the inverse of checkExecutionReport's result). */
export function executionReportObject(r: Omit<ExecutionReportRecord, 'subscriptionId' | 'receiverId' | 'receivedAtMs'>): Record<string, unknown> {
  return {
    sequenceNumber: r.sequence,
    masterPositionId: r.masterPositionId,
    kind: executionKindNumber(r.kind),
    outcome: executionOutcomeNumber(r.outcome),
    ticket: r.ticket ?? '',
    requestedVolume: r.requestedVolume,
    volume: r.volume,
    hasPrice: r.price !== null,
    price: r.price ?? 0,
    hasSlippage: r.slippagePips !== null,
    slippagePips: r.slippagePips ?? 0,
    hasDelay: r.delayMs !== null,
    delayMs: r.delayMs ?? 0,
    hasProfit: r.profit !== null,
    profit: r.profit ?? 0,
    currency: r.currency ?? '',
    reason: r.reason ?? '',
    executedAt: r.executedAtMs,
  };
}
