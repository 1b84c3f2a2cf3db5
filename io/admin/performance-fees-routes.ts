/**
 * Admin API routes for performance fees (persistence/pg/performance-fees.ts,
 * docs/receivers.md "Performance fees", docs/admin-api.md). They act with
 * the admin store's pool (the sigplane_app role: the run acts as the admin
 * tenant, so row-level security lets it write the ledger).
 *
 * | method and path | role | action |
 * | POST /admin/v1/billing/performance-fees | admin | CHARGE_PERFORMANCE_FEES | {period: "YYYY-MM", subscriptionId?} -> the run's summary |
 * | GET /admin/v1/subscriptions/:id/performance-fee-rate | auditor | SHOW_PERFORMANCE_FEE_RATE | {subscriptionId, rateBp} |
 * | PATCH /admin/v1/subscriptions/:id/performance-fee-rate | admin | SET_PERFORMANCE_FEE_RATE | {rateBp} (0..5000) -> {subscriptionId, rateBp} |
 * | POST /admin/v1/tokens/:id/subscriber | admin | ASSIGN_SUBSCRIBER | {email} -> {tokenId, subscriptionId, userId, createdUser} |
 */
import type { Pool } from 'pg';
import { admin, performanceFees } from '@sigplane/protocol';
import { ConfigError } from '../../persistence/pg/config-errors';
import {
  assignSubscriber,
  chargePerformanceFees,
  getFeeRate,
  setFeeRate,
  type LicenseFeeResult,
} from '../../persistence/pg/performance-fees';
import { bodyFields, uuidParam } from './admin-input';
import type { AdminResult, AdminRoute } from './admin-types';

const ok = (body: unknown): AdminResult => ({ status: 200, body });

/** Amounts as decimal strings (JSON has no bigint). */
function licenseJson(r: LicenseFeeResult): Record<string, unknown> {
  return {
    tokenId: r.tokenId,
    subscriptionId: r.subscriptionId,
    userId: r.userId,
    outcome: r.outcome,
    currency: r.currency,
    rateBp: r.rateBp,
    resultCount: r.resultCount,
    cumulativeMinor: r.cumulativeMinor.toString(),
    previousMarkMinor: r.previousMarkMinor.toString(),
    markMinor: r.markMinor.toString(),
    feeMinor: r.feeMinor.toString(),
    ledgerEntryId: r.ledgerEntryId,
    detail: r.detail,
  };
}

async function knownSubscription(pool: Pool, subscriptionId: string): Promise<void> {
  const { rows } = await pool.query('SELECT 1 FROM subscriptions WHERE subscription_id = $1', [subscriptionId]);
  if (rows.length === 0) throw new ConfigError('UNKNOWN_SUBSCRIPTION', `no subscription ${subscriptionId}`);
}

export const performanceFeeRoutes: readonly AdminRoute[] = [
  {
    method: 'POST',
    pattern: '/admin/v1/billing/performance-fees',
    minRole: 'admin',
    action: 'CHARGE_PERFORMANCE_FEES',
    handle: async ({ body, principal }, { adminStore: { pool } }) => {
      const fields = bodyFields(body, {
        period: { type: 'string', required: true, maxChars: 7 },
        subscriptionId: { type: 'string', maxChars: 36 },
      });
      const subscriptionId = fields.subscriptionId === undefined ? undefined : uuidParam(fields.subscriptionId, 'subscriptionId');
      // The admin user acts: created_by of the entries, computed_by of the periods.
      const summary = await chargePerformanceFees(pool, { period: fields.period as string, subscriptionId, adminUserId: principal.userId });
      return ok({
        period: summary.period,
        charged: summary.charged,
        feesMinor: Object.fromEntries(Object.entries(summary.feesMinor).map(([c, v]) => [c, v.toString()])),
        licenses: summary.licenses.map(licenseJson),
      });
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions/:id/performance-fee-rate',
    minRole: 'auditor',
    action: 'SHOW_PERFORMANCE_FEE_RATE',
    resource: 'subscription',
    handle: async ({ params }, { adminStore: { pool } }) => {
      const subscriptionId = uuidParam(params[0] ?? '', 'subscription id');
      await knownSubscription(pool, subscriptionId);
      return ok({ subscriptionId, rateBp: await getFeeRate(pool, subscriptionId) });
    },
  },
  {
    method: 'PATCH',
    pattern: '/admin/v1/subscriptions/:id/performance-fee-rate',
    minRole: 'admin',
    action: 'SET_PERFORMANCE_FEE_RATE',
    resource: 'subscription',
    handle: async ({ params, body }, { adminStore: { pool } }) => {
      const subscriptionId = uuidParam(params[0] ?? '', 'subscription id');
      const fields = bodyFields(body, { rateBp: { type: 'integer', required: true, min: 0, max: performanceFees.rateBpMax } });
      await setFeeRate(pool, subscriptionId, fields.rateBp as number);
      return ok({ subscriptionId, rateBp: await getFeeRate(pool, subscriptionId) });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/tokens/:id/subscriber',
    minRole: 'admin',
    action: 'ASSIGN_SUBSCRIBER',
    resource: 'license_token',
    handle: async ({ params, body }, { adminStore: { pool } }) => {
      const tokenId = uuidParam(params[0] ?? '', 'token id');
      const fields = bodyFields(body, { email: { type: 'string', required: true, maxChars: admin.emailLengthMax } });
      const assigned = await assignSubscriber(pool, tokenId, fields.email as string);
      return ok({ tokenId: assigned.tokenId, subscriptionId: assigned.subscriptionId, userId: assigned.userId, createdUser: assigned.createdUser });
    },
  },
];
