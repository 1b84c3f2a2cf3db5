/**
 * The shapes every admin route shares: what a handler gets (the request,
 * the stores) and gives back. The route table (admin-routes.ts) and the
 * route plugins it gathers (execution-stats-routes.ts,
 * performance-fees-routes.ts) import them from here, so neither imports
 * the other's file.
 */
import type { AdminPrincipal, AdminRole, AdminStore } from '../../persistence/pg/admin-store';
import type { AuditContext } from '../../persistence/pg/audit-append';
import type { ConfigStore } from '../../persistence/pg/config-store';

export interface AdminDeps {
  store: ConfigStore;
  adminStore: AdminStore;
}

export interface AdminRequest {
  principal: AdminPrincipal;
  /** Path parameters, in the order of the pattern's `:name` segments. */
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
  /** Who acts, for the audit rows the stores write. */
  audit: AuditContext;
}

export interface AdminResult {
  status: 200 | 201;
  body: unknown;
}

export type ResourceType = 'subscription' | 'license_token' | 'user';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH';
  /** Segments; ':x' matches one segment. */
  pattern: string;
  minRole: AdminRole;
  /** audit_log.action (at most 50 characters). */
  action: string;
  /** What the first path parameter names (audit_log.resource_type / resource_id). */
  resource?: ResourceType;
  handle(request: AdminRequest, deps: AdminDeps): Promise<AdminResult>;
}
