/**
 * `sigplane billing read --user ID`: a user's billing ledger entries,
 * newest first, one page (JSON), read under row-level security as that
 * user (persistence/pg/tenant.ts withTenant): the ledger shows them their
 * own entries only. The admin API's GET /admin/v1/billing reads as the
 * admin instead (every entry, narrowed by its filters).
 *
 * Performance fees (persistence/pg/performance-fees.ts, docs/receivers.md):
 *   sigplane billing charge-fees --period YYYY-MM [--subscription ID]
 *   sigplane billing fee-rate --subscription ID [--percent P]
 *   sigplane billing assign-subscriber --token-id ID --email E
 */
import { admin, performanceFees } from '@sigplane/protocol';
import { ConfigError } from '../persistence/pg/config-errors';
import { withTransaction } from '../persistence/pg/pool';
import {
  assignSubscriber,
  chargePerformanceFees,
  formatMinor,
  getFeeRate,
  minorUnitDigits,
  parsePeriod,
  setFeeRate,
  type LicenseFeeResult,
} from '../persistence/pg/performance-fees';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, uuidOption } from './context';
import { integerOption, printJson, runAction, withAdminContext, type ActionTable } from './admin-context';

const readSpec: CommandSpec = {
  usage: 'sigplane billing read --user ID [options]',
  summary: "A user's billing ledger entries, newest first, one page (JSON with items and nextCursor), read as that user under row-level security.",
  options: {
    user: { type: 'string', help: 'user id' },
    subscription: { type: 'string', help: 'only entries of this subscription' },
    limit: { type: 'string', help: `rows per page, 1..${admin.pageSizeMax}`, default: String(admin.pageSizeDefault) },
    cursor: { type: 'string', help: 'nextCursor of the previous page' },
    data: dataOption,
  },
};

const chargeSpec: CommandSpec = {
  usage: 'sigplane billing charge-fees --period YYYY-MM [--subscription ID]',
  summary:
    'Performance fees of a UTC month, per receiver license, with a high-water mark: fee = rate x max(0, cumulative closed profit at the month\'s end - mark), ' +
    'written as FEE ledger entries of the license\'s subscriber. A month computed before is not charged again. One line per license, then a summary.',
  options: {
    period: { type: 'string', help: 'the month (UTC) to charge, YYYY-MM; it must have ended' },
    subscription: { type: 'string', help: 'only this subscription (default: every subscription)' },
    'admin-user': { type: 'string', help: 'users.user_id of the admin acting (default: the performance-fees@sigplane.invalid run user)' },
    data: dataOption,
  },
};

const rateSpec: CommandSpec = {
  usage: 'sigplane billing fee-rate --subscription ID [--percent P]',
  summary: `Show, or with --percent set, the performance fee rate of a subscription (0 = no fee, the default; at most ${performanceFees.rateBpMax / 100}%, two decimals). Applies from the next period charged.`,
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    percent: { type: 'string', help: 'the new rate in percent, e.g. 20 or 12.5' },
    data: dataOption,
  },
};

const assignSpec: CommandSpec = {
  usage: 'sigplane billing assign-subscriber --token-id ID --email E',
  summary: 'Name the subscriber who pays the performance fees of a receiver license (and reads them): the subscriber user with that email, made when missing.',
  options: {
    'token-id': { type: 'string', help: 'the receiver license (token_id)' },
    email: { type: 'string', help: "the subscriber's email" },
    data: dataOption,
  },
};

const actions: ActionTable = {
  read: { spec: readSpec, run: read },
  'charge-fees': { spec: chargeSpec, run: chargeFees },
  'fee-rate': { spec: rateSpec, run: feeRate },
  'assign-subscriber': { spec: assignSpec, run: assign },
};

export function billingCommand(argv: string[]): Promise<void> {
  return runAction('billing', actions, argv);
}

async function read(argv: string[]): Promise<void> {
  const values = parseCommand(readSpec, argv);
  if (values === null) return;
  const userId = uuidOption(required(values, 'user', readSpec), 'user');
  const subscriptionId = values.subscription === undefined ? undefined : uuidOption(values.subscription as string, 'subscription');
  const limit = integerOption(values.limit, 'limit', 1, admin.pageSizeMax);
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const role = await adminStore.userRole(userId);
    printJson(await adminStore.readBilling({ userId, role }, { userId, subscriptionId, limit, cursor: values.cursor as string | undefined }));
  });
}

