/**
 * Performance fees with a high-water mark (issue 7; docs/receivers.md,
 * "Performance fees"; migration 031).
 *
 * The unit charged is one receiver license: one account, one currency, one
 * series of closed results (execution_reports rows of that receiver_id with
 * kind 'close' or 'reduce' and a profit). Its user (receiver_subscribers)
 * pays and reads the entries; the rate is the subscription's
 * (performance_fee_rates, basis points, default 0).
 *
 * The formula (`performanceFee`, pure, integer minor units):
 *   C   = cumulative closed profit at the period's end (every result executed before it)
 *   M0  = the mark before the period (0 for a license never computed)
 *   M1  = max(M0, C)                       the new mark; never falls
 *   fee = floor(r * M1) - floor(r * M0)    r = rate_bp / 10000
 * i.e. r x max(0, C - M0), rounded so that at a constant rate the fees of
 * all periods add up to exactly floor(r x final mark): no cent is lost or
 * charged twice to rounding. Losses lower C below M0: nothing is charged
 * until C passes M0 again.
 *
 * The run (`chargePerformanceFees`): per license, one transaction as the
 * admin tenant (withTenant, RLS of 006/031) under an advisory lock of the
 * license: reads the mark and the results, writes the FEE ledger entry (when
 * the fee is not 0), the period row (primary key (license, period): a period
 * is computed once) and the new mark. Running a period again writes
 * nothing. A period earlier than the last computed one is refused for that
 * license (its mark already includes later results).
 */
import type { Pool, PoolClient } from 'pg';
import { executionReports, performanceFees } from '@sigplane/protocol';
import { ConfigError } from './config-errors';
import { assertUuid, invalid, normaliseEmail } from './store-checks';
import { withTenant } from './tenant';

const bpPerUnit = 10_000n;
/** Advisory lock namespace of the fee run (pg_advisory_xact_lock(int, int)). */
const lockNamespace = 0x66656573; // 'fees'

// ---------------------------------------------------------------------------
// The pure formula

export interface PerformanceFeeInput {
  /** Cumulative closed profit before the period's results (minor units). */
  cumulativeBefore: bigint;
  /** The period's closed results, in execution order (minor units; losses negative). */
  results: readonly bigint[];
  /** The high-water mark before the period (minor units, >= 0). */
  previousMark: bigint;
  /** Fee rate in basis points, 0..performanceFees.rateBpMax. */
  rateBp: number;
}

export interface PerformanceFeeOutput {
  /** Cumulative closed profit at the period's end. */
  cumulative: bigint;
  /** Highest running cumulative inside the period (information only: never charged). */
  peak: bigint;
  /** max(0, cumulative - previousMark): the new gain charged for. */
  gain: bigint;
  /** floor(rate x newMark) - floor(rate x previousMark). */
  fee: bigint;
  /** max(previousMark, cumulative). */
  mark: bigint;
}

function assertRateBp(rateBp: number): void {
  if (!Number.isInteger(rateBp) || rateBp < 0 || rateBp > performanceFees.rateBpMax) {
    invalid(`fee rate must be a whole number of basis points from 0 to ${performanceFees.rateBpMax}`);
  }
}

/** The fee of one period and the new high-water mark. Pure. */
export function performanceFee(input: PerformanceFeeInput): PerformanceFeeOutput {
  assertRateBp(input.rateBp);
  if (input.previousMark < 0n) invalid('previous mark must not be negative');
  let cumulative = input.cumulativeBefore;
  let peak = cumulative;
  for (const result of input.results) {
    cumulative += result;
    if (cumulative > peak) peak = cumulative;
  }
  const mark = cumulative > input.previousMark ? cumulative : input.previousMark;
  const rate = BigInt(input.rateBp);
  // Both marks are >= 0, so BigInt division (towards zero) is floor.
  const fee = (rate * mark) / bpPerUnit - (rate * input.previousMark) / bpPerUnit;
  return { cumulative, peak, gain: mark - input.previousMark, fee, mark };
}

