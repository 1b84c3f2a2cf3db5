/**
 * Building execution reports for tests: a skip (the report that needs no
 * fill), every field overridable.
 */
import type { ExecutionReportInput } from '@sigplane/client';

export function skipReport(sequence: number, masterPositionId: string, overrides: Partial<ExecutionReportInput> = {}): ExecutionReportInput {
  return {
    sequence,
    masterPositionId,
    kind: 'skip',
    outcome: 'skipped',
    ticket: null,
    requestedVolume: 0,
    volume: 0,
    price: null,
    slippagePips: null,
    delayMs: 1,
    profit: null,
    currency: null,
    reason: 'SYMBOL_BLOCKED',
    executedAtMs: Date.now(),
    ...overrides,
  };
}
