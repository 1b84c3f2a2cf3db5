/**
 * The seed's audit middleware for the admin API: one audit_log row per
 * request, refused ones included (event type ADMIN_API; who, what, from
 * which address and user agent, and the status answered). The request body
 * is kept without anything personal or secret (emails and any field named
 * like a credential are replaced), cut to auditPayloadCharsMax; the path
 * is kept (ids only), never the query (it may hold an email).
 */
import { admin, auditLog } from '@sigplane/protocol';
import type { AdminPrincipal } from '../../persistence/pg/admin-store';
import type { AuditEntry } from '../../persistence/pg/audit-append';
import { isUuid } from './admin-input';
import type { AdminRoute } from './admin-types';

const redactedKey = /email|token|secret|password|key|authorization/i;

export interface RequestRecord {
  method: string;
  path: string;
  route: AdminRoute | null;
  params: string[];
  principal: AdminPrincipal | null;
  ipAddress: string | null;
  userAgent: string | null;
  body: unknown;
  status: number;
  /** The stable code of a refusal. */
  errorCode: string | null;
  errorMessage: string | null;
}

export function requestAuditEntry(r: RequestRecord): AuditEntry {
  const resourceId = r.route?.resource !== undefined && r.params[0] !== undefined && isUuid(r.params[0]) ? r.params[0].toLowerCase() : null;
  return {
    eventType: 'ADMIN_API',
    action: r.route?.action ?? 'UNKNOWN_ROUTE',
    userId: r.principal?.userId ?? null,
    resourceType: resourceId === null ? null : (r.route?.resource ?? null),
    resourceId,
    ipAddress: r.ipAddress,
    userAgent: r.userAgent === null ? null : r.userAgent.slice(0, auditLog.userAgentCharsMax),
    requestPayload: r.body === undefined ? undefined : redactedPayload(r.body),
    responseStatus: r.status,
    errorMessage: r.errorCode === null ? null : `${r.errorCode}: ${r.errorMessage ?? ''}`,
    metadata: {
      method: r.method.slice(0, 10),
      path: r.path.slice(0, admin.pathCharsMax),
      role: r.principal?.role ?? null,
      credentialId: r.principal?.credentialId ?? null,
    },
  };
}

/** The body with personal and secret fields replaced; too long a body is kept as its size only. */
function redactedPayload(body: unknown): unknown {
  const cleaned = redact(body, 0);
  const text = JSON.stringify(cleaned);
  if (text.length > admin.auditPayloadCharsMax) return { truncated: true, chars: text.length };
  return cleaned;
}

function redact(value: unknown, depth: number): unknown {
  if (depth > 8) return '[deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactedKey.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}
