/**
 * The admin API's routes: method, path, the least role allowed, the action
 * name the audit log records, and a handler that checks its input and calls
 * the stores. Handlers return data; io/admin/admin-server.ts does the HTTP.
 * docs/admin-api.md describes each one.
 */
import { admin, auditLog, control, credentials, importedMacSecret, subscriptionConfig } from '@sigplane/protocol';
import type { AdminPrincipal } from '../../persistence/pg/admin-store';
import { AdminErrorCode, AdminHttpError, invalidRequest } from './admin-errors';
import { bodyFields, integerParam, queryParams, timeValue, uuidParam } from './admin-input';
import { executionStatsRoutes } from './execution-stats-routes';
import { performanceFeeRoutes } from './performance-fees-routes';
import type { AdminRequest, AdminResult, AdminRoute } from './admin-types';

const ok = (body: unknown): AdminResult => ({ status: 200, body });
const created = (body: unknown): AdminResult => ({ status: 201, body });

/** A replaced MAC key's overlap (rotate-credentials, mac-keys): the body's minutes, or the default. */
function overlapMsOf(minutes: number | undefined): number {
  return minutes === undefined ? control.macKeyOverlapMsDefault : minutes * 60_000;
}

function subscriptionId(request: AdminRequest): string {
  return uuidParam(request.params[0] ?? '', 'subscription id');
}

