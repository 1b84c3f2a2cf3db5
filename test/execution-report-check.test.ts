/**
 * The checks of an ExecutionReport frame (proto/execution-report.ts
 * checkExecutionReport), as the I/O thread applies them to what it
 * decoded: each frame here goes through the real codec (encodeFrame, then
 * decodeFrame) first. A refused report gets a stable code and a message
 * naming the field; a taken one is the record the shard journals.
 * test/execution-reports.test.ts sends a few of these through a server.
 */
import { describe, expect, it } from 'vitest';
import {
  checkExecutionReport,
  decodeFrame,
  encodeFrame,
  executionReportObject,
  executionReports as limits,
  type ExecutionReportRecord,
} from '@sigplane/protocol';
import { skipReport } from './support/reports';

const nowMs = 1_795_000_000_000;

type Report = Omit<ExecutionReportRecord, 'subscriptionId' | 'receiverId' | 'receivedAtMs'>;

const skip: Report = skipReport(1, '11', { delayMs: 12, executedAtMs: nowMs - 1_000 });

/** The frame of `report` with `fields` replaced on the wire, sent and decoded. */
function check(fields: Record<string, unknown>, report: Report = skip): ReturnType<typeof checkExecutionReport> {
  const decoded = decodeFrame(encodeFrame({ executionReport: { ...executionReportObject(report), ...fields } }));
  if (decoded?.kind !== 'executionReport') throw new Error('not an execution report frame');
  return checkExecutionReport(decoded.executionReport, nowMs);
}

/** The refusal as `CODE: message`, or 'ok'. */
function answer(fields: Record<string, unknown>, report?: Report): string {
  const checked = check(fields, report);
  return checked.ok ? 'ok' : `${checked.code}: ${checked.message}`;
}

describe('checkExecutionReport', () => {
  it('takes a valid skip and a valid close as the records the shard journals', () => {
    expect(check({})).toEqual({ ok: true, report: skip });
    const close: Report = {
      ...skip,
      kind: 'close',
      outcome: 'filled',
      ticket: 't-1',
      requestedVolume: 1,
      volume: 1,
      price: 1.099,
      slippagePips: -0.4,
      profit: -12.5,
      currency: 'USD',
      reason: null,
    };
    expect(check({}, close)).toEqual({ ok: true, report: close });
  });

  // Each case as the server answered it end to end (the fields changed on the wire, the code, the field named).
  const cases: [string, Record<string, unknown>, string][] = [
    ['kind unknown', { kind: 0 }, 'REPORT_INVALID: execution report: kind unknown'],
    ['kind out of the enum', { kind: 9 }, 'REPORT_INVALID: execution report: kind unknown'],
    ['outcome unknown', { outcome: 0 }, 'REPORT_INVALID: execution report: outcome unknown'],
    ['a skip that filled', { outcome: 1 }, 'REPORT_INVALID: execution report: outcome does not fit kind skip'],
    ['a skip without reason', { reason: '' }, 'REPORT_INVALID: execution report: reason required for a skip'],
    ['reason outside the charset', { reason: 'DROP TABLE; --' }, 'REPORT_INVALID: execution report: reason must be 1..64 of [A-Za-z0-9_:.-]'],
    ['reason too long', { reason: 'A'.repeat(65) }, 'REPORT_INVALID: execution report: reason must be 1..64 of [A-Za-z0-9_:.-]'],
    ['position id empty', { masterPositionId: '' }, 'REPORT_INVALID: execution report: master_position_id must be 1..64 of [A-Za-z0-9:._-]'],
    ['position id too long', { masterPositionId: '1'.repeat(65) }, 'REPORT_INVALID: execution report: master_position_id must be 1..64 of [A-Za-z0-9:._-]'],
    ['position id outside the charset', { masterPositionId: 'a b' }, 'REPORT_INVALID: execution report: master_position_id must be 1..64 of [A-Za-z0-9:._-]'],
    ['NaN volume', { kind: 1, outcome: 1, reason: '', ticket: 't1', volume: Number.NaN }, `REPORT_INVALID: execution report: volume must be finite, 0..${limits.volumeMax}`],
    [
      'infinite price',
      { kind: 1, outcome: 1, reason: '', ticket: 't1', volume: 1, hasPrice: true, price: Number.POSITIVE_INFINITY },
      `REPORT_INVALID: execution report: price must be finite, 0..${limits.priceMax}`,
    ],
    ['negative requested volume', { requestedVolume: -1 }, `REPORT_INVALID: execution report: requested_volume must be finite, 0..${limits.volumeMax}`],
    [
      'profit on an open',
      { kind: 1, outcome: 1, reason: '', ticket: 't1', volume: 1, hasProfit: true, profit: 5, currency: 'USD' },
      'REPORT_INVALID: execution report: profit only for close or reduce',
    ],
    [
      'profit without currency',
      { kind: 3, outcome: 1, reason: '', ticket: 't1', volume: 1, hasProfit: true, profit: 5, currency: '' },
      'REPORT_INVALID: execution report: currency must be [A-Z]{3,8} with a profit',
    ],
    [
      'profit beyond 1e13',
      { kind: 3, outcome: 1, reason: '', ticket: 't1', volume: 1, hasProfit: true, profit: 1e14, currency: 'USD' },
      'REPORT_INVALID: execution report: profit must be finite, |profit| <= 1e13',
    ],
    ['negative delay', { delayMs: -5 }, `REPORT_INVALID: execution report: delay_ms must be 0..${limits.delayMsMax}`],
    ['executed more than 30 days ago', { executedAt: nowMs - 31 * 86_400_000 }, 'REPORT_INVALID: execution report: executed_at must be within 30 days before now'],
    ['sequence 0', { sequenceNumber: 0 }, 'REPORT_INVALID: execution report: sequence_number must be >= 1'],
    ['sequence beyond 2^53-1', { sequenceNumber: '18446744073709551615' }, 'SEQUENCE_OUT_OF_RANGE: execution report: sequence_number beyond 2^53-1'],
  ];
  it.each(cases)('refuses %s', (_name, fields, expected) => {
    expect(answer(fields)).toBe(expected);
  });

  it('names the sequence of a refused report (0 when it cannot be read)', () => {
    expect(check({ kind: 0, sequenceNumber: 7 })).toMatchObject({ ok: false, sequence: 7 });
    expect(check({ sequenceNumber: '18446744073709551615' })).toMatchObject({ ok: false, sequence: 0 });
  });

  it('keeps executed_at within the bounds, and records a receiver clock running ahead at the server time', () => {
    expect(check({ executedAt: nowMs - limits.executedAgeMsMax })).toMatchObject({ ok: true, report: { executedAtMs: nowMs - limits.executedAgeMsMax } });
    expect(answer({ executedAt: nowMs - limits.executedAgeMsMax - 1 })).toMatch(/executed_at/);
    expect(check({ executedAt: nowMs + limits.executedFutureMsMax })).toMatchObject({ ok: true, report: { executedAtMs: nowMs + limits.executedFutureMsMax } });
    expect(check({ executedAt: nowMs + 3_600_000 })).toMatchObject({ ok: true, report: { executedAtMs: nowMs } });
  });
});
