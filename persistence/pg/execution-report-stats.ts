/**
 * Copy statistics from execution_reports (migrations 005, 030), per
 * subscription or per receiver license, over a time range of executed_at:
 * p50/p90/p99 of delay_ms and slippage_pips (percentile_cont: linear
 * between the two nearest rows, as Postgres defines it), counts by kind and
 * outcome, and skip reasons (skipped and rejected reports, by reason).
 *
 * Read by the admin API (io/admin/execution-stats-routes.ts) with the
 * admin store's pool.
 */
import type { Pool } from 'pg';
import { executionReports } from '@sigplane/protocol';

export interface Percentiles {
  /** Rows with a value. */
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
}

export interface ExecutionReportStats {
  scope: 'subscription' | 'receiver';
  id: string;
  from: string;
  to: string;
  reports: number;
  delayMs: Percentiles;
  slippagePips: Percentiles;
  byOutcome: Record<string, number>;
  byKind: Record<string, number>;
  /** Skipped and rejected reports by reason, most frequent first. */
  skipReasons: { reason: string; outcome: string; count: number }[];
}


const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function percentiles(row: Record<string, unknown>, prefix: string): Percentiles {
  return {
    count: Number(row[`${prefix}_n`] ?? 0),
    p50: numberOrNull(row[`${prefix}_p50`]),
    p90: numberOrNull(row[`${prefix}_p90`]),
    p99: numberOrNull(row[`${prefix}_p99`]),
    min: numberOrNull(row[`${prefix}_min`]),
    max: numberOrNull(row[`${prefix}_max`]),
  };
}

/**
 * Statistics of one subscription's or one receiver's reports executed in
 * [fromMs, toMs). The column the scope filters on is chosen from a constant,
 * every value is a parameter.
 */
export async function executionReportStats(
  pool: Pool,
  scope: 'subscription' | 'receiver',
  id: string,
  fromMs: number,
  toMs: number,
): Promise<ExecutionReportStats> {
  const column = scope === 'subscription' ? 'subscription_id' : 'receiver_id';
  const where = `${column} = $1::uuid AND executed_at >= to_timestamp($2::float8 / 1000) AND executed_at < to_timestamp($3::float8 / 1000)`;
  const params = [id, fromMs, toMs];
  const [summary, outcomes, kinds, reasons] = await Promise.all([
    pool.query<Record<string, unknown>>(
      `SELECT count(*)::int AS reports,
         count(delay_ms)::int AS delay_n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_ms) AS delay_p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY delay_ms) AS delay_p90,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY delay_ms) AS delay_p99,
         min(delay_ms)::float8 AS delay_min, max(delay_ms)::float8 AS delay_max,
         count(slippage_pips)::int AS slip_n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY slippage_pips) AS slip_p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY slippage_pips) AS slip_p90,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY slippage_pips) AS slip_p99,
         min(slippage_pips) AS slip_min, max(slippage_pips) AS slip_max
       FROM execution_reports WHERE ${where}`,
      params,
    ),
    pool.query<{ outcome: string | null; n: number }>(
      `SELECT outcome, count(*)::int AS n FROM execution_reports WHERE ${where} GROUP BY outcome ORDER BY outcome`,
      params,
    ),
    pool.query<{ kind: string; n: number }>(`SELECT kind, count(*)::int AS n FROM execution_reports WHERE ${where} GROUP BY kind ORDER BY kind`, params),
    pool.query<{ reason: string; outcome: string | null; n: number }>(
      `SELECT reason, outcome, count(*)::int AS n FROM execution_reports
        WHERE ${where} AND kind = 'skip' AND reason IS NOT NULL
        GROUP BY reason, outcome ORDER BY n DESC, reason LIMIT ${executionReports.statsSkipReasonsMax}`,
      params,
    ),
  ]);
  const row = summary.rows[0] ?? {};
  return {
    scope,
    id,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    reports: Number(row.reports ?? 0),
    delayMs: percentiles(row, 'delay'),
    slippagePips: percentiles(row, 'slip'),
    // Rows shipped before 030 have no outcome: 'unknown'.
    byOutcome: Object.fromEntries(outcomes.rows.map((r) => [r.outcome ?? 'unknown', r.n])),
    byKind: Object.fromEntries(kinds.rows.map((r) => [r.kind, r.n])),
    skipReasons: reasons.rows.map((r) => ({ reason: r.reason, outcome: r.outcome ?? 'unknown', count: r.n })),
  };
}