export const adminRoutes: readonly AdminRoute[] = [
  {
    method: 'GET',
    pattern: '/admin/v1/whoami',
    minRole: 'auditor',
    action: 'WHOAMI',
    handle: async ({ principal }) => ok(principal),
  },
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions',
    minRole: 'auditor',
    action: 'LIST_SUBSCRIPTIONS',
    handle: async ({ query }, { adminStore }) => {
      const q = queryParams(query, ['limit', 'cursor']);
      return ok(await adminStore.listSubscriptions({ limit: integerParam(q.limit, 'limit', 1, admin.pageSizeMax), cursor: q.cursor }));
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions',
    minRole: 'operator',
    action: 'CREATE_SUBSCRIPTION',
    handle: async ({ body, audit }, { store }) => {
      const f = bodyFields(body, {
        name: { type: 'string', required: true, maxChars: subscriptionConfig.nameCharsMax },
        ownerEmail: { type: 'string', maxChars: admin.emailLengthMax },
        // Moving an existing Master EA: its id and its own MAC key (never echoed; the audit row redacts it).
        subscriptionId: { type: 'string', maxChars: 36 },
        macSecret: { type: 'string', maxChars: importedMacSecret.textCharsMax },
        // The EA's v1 secret in any format, v1 only (imported-mac-secret.ts); not a secret, so named to stay in the audit row.
        legacyV1: { type: 'boolean' },
      });
      const input = { name: f.name!, ownerEmail: f.ownerEmail, subscriptionId: f.subscriptionId && uuidParam(f.subscriptionId, 'subscriptionId'), audit };
      if (f.macSecret === undefined) {
        if (f.legacyV1 !== undefined) invalidRequest('legacyV1 goes with macSecret');
        return created(await store.createSubscription(input));
      }
      return created(await store.createSubscriptionWithMacKey({ ...input, macSecret: f.macSecret, legacyV1: f.legacyV1 }));
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions/:id',
    minRole: 'auditor',
    action: 'SHOW_SUBSCRIPTION',
    resource: 'subscription',
    handle: async (request, { adminStore }) => {
      const shown = await adminStore.getSubscription(subscriptionId(request));
      // Personal data for those who manage subscriptions only: an auditor reads the audit trail, not owners' addresses.
      if (request.principal.role === 'auditor') {
        const { ownerEmail: _withheld, ...rest } = shown;
        return ok(rest);
      }
      return ok(shown);
    },
  },
  {
    method: 'PATCH',
    pattern: '/admin/v1/subscriptions/:id/settings',
    minRole: 'operator',
    action: 'UPDATE_SETTINGS',
    resource: 'subscription',
    handle: async (request, { adminStore }) => {
      const id = subscriptionId(request);
      const patch = request.body;
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) invalidRequest('the body must be a JSON object of settings');
      return ok(await adminStore.updateSettings(id, patch as Record<string, unknown>, { audit: request.audit }));
    },
  },
  ...(['isolate', 'lift'] as const).map(
    (kind): AdminRoute => ({
      method: 'POST',
      pattern: `/admin/v1/subscriptions/:id/${kind}`,
      minRole: 'operator',
      action: kind.toUpperCase(),
      resource: 'subscription',
      handle: async (request, { store }) => {
        const id = subscriptionId(request);
        const f = bodyFields(request.body, { reason: { type: 'string', required: true, maxChars: auditLog.reasonCharsMax } });
        const opts = { reason: f.reason!, audit: request.audit };
        return ok(kind === 'isolate' ? await store.isolateSubscription(id, opts) : await store.liftIsolation(id, opts));
      },
    }),
  ),
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/rotate-credentials',
    minRole: 'operator',
    action: 'ROTATE_CREDENTIALS',
    resource: 'subscription',
    handle: async (request, { store }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, {
        overlapMinutes: { type: 'integer', min: 0, max: control.macKeyOverlapMinutesMax },
        reason: { type: 'string', maxChars: auditLog.reasonCharsMax },
      });
      return ok(await store.rotateCredentials(id, { overlapMs: overlapMsOf(f.overlapMinutes), reason: f.reason, audit: request.audit, refuseWhileOverlapOpen: true }));
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/mac-keys',
    minRole: 'operator',
    action: 'IMPORT_MAC_KEY',
    resource: 'subscription',
    handle: async (request, { store }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, {
        macSecret: { type: 'string', required: true, maxChars: importedMacSecret.textCharsMax },
        legacyV1: { type: 'boolean' },
        overlapMinutes: { type: 'integer', min: 0, max: control.macKeyOverlapMinutesMax },
        reason: { type: 'string', maxChars: auditLog.reasonCharsMax },
      });
      const opts = {
        macSecret: f.macSecret!,
        legacyV1: f.legacyV1,
        overlapMs: overlapMsOf(f.overlapMinutes),
        reason: f.reason,
        audit: request.audit,
        refuseWhileOverlapOpen: true,
      };
      return created(await store.importMacKey(id, opts));
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions/:id/tokens',
    minRole: 'auditor',
    action: 'LIST_TOKENS',
    resource: 'subscription',
    handle: async (request, { adminStore }) => {
      const id = subscriptionId(request);
      await adminStore.getSubscription(id); // UNKNOWN_SUBSCRIPTION rather than an empty list
      return ok({ items: await adminStore.listTokens(id) });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/tokens',
    minRole: 'operator',
    action: 'ISSUE_TOKEN',
    resource: 'subscription',
    handle: async (request, { store }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, {
        role: { type: 'string', maxChars: 8 },
        label: { type: 'string', maxChars: credentials.tokenLabelCharsMax },
        ttlDays: { type: 'integer', min: 1, max: credentials.tokenTtlDaysMax },
      });
      const role = f.role ?? 'receiver';
      if (role !== 'receiver' && role !== 'master') invalidRequest('role must be receiver or master');
      const opts = { label: f.label, ttlDays: f.ttlDays, audit: request.audit };
      const issued = role === 'master' ? await store.issueMasterToken(id, opts) : await store.issueReceiverToken(id, opts);
      return created({ ...issued, role, subscriptionId: id });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/tokens/:id/revoke',
    minRole: 'operator',
    action: 'REVOKE_TOKEN',
    resource: 'license_token',
    handle: async (request, { store }) => {
      const tokenId = uuidParam(request.params[0] ?? '', 'token id');
      const f = bodyFields(request.body, { reason: { type: 'string', maxChars: auditLog.reasonCharsMax } });
      return ok(await store.revokeTokenDetailed(tokenId, { reason: f.reason, audit: request.audit }));
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/subscriptions/:id/ips',
    minRole: 'auditor',
    action: 'LIST_IPS',
    resource: 'subscription',
    handle: async (request, { store, adminStore }) => {
      const id = subscriptionId(request);
      await adminStore.getSubscription(id);
      return ok({ items: await store.listAllowedIps(id) });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/ips',
    minRole: 'operator',
    action: 'ALLOW_IP',
    resource: 'subscription',
    handle: async (request, { store }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, { ip: { type: 'string', required: true, maxChars: subscriptionConfig.ipOrCidrCharsMax }, expiresAt: { type: 'time' } });
      const ipId = await store.addAllowedIp(id, f.ip!, { expiresAt: f.expiresAt === undefined ? null : new Date(f.expiresAt), audit: request.audit });
      return created({ ipId, subscriptionId: id, ip: f.ip, expiresAt: f.expiresAt === undefined ? null : new Date(f.expiresAt) });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/ips/expire',
    minRole: 'operator',
    action: 'EXPIRE_IP',
    resource: 'subscription',
    handle: async (request, { adminStore }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, { ip: { type: 'string', required: true, maxChars: subscriptionConfig.ipOrCidrCharsMax }, expiresAt: { type: 'time' } });
      return ok({ subscriptionId: id, ip: f.ip, ...(await adminStore.expireAllowedIp(id, f.ip!, f.expiresAt, { audit: request.audit })) });
    },
  },
  {
    method: 'POST',
    pattern: '/admin/v1/subscriptions/:id/ips/remove',
    minRole: 'operator',
    action: 'REMOVE_IP',
    resource: 'subscription',
    handle: async (request, { store }) => {
      const id = subscriptionId(request);
      const f = bodyFields(request.body, { ip: { type: 'string', required: true, maxChars: subscriptionConfig.ipOrCidrCharsMax } });
      if (!(await store.removeAllowedIp(id, f.ip!, { audit: request.audit }))) {
        throw new AdminHttpError(404, 'UNKNOWN_ALLOWED_IP', `${f.ip} is not on the allowlist of ${id}`);
      }
      return ok({ subscriptionId: id, ip: f.ip, removed: true });
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/audit',
    minRole: 'auditor',
    action: 'QUERY_AUDIT',
    handle: async ({ query }, { adminStore }) => {
      const q = queryParams(query, ['userId', 'eventType', 'ip', 'from', 'to', 'limit', 'cursor']);
      return ok(
        await adminStore.queryAudit({
          userId: q.userId === undefined ? undefined : uuidParam(q.userId, 'userId'),
          eventType: q.eventType,
          ip: q.ip,
          fromMs: q.from === undefined ? undefined : timeValue('from', q.from),
          toMs: q.to === undefined ? undefined : timeValue('to', q.to),
          limit: integerParam(q.limit, 'limit', 1, admin.pageSizeMax),
          cursor: q.cursor,
        }),
      );
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/billing',
    minRole: 'auditor',
    action: 'READ_BILLING',
    handle: async ({ principal, query }, { adminStore }) => {
      const q = queryParams(query, ['userId', 'subscriptionId', 'limit', 'cursor']);
      // Read under row-level security as the admin user: the admin policy shows every entry, the filters narrow it.
      return ok(
        await adminStore.readBilling(
          { userId: principal.userId, role: 'admin' },
          {
            userId: q.userId === undefined ? undefined : uuidParam(q.userId, 'userId'),
            subscriptionId: q.subscriptionId === undefined ? undefined : uuidParam(q.subscriptionId, 'subscriptionId'),
            limit: integerParam(q.limit, 'limit', 1, admin.pageSizeMax),
            cursor: q.cursor,
          },
        ),
      );
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/users',
    minRole: 'admin',
    action: 'FIND_USER',
    handle: async ({ query }, { adminStore }) => {
      const q = queryParams(query, ['email']);
      if (q.email === undefined) invalidRequest('email is required');
      const user = await adminStore.findUserByEmail(q.email);
      if (user === null) throw new AdminHttpError(404, 'UNKNOWN_USER', 'no user with that email');
      return ok(user);
    },
  },
  {
    method: 'GET',
    pattern: '/admin/v1/users/:id/export',
    minRole: 'admin',
    action: 'GDPR_EXPORT',
    resource: 'user',
    handle: async (request, { adminStore }) => ok(await adminStore.exportUser(uuidParam(request.params[0] ?? '', 'user id'))),
  },
  {
    method: 'POST',
    pattern: '/admin/v1/users/:id/erase',
    minRole: 'admin',
    action: 'GDPR_ERASE',
    resource: 'user',
    handle: async (request, { adminStore }) => {
      const userId = uuidParam(request.params[0] ?? '', 'user id');
      const f = bodyFields(request.body, { reason: { type: 'string', required: true, maxChars: auditLog.reasonCharsMax } });
      return ok(await adminStore.eraseUser(userId, { reason: f.reason!, audit: request.audit }));
    },
  },
];

/** Every route the admin API serves: these, the performance fees' and the execution statistics'. */
const allRoutes: readonly AdminRoute[] = [...adminRoutes, ...performanceFeeRoutes, ...executionStatsRoutes];

export type RouteMatch = { route: AdminRoute; params: string[] } | { route: null; allowed: string[] };

/** The route of a method and path; when none, the methods the path allows (empty: unknown path). */
export function matchRoute(method: string, path: string): RouteMatch {
  const segments = path.split('/');
  const allowed: string[] = [];
  for (const route of allRoutes) {
    const pattern = route.pattern.split('/');
    if (pattern.length !== segments.length) continue;
    const params: string[] = [];
    let matches = true;
    for (let i = 0; i < pattern.length && matches; i++) {
      if (pattern[i].startsWith(':')) {
        if (segments[i].length === 0) matches = false;
        else params.push(decodeURIComponentSafe(segments[i]));
      } else if (pattern[i] !== segments[i]) matches = false;
    }
    if (!matches) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return { route: null, allowed };
}

function decodeURIComponentSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function forbidden(principal: AdminPrincipal, route: AdminRoute): AdminHttpError {
  return new AdminHttpError(403, AdminErrorCode.FORBIDDEN, `role ${principal.role} may not ${route.action} (needs ${route.minRole})`);
}