/** A period option: YYYY-MM of a month that has ended (else a usage error, exit 2). */
function periodOption(value: string, nowMs: number): string {
  let period;
  try {
    period = parsePeriod(value);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--period: ${error.message}`);
    throw error;
  }
  if (period.endMs > nowMs) throw new UsageError(`--period ${period.label} has not ended yet: charge a month once it is over`);
  return period.label;
}

/** --percent as basis points: 0..50 with at most two decimals. */
function percentOption(value: string): number {
  const m = /^(\d{1,2})(?:\.(\d{1,2}))?$/.exec(value);
  const bp = m === null ? Number.NaN : Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (!Number.isInteger(bp) || bp > performanceFees.rateBpMax) {
    throw new UsageError(`--percent must be 0..${performanceFees.rateBpMax / 100} with at most two decimals, got ${value}`);
  }
  return bp;
}

function licenseLine(r: LicenseFeeResult): string {
  const who = `license ${r.tokenId} (subscription ${r.subscriptionId}, subscriber ${r.userId ?? '-'})`;
  if (r.currency === null) return `${who}: ${r.outcome}${r.detail === null ? '' : `: ${r.detail}`}`;
  const d = minorUnitDigits(r.currency);
  const money = (v: bigint): string => `${formatMinor(v, d)} ${r.currency}`;
  return (
    `${who}: ${r.outcome}: ${r.resultCount} closed result(s) in the period, cumulative ${money(r.cumulativeMinor)}, ` +
    `mark ${money(r.previousMarkMinor)} -> ${money(r.markMinor)}, rate ${formatMinor(BigInt(r.rateBp), 2)}%, fee ${money(r.feeMinor)}`
  );
}

async function chargeFees(argv: string[]): Promise<void> {
  const values = parseCommand(chargeSpec, argv);
  if (values === null) return;
  const period = periodOption(required(values, 'period', chargeSpec), Date.now());
  const subscriptionId = values.subscription === undefined ? undefined : uuidOption(values.subscription as string, 'subscription');
  const adminUserId = values['admin-user'] === undefined ? undefined : uuidOption(values['admin-user'] as string, 'admin-user');
  await withAdminContext(values.data as string, async ({ database, store }) => {
    process.stdout.write(`performance fees ${period}${subscriptionId === undefined ? '' : ` of subscription ${subscriptionId}`}\n`);
    const summary = await chargePerformanceFees(database.pool, {
      period,
      subscriptionId,
      adminUserId,
      onLicense: (r) => process.stdout.write(`${licenseLine(r)}\n`),
    });
    const count = (outcome: string): number => summary.licenses.filter((r) => r.outcome === outcome).length;
    const fees = Object.entries(summary.feesMinor).map(([c, v]) => `${formatMinor(v, minorUnitDigits(c))} ${c}`);
    process.stdout.write(
      `done: ${summary.licenses.length} license(s), ${summary.charged} charged now, ${count('already-charged')} already charged, ` +
        `${count('unassigned')} unassigned, ${count('later-period-charged')} past this period, ${count('invalid-results')} with invalid results; ` +
        `fees written: ${fees.length === 0 ? 'none' : fees.join(', ')}\n`,
    );
    await store.audit({
      eventType: 'BILLING',
      action: 'CHARGE_PERFORMANCE_FEES',
      userId: adminUserId ?? null,
      resourceType: subscriptionId === undefined ? null : 'subscription',
      resourceId: subscriptionId ?? null,
      metadata: {
        ...cliAuditContext().metadata,
        period,
        licenses: summary.licenses.length,
        charged: summary.charged,
        feesMinor: Object.fromEntries(Object.entries(summary.feesMinor).map(([c, v]) => [c, v.toString()])),
      },
    });
    if (count('invalid-results') > 0) process.exitCode = 1;
  });
}

async function feeRate(argv: string[]): Promise<void> {
  const values = parseCommand(rateSpec, argv);
  if (values === null) return;
  const subscriptionId = uuidOption(required(values, 'subscription', rateSpec), 'subscription');
  const rateBp = values.percent === undefined ? undefined : percentOption(values.percent as string);
  await withAdminContext(values.data as string, async ({ database, store }) => {
    const pool = database.pool;
    if (rateBp !== undefined) {
      // The rate and its audit row: one transaction, as the configuration commands do.
      await withTransaction(pool, async (client) => {
        await setFeeRate(client, subscriptionId, rateBp);
        await store.audit(
          {
            eventType: 'BILLING',
            action: 'SET_PERFORMANCE_FEE_RATE',
            resourceType: 'subscription',
            resourceId: subscriptionId,
            metadata: { ...cliAuditContext().metadata, rateBp },
          },
          client,
        );
      });
    } else {
      const { rows } = await pool.query('SELECT 1 FROM subscriptions WHERE subscription_id = $1', [subscriptionId]);
      if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
    }
    const bp = await getFeeRate(pool, subscriptionId);
    printJson({ subscriptionId, rateBp: bp, percent: formatMinor(BigInt(bp), 2) });
  });
}

async function assign(argv: string[]): Promise<void> {
  const values = parseCommand(assignSpec, argv);
  if (values === null) return;
  const tokenId = uuidOption(required(values, 'token-id', assignSpec), 'token-id');
  const email = required(values, 'email', assignSpec);
  await withAdminContext(values.data as string, async ({ database, store }) => {
    const assigned = await assignSubscriber(database.pool, tokenId, email);
    await store.audit({
      eventType: 'BILLING',
      action: 'ASSIGN_SUBSCRIBER',
      userId: null,
      resourceType: 'license_token',
      resourceId: tokenId,
      metadata: { ...cliAuditContext().metadata, subscriberUserId: assigned.userId, createdUser: assigned.createdUser },
    });
    printJson({ tokenId: assigned.tokenId, subscriptionId: assigned.subscriptionId, userId: assigned.userId, createdUser: assigned.createdUser });
  });
}