// ---------------------------------------------------------------------------
// Money and periods

const zeroDecimalCurrencies = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const threeDecimalCurrencies = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

/** Decimal places of a currency's minor unit (ISO 4217; 2 unless listed). */
export function minorUnitDigits(currency: string): number {
  if (zeroDecimalCurrencies.has(currency)) return 0;
  if (threeDecimalCurrencies.has(currency)) return 3;
  return 2;
}

/** Minor units as a decimal text in major units: -12345n, 2 -> "-123.45". */
export function formatMinor(amount: bigint, digits: number): string {
  const negative = amount < 0n;
  const text = (negative ? -amount : amount).toString().padStart(digits + 1, '0');
  const whole = digits === 0 ? text : text.slice(0, -digits);
  const fraction = digits === 0 ? '' : `.${text.slice(-digits)}`;
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export interface Period {
  /** "YYYY-MM" */
  label: string;
  /** First instant of the month, UTC (inclusive). */
  startMs: number;
  /** First instant of the next month, UTC (exclusive). */
  endMs: number;
  /** "YYYY-MM-01": the DATE stored. */
  date: string;
}

/** "YYYY-MM" (2000-01 .. 2999-12) as a UTC month; INVALID_ARGUMENT otherwise. */
export function parsePeriod(text: unknown): Period {
  const m = typeof text === 'string' ? /^(2[0-9]{3})-(0[1-9]|1[0-2])$/.exec(text) : null;
  if (m === null) invalid('period must be YYYY-MM (a UTC month, 2000-01 or later)');
  const year = Number(m[1]);
  const month = Number(m[2]);
  return { label: `${m[1]}-${m[2]}`, startMs: Date.UTC(year, month - 1, 1), endMs: Date.UTC(year, month, 1), date: `${m[1]}-${m[2]}-01` };
}

// ---------------------------------------------------------------------------
// Settings: rates and subscribers

/** The fee rate of a subscription in basis points (0 when never set). */
export async function getFeeRate(pool: Pool | PoolClient, subscriptionId: string): Promise<number> {
  assertUuid(subscriptionId, 'subscriptionId');
  const { rows } = await pool.query<{ rate_bp: number }>('SELECT rate_bp FROM performance_fee_rates WHERE subscription_id = $1', [subscriptionId]);
  return rows[0]?.rate_bp ?? 0;
}

/** Set a subscription's fee rate (basis points, 0..performanceFees.rateBpMax). UNKNOWN_SUBSCRIPTION when absent. */
export async function setFeeRate(pool: Pool | PoolClient, subscriptionId: string, rateBp: number): Promise<void> {
  assertUuid(subscriptionId, 'subscriptionId');
  assertRateBp(rateBp);
  const { rowCount } = await pool.query(
    `INSERT INTO performance_fee_rates (subscription_id, rate_bp)
     SELECT subscription_id, $2 FROM subscriptions WHERE subscription_id = $1
     ON CONFLICT (subscription_id) DO UPDATE SET rate_bp = EXCLUDED.rate_bp, updated_at = NOW()`,
    [subscriptionId, rateBp],
  );
  if (rowCount === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
}

export interface AssignedSubscriber {
  tokenId: string;
  subscriptionId: string;
  userId: string;
  email: string;
  /** The users row was made by this call. */
  createdUser: boolean;
}

/**
 * Name the user who pays for a receiver license (and reads its fee
 * entries): the subscriber with that email, made when there is none.
 * UNKNOWN_TOKEN for a missing or non-receiver token; INVALID_ARGUMENT when
 * the email is an admin's or provider's, or when the license already has
 * another user and a period was computed for it (its mark is that user's).
 */
export async function assignSubscriber(pool: Pool, tokenId: string, email: string): Promise<AssignedSubscriber> {
  assertUuid(tokenId, 'tokenId');
  const address = normaliseEmail(email);
  // As the admin tenant: the check below reads performance_fee_periods, under RLS (031).
  const adminUserId = await feeRunUser(pool);
  return withTenant(pool, { userId: adminUserId, role: 'admin' }, async (client) => {
    const token = await client.query<{ subscription_id: string }>(
      "SELECT subscription_id FROM license_tokens WHERE token_id = $1 AND role = 'receiver' FOR UPDATE",
      [tokenId],
    );
    if (token.rows.length === 0) throw new ConfigError('UNKNOWN_TOKEN', `no receiver license ${tokenId}`);
    const inserted = await client.query<{ user_id: string }>(
      "INSERT INTO users (email, role) VALUES ($1, 'subscriber') ON CONFLICT (email) DO NOTHING RETURNING user_id",
      [address],
    );
    const user = await client.query<{ user_id: string; role: string; erased_at: Date | null }>('SELECT user_id, role, erased_at FROM users WHERE email = $1', [address]);
    const row = user.rows[0];
    if (row === undefined || row.role !== 'subscriber' || row.erased_at !== null) invalid('that email is not a subscriber');
    const current = await client.query<{ user_id: string }>('SELECT user_id FROM receiver_subscribers WHERE token_id = $1', [tokenId]);
    if (current.rows.length > 0 && current.rows[0].user_id !== row.user_id) {
      // The admin tenant sees every period row (RLS of 031).
      const computed = await client.query('SELECT 1 FROM performance_fee_periods WHERE token_id = $1 LIMIT 1', [tokenId]);
      if (computed.rows.length > 0) invalid('fees were already computed for this license under another user: issue a new license instead');
    }
    await client.query(
      `INSERT INTO receiver_subscribers (token_id, user_id) VALUES ($1, $2)
       ON CONFLICT (token_id) DO UPDATE SET user_id = EXCLUDED.user_id, assigned_at = NOW()`,
      [tokenId, row.user_id],
    );
    return { tokenId, subscriptionId: token.rows[0].subscription_id, userId: row.user_id, email: address, createdUser: inserted.rows.length > 0 };
  });
}

/** The admin user that fee runs act as when no admin is named (made on first use). */
const feeRunUserEmail = 'performance-fees@sigplane.invalid';

async function feeRunUser(pool: Pool): Promise<string> {
  await pool.query("INSERT INTO users (email, role, display_name) VALUES ($1, 'admin', 'performance fee run') ON CONFLICT (email) DO NOTHING", [feeRunUserEmail]);
  const { rows } = await pool.query<{ user_id: string; role: string }>('SELECT user_id, role FROM users WHERE email = $1', [feeRunUserEmail]);
  if (rows[0]?.role !== 'admin') throw new Error(`${feeRunUserEmail} exists and is not an admin user`);
  return rows[0].user_id;
}

// ---------------------------------------------------------------------------
// The period run

export type FeeOutcome =
  /** Computed now: the period row and mark were written (and a FEE entry when fee > 0). */
  | 'charged'
  /** Computed by an earlier run: nothing written. */
  | 'already-charged'
  /** A later period was computed for this license: nothing written. */
  | 'later-period-charged'
  /** No user pays for this license (receiver_subscribers): nothing written. */
  | 'unassigned'
  /** Results in several or invalid currencies, or a corrupt profit: nothing written. */
  | 'invalid-results';

export interface LicenseFeeResult {
  tokenId: string;
  subscriptionId: string;
  userId: string | null;
  outcome: FeeOutcome;
  currency: string | null;
  rateBp: number;
  resultCount: number;
  cumulativeMinor: bigint;
  previousMarkMinor: bigint;
  markMinor: bigint;
  feeMinor: bigint;
  ledgerEntryId: string | null;
  /** Why, for invalid-results, later-period-charged and unassigned. */
  detail: string | null;
}

export interface ChargeOptions {
  /** "YYYY-MM": the UTC month to compute. */
  period: string;
  /** Only this subscription's licenses (default: every subscription). */
  subscriptionId?: string;
  /** users.user_id of the admin acting (created_by of the entries; default the fee-run user). */
  adminUserId?: string;
  /** The clock; a period that has not ended is refused. Default Date.now. */
  nowMs?: number;
  /** Called after each license. */
  onLicense?: (result: LicenseFeeResult) => void;
}

export interface ChargeSummary {
  period: string;
  licenses: LicenseFeeResult[];
  charged: number;
  /** Sum of the fees written now, per currency (minor units). */
  feesMinor: Record<string, bigint>;
}

/**
 * Compute `period` for every receiver license with closed results (or a
 * mark) of the subscription(s). Idempotent: a period computed before is
 * reported as already-charged and writes nothing.
 */
export async function chargePerformanceFees(pool: Pool, options: ChargeOptions): Promise<ChargeSummary> {
  const period = parsePeriod(options.period);
  const nowMs = options.nowMs ?? Date.now();
  if (period.endMs > nowMs) invalid(`period ${period.label} has not ended yet`);
  if (options.subscriptionId !== undefined) {
    assertUuid(options.subscriptionId, 'subscriptionId');
    const { rows } = await pool.query('SELECT 1 FROM subscriptions WHERE subscription_id = $1', [options.subscriptionId]);
    if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${options.subscriptionId}`);
  }
  let adminUserId = options.adminUserId;
  if (adminUserId === undefined) adminUserId = await feeRunUser(pool);
  else {
    assertUuid(adminUserId, 'adminUserId');
    const { rows } = await pool.query<{ role: string }>('SELECT role FROM users WHERE user_id = $1', [adminUserId]);
    if (rows[0]?.role !== 'admin') throw new ConfigError('UNKNOWN_USER', `no admin user ${adminUserId}`);
  }
  const end = new Date(period.endMs);
  // Receiver licenses with a closed result before the period's end, or with a mark.
  const candidates = await withTenant(pool, { userId: adminUserId, role: 'admin' }, async (client) => {
    const { rows } = await client.query<{ token_id: string; subscription_id: string }>(
      `SELECT t.token_id, t.subscription_id
         FROM license_tokens t
        WHERE t.role = 'receiver'
          AND ($1::uuid IS NULL OR t.subscription_id = $1)
          AND (EXISTS (SELECT 1 FROM execution_reports r
                        WHERE r.receiver_id = t.token_id AND r.kind IN ('close', 'reduce')
                          AND r.profit IS NOT NULL AND r.executed_at < $2)
               OR EXISTS (SELECT 1 FROM performance_fee_marks m WHERE m.token_id = t.token_id))
        ORDER BY t.subscription_id, t.created_at, t.token_id`,
      [options.subscriptionId ?? null, end],
    );
    return rows;
  });
  const summary: ChargeSummary = { period: period.label, licenses: [], charged: 0, feesMinor: {} };
  for (const candidate of candidates) {
    const result = await chargeLicense(pool, adminUserId, candidate.token_id, candidate.subscription_id, period);
    summary.licenses.push(result);
    if (result.outcome === 'charged') {
      summary.charged += 1;
      if (result.feeMinor > 0n && result.currency !== null) {
        summary.feesMinor[result.currency] = (summary.feesMinor[result.currency] ?? 0n) + result.feeMinor;
      }
    }
    options.onLicense?.(result);
  }
  return summary;
}

function emptyResult(tokenId: string, subscriptionId: string, userId: string | null, outcome: FeeOutcome, detail: string | null): LicenseFeeResult {
  return {
    tokenId,
    subscriptionId,
    userId,
    outcome,
    currency: null,
    rateBp: 0,
    resultCount: 0,
    cumulativeMinor: 0n,
    previousMarkMinor: 0n,
    markMinor: 0n,
    feeMinor: 0n,
    ledgerEntryId: null,
    detail,
  };
}

/** Closed results of one license: the WHERE both reads share ($1 license, $2 subscription). */
const closedResults = `receiver_id = $1 AND subscription_id = $2 AND kind IN ('close', 'reduce') AND profit IS NOT NULL`;

/** A license's high-water mark row (performance_fee_marks). */
interface MarkRow {
  mark_minor: string;
  currency: string;
  /** "YYYY-MM" */
  last_period: string;
  user_id: string;
}

/** What one license's period computes to, as the rows written record it. */
interface Charge {
  tokenId: string;
  subscriptionId: string;
  userId: string;
  period: Period;
  currency: string;
  rateBp: number;
  resultCount: number;
  previousMark: bigint;
  computed: PerformanceFeeOutput;
}

/**
 * One license's period, in one transaction as the admin tenant: lock the
 * license, skip it when computed, unassigned or behind its mark, check its
 * results' currency, compute the fee from its closed results, then write
 * the FEE entry (when not 0), the period row and the new mark.
 */
async function chargeLicense(pool: Pool, adminUserId: string, tokenId: string, subscriptionId: string, period: Period): Promise<LicenseFeeResult> {
  return withTenant(pool, { userId: adminUserId, role: 'admin' }, async (client) => {
    // One computation per license at a time (two runs at once serialise here).
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [lockNamespace, tokenId]);
    const userId = await subscriberOf(client, tokenId);

    const done = await computedPeriod(client, tokenId, period);
    if (done !== null) return fromPeriodRow(done, 'already-charged');
    if (userId === null) return emptyResult(tokenId, subscriptionId, null, 'unassigned', 'no subscriber user for this license (sigplane billing assign-subscriber)');
    const mark = await markOf(client, tokenId);
    if (mark !== null && mark.last_period > period.label) {
      return emptyResult(tokenId, subscriptionId, userId, 'later-period-charged', `period ${mark.last_period} was computed already`);
    }
    const currency = await resultsCurrency(client, tokenId, subscriptionId, period, mark);
    if (!currency.ok) return emptyResult(tokenId, subscriptionId, userId, 'invalid-results', currency.detail);

    const results = await closedResultsMinor(client, tokenId, subscriptionId, period, currency.code);
    const rateBp = await getFeeRate(client, subscriptionId);
    const previousMark = mark === null ? 0n : BigInt(mark.mark_minor);
    const computed = performanceFee({ cumulativeBefore: results.before, results: results.inPeriod, previousMark, rateBp });
    const charge: Charge = { tokenId, subscriptionId, userId, period, currency: currency.code, rateBp, resultCount: results.inPeriod.length, previousMark, computed };

    const ledgerEntryId = computed.fee > 0n ? await writeFeeEntry(client, charge) : null;
    const row = await writePeriod(client, charge, ledgerEntryId);
    await writeMark(client, charge);
    return fromPeriodRow(row, 'charged');
  });
}

/** The user who pays for the license, or null (receiver_subscribers). */
async function subscriberOf(client: PoolClient, tokenId: string): Promise<string | null> {
  const subscriber = await client.query<{ user_id: string }>('SELECT user_id FROM receiver_subscribers WHERE token_id = $1', [tokenId]);
  return subscriber.rows[0]?.user_id ?? null;
}

/** The period's row when it was computed already, or null. */
async function computedPeriod(client: PoolClient, tokenId: string, period: Period): Promise<PeriodRow | null> {
  const done = await client.query<PeriodRow>(`SELECT ${periodColumns} FROM performance_fee_periods WHERE token_id = $1 AND period = $2`, [tokenId, period.date]);
  return done.rows[0] ?? null;
}

async function markOf(client: PoolClient, tokenId: string): Promise<MarkRow | null> {
  const marks = await client.query<MarkRow>(
    "SELECT mark_minor::text AS mark_minor, currency, to_char(last_period, 'YYYY-MM') AS last_period, user_id FROM performance_fee_marks WHERE token_id = $1",
    [tokenId],
  );
  return marks.rows[0] ?? null;
}

/**
 * The one ISO 4217 currency of the license's closed results up to the
 * period's end (or of its mark when it has none), or why there is none: a
 * profit that is not a finite amount below executionReports.profitAbsMax,
 * several currencies, a missing one, or one that differs from the mark's.
 */
async function resultsCurrency(
  client: PoolClient,
  tokenId: string,
  subscriptionId: string,
  period: Period,
  mark: MarkRow | null,
): Promise<{ ok: true; code: string } | { ok: false; detail: string }> {
  const currencies = await client.query<{ currency: string | null; bad: number }>(
    `SELECT currency,
            count(*) FILTER (WHERE profit = 'NaN'::float8 OR abs(profit) > $4)::int AS bad
       FROM execution_reports
      WHERE ${closedResults} AND executed_at < $3
      GROUP BY currency`,
    [tokenId, subscriptionId, new Date(period.endMs), executionReports.profitAbsMax],
  );
  const names = currencies.rows.map((r) => r.currency);
  const bad = currencies.rows.reduce((n, r) => n + r.bad, 0);
  if (bad > 0) return { ok: false, detail: `${bad} closed result(s) with a profit that is not a finite amount below ${executionReports.profitAbsMax}` };
  if (names.length > 1) return { ok: false, detail: `closed results in several currencies: ${names.map(String).join(', ')}` };
  const currency = names[0] ?? mark?.currency ?? null;
  if (currency === null || !/^[A-Z]{3}$/.test(currency)) return { ok: false, detail: `account currency missing or not ISO 4217: ${String(currency)}` };
  if (mark !== null && mark.currency !== currency) return { ok: false, detail: `results in ${currency}, the mark in ${mark.currency}` };
  return { ok: true, code: currency };
}

/**
 * The license's closed results in minor units of `currency`, each rounded
 * half away from zero (numeric round): their sum before the period, and
 * the period's own in execution order.
 */
async function closedResultsMinor(
  client: PoolClient,
  tokenId: string,
  subscriptionId: string,
  period: Period,
  currency: string,
): Promise<{ before: bigint; inPeriod: bigint[] }> {
  const scale = 10n ** BigInt(minorUnitDigits(currency));
  const start = new Date(period.startMs);
  const end = new Date(period.endMs);
  const before = await client.query<{ total: string }>(
    `SELECT COALESCE(sum(round(profit::numeric * $4::numeric)), 0)::bigint::text AS total
       FROM execution_reports WHERE ${closedResults} AND executed_at < $3`,
    [tokenId, subscriptionId, start, scale.toString()],
  );
  const inPeriod = await client.query<{ minor: string }>(
    `SELECT round(profit::numeric * $5::numeric)::bigint::text AS minor
       FROM execution_reports WHERE ${closedResults} AND executed_at >= $3 AND executed_at < $4
      ORDER BY executed_at, sequence, report_id`,
    [tokenId, subscriptionId, start, end, scale.toString()],
  );
  return { before: BigInt(before.rows[0].total), inPeriod: inPeriod.rows.map((r) => BigInt(r.minor)) };
}

/** The FEE entry of the subscriber's ledger, with a description that shows the computation; its entry_id. */
async function writeFeeEntry(client: PoolClient, charge: Charge): Promise<string> {
  const { computed, currency } = charge;
  const digits = minorUnitDigits(currency);
  const description =
    `performance fee ${charge.period.label}: ${formatMinor(BigInt(charge.rateBp), 2)}% of ${formatMinor(computed.gain, digits)} ${currency} ` +
    `above the high-water mark ${formatMinor(charge.previousMark, digits)} (cumulative closed profit ${formatMinor(computed.cumulative, digits)}); license ${charge.tokenId}`;
  const entry = await client.query<{ entry_id: string }>(
    `INSERT INTO billing_ledger (user_id, subscription_id, entry_type, amount_minor, currency, description)
     VALUES ($1, $2, 'FEE', $3::bigint, $4, $5) RETURNING entry_id`,
    [charge.userId, charge.subscriptionId, computed.fee.toString(), currency, description],
  );
  return entry.rows[0].entry_id;
}

/** The period row: the license's period is computed, once (primary key (license, period)). */
async function writePeriod(client: PoolClient, charge: Charge, ledgerEntryId: string | null): Promise<PeriodRow> {
  const row = await client.query<PeriodRow>(
    `INSERT INTO performance_fee_periods (token_id, period, subscription_id, user_id, currency, rate_bp, result_count,
                                          cumulative_minor, previous_mark_minor, mark_minor, fee_minor, ledger_entry_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9::bigint, $10::bigint, $11::bigint, $12)
     RETURNING ${periodColumns}`,
    [
      charge.tokenId,
      charge.period.date,
      charge.subscriptionId,
      charge.userId,
      charge.currency,
      charge.rateBp,
      charge.resultCount,
      charge.computed.cumulative.toString(),
      charge.previousMark.toString(),
      charge.computed.mark.toString(),
      charge.computed.fee.toString(),
      ledgerEntryId,
    ],
  );
  return row.rows[0];
}

/** The license's new high-water mark and last period computed. */
async function writeMark(client: PoolClient, charge: Charge): Promise<void> {
  await client.query(
    `INSERT INTO performance_fee_marks (token_id, subscription_id, user_id, currency, mark_minor, last_period)
     VALUES ($1, $2, $3, $4, $5::bigint, $6)
     ON CONFLICT (token_id) DO UPDATE
       SET mark_minor = EXCLUDED.mark_minor, last_period = EXCLUDED.last_period, user_id = EXCLUDED.user_id, updated_at = NOW()`,
    [charge.tokenId, charge.subscriptionId, charge.userId, charge.currency, charge.computed.mark.toString(), charge.period.date],
  );
}

interface PeriodRow {
  token_id: string;
  subscription_id: string;
  user_id: string;
  currency: string;
  rate_bp: number;
  result_count: number;
  cumulative_minor: string;
  previous_mark_minor: string;
  mark_minor: string;
  fee_minor: string;
  ledger_entry_id: string | null;
}

const periodColumns = `token_id, subscription_id, user_id, currency, rate_bp, result_count, cumulative_minor::text AS cumulative_minor,
  previous_mark_minor::text AS previous_mark_minor, mark_minor::text AS mark_minor, fee_minor::text AS fee_minor, ledger_entry_id`;

function fromPeriodRow(r: PeriodRow, outcome: FeeOutcome): LicenseFeeResult {
  return {
    tokenId: r.token_id,
    subscriptionId: r.subscription_id,
    userId: r.user_id,
    outcome,
    currency: r.currency,
    rateBp: r.rate_bp,
    resultCount: r.result_count,
    cumulativeMinor: BigInt(r.cumulative_minor),
    previousMarkMinor: BigInt(r.previous_mark_minor),
    markMinor: BigInt(r.mark_minor),
    feeMinor: BigInt(r.fee_minor),
    ledgerEntryId: r.ledger_entry_id,
    detail: null,
  };
}

/** A subscriber's fee periods, read under row-level security as that user (own rows only). */
export async function readFeePeriods(pool: Pool, userId: string, role: 'subscriber' | 'provider' | 'admin' = 'subscriber'): Promise<LicenseFeeResult[]> {
  assertUuid(userId, 'userId');
  return withTenant(pool, { userId, role }, async (client) => {
    const { rows } = await client.query<PeriodRow>(`SELECT ${periodColumns} FROM performance_fee_periods ORDER BY period, token_id`);
    return rows.map((r) => fromPeriodRow(r, 'charged'));
  });
}
