/**
 * Admin API routes for copy statistics from receivers' execution reports
 * (persistence/pg/execution-report-stats.ts; docs/admin-api.md):
 *
 * | GET /admin/v1/subscriptions/:id/execution-stats | auditor | SHOW_EXECUTION_STATS |
 * | GET /admin/v1/tokens/:id/execution-stats        | auditor | SHOW_EXECUTION_STATS |
 *
 * `?from=&to=` (ISO-8601) bound executed_at; the default is the last 24
 * hours, the longest range proto/limits.ts executionReports.statsRangeMsMax.
 */
import { executionReports as reportLimits } from '@sigplane/protocol';
import { executionReportStats } from '../../persistence/pg/execution-report-stats';
import { invalidRequest } from './admin-errors';
import { queryParams, timeValue, uuidParam } from './admin-input';
import type { AdminDeps, AdminRequest, AdminResult, AdminRoute } from './admin-types';

const dayMs = 86_400_000;

async function reportStats(request: AdminRequest, deps: AdminDeps, scope: 'subscription' | 'receiver'): Promise<AdminResult> {
  const id = uuidParam(request.params[0] ?? '', scope === 'subscription' ? 'subscription id' : 'token id');
  const q = queryParams(request.query, ['from', 'to']);
  const toMs = q.to === undefined ? Date.now() : timeValue('to', q.to);
  const fromMs = q.from === undefined ? toMs - dayMs : timeValue('from', q.from);
  if (!(fromMs < toMs)) invalidRequest('from must be before to');
  if (toMs - fromMs > reportLimits.statsRangeMsMax) invalidRequest(`the range is at most ${reportLimits.statsRangeMsMax / dayMs} days`);
  if (scope === 'subscription') await deps.adminStore.getSubscription(id); // UNKNOWN_SUBSCRIPTION rather than zeros
  return { status: 200, body: await executionReportStats(deps.adminStore.pool, scope, id, fromMs, toMs) };
}

export const executionStatsRoutes: readonly AdminRoute[] = [
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions/:id/execution-stats',
    minRole: 'auditor',
    action: 'SHOW_EXECUTION_STATS',
    resource: 'subscription',
    handle: (request, deps) => reportStats(request, deps, 'subscription'),
  },
  {
    method: 'GET',
    pattern: '/admin/v1/tokens/:id/execution-stats',
    minRole: 'auditor',
    action: 'SHOW_EXECUTION_STATS',
    resource: 'license_token',
    handle: (request, deps) => reportStats(request, deps, 'receiver'),
  },
];
