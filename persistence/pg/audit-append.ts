/**
 * Rows appended to audit_log by the configuration stores: one per
 * configuration change made by a named actor (the CLI names itself; the
 * admin API writes its own row per request instead), per credential
 * revocation, rotation and import, and per incident action. Appended in the
 * transaction of the change it records, so a change and its row commit
 * together. Never a secret in a row; reads are audit-query.ts's.
 *
 * Wire text (user agents, error texts, JSON strings) is kept as Postgres can
 * store it; the rest is checked and refused (ConfigError INVALID_ARGUMENT).
 */
import type { Pool, PoolClient } from 'pg';
import { auditLog } from '@sigplane/protocol';
import { normaliseIp } from './ip-address';
import { assertText, assertUuid, invalid, ts } from './store-checks';

export interface AuditEntry {
  eventType: string;
  action: string;
  userId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  requestPayload?: unknown;
  responseStatus?: number | null;
  errorMessage?: string | null;
  metadata?: Record<string, unknown> | null;
  /** Default: the store's clock. */
  eventTimeMs?: number;
}

/** Who did an audited action, for the audit row (the CLI has no admin user yet: metadata says who ran it). */
export interface AuditContext {
  userId?: string | null;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Merged into the row's metadata (e.g. { via: 'cli', osUser }). */
  metadata?: Record<string, unknown>;
}

/** One audited change (configuration, credential, incident action, erasure), as its audit row names it. */
export interface AuditedChange {
  eventType: 'CONFIG' | 'CREDENTIAL' | 'INCIDENT' | 'GDPR';
  action: string;
  resourceType: 'subscription' | 'license_token' | 'user';
  resourceId: string;
  /** What changed (ids, names, addresses, settings, the reason): never a secret or an email. */
  details: Record<string, unknown>;
}

export function auditedChange(
  eventType: AuditedChange['eventType'],
  action: string,
  resourceType: AuditedChange['resourceType'],
  resourceId: string,
  details: Record<string, unknown>,
): AuditedChange {
  return { eventType, action, resourceType, resourceId, details };
}

/** The audit_log entry of a change made by `audit`'s actor (none named: no user, address or agent). */
export function auditedChangeEntry(audit: AuditContext | undefined, change: AuditedChange): AuditEntry {
  return {
    userId: audit?.userId ?? null,
    ipAddress: audit?.ipAddress ?? null,
    userAgent: audit?.userAgent ?? null,
    eventType: change.eventType,
    action: change.action,
    resourceType: change.resourceType,
    resourceId: change.resourceId,
    metadata: { ...audit?.metadata, ...change.details },
  };
}

/**
 * Wire text kept for the audit (user agents, error texts, JSON strings):
 * what Postgres cannot store, NUL and unpaired UTF-16 surrogates, becomes
 * U+FFFD rather than failing the audited action.
 */
function withoutNul(text: string): string {
  return text.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** JSON for a jsonb column: jsonb refuses \u0000 (22P05) and unpaired surrogate escapes (22P02) in strings. */
function jsonbText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? withoutNul(v) : v));
}

/**
 * Append `entry` to audit_log (inside the caller's transaction when `q` is
 * its client); returns log_id. Without `eventTimeMs` the row takes `nowMs()`.
 */
export async function appendAudit(q: Pool | PoolClient, entry: AuditEntry, nowMs: () => number): Promise<string> {
  assertText(entry.eventType, 'eventType', auditLog.shortTextCharsMax);
  assertText(entry.action, 'action', auditLog.shortTextCharsMax);
  if (!entry.eventType || !entry.action) invalid('audit: eventType and action are required');
  assertText(entry.resourceType, 'resourceType', auditLog.shortTextCharsMax);
  if (entry.userId != null) assertUuid(entry.userId, 'userId');
  if (entry.resourceId != null) assertUuid(entry.resourceId, 'resourceId');
  let ip: string | null = null;
  if (entry.ipAddress != null) {
    ip = normaliseIp(entry.ipAddress);
    if (ip === null) invalid('audit: ipAddress is not an IP address');
  }
  if (entry.responseStatus != null && !Number.isInteger(entry.responseStatus)) invalid('audit: responseStatus must be an integer');
  const userAgent = entry.userAgent == null ? null : withoutNul(String(entry.userAgent).slice(0, auditLog.userAgentCharsMax));
  const errorMessage = entry.errorMessage == null ? null : withoutNul(String(entry.errorMessage).slice(0, auditLog.errorMessageCharsMax));
  const { rows } = await q.query<{ log_id: string }>(
    `INSERT INTO audit_log (event_time, user_id, event_type, resource_type, resource_id, action, ip_address,
                            user_agent, request_payload, response_status, error_message, metadata)
     VALUES (${ts(1)}, $2, $3, $4, $5, $6, $7::inet, $8, $9::jsonb, $10, $11, $12::jsonb)
     RETURNING log_id`,
    [
      entry.eventTimeMs ?? nowMs(),
      entry.userId ?? null,
      entry.eventType,
      entry.resourceType ?? null,
      entry.resourceId ?? null,
      entry.action,
      ip,
      userAgent,
      entry.requestPayload === undefined ? null : jsonbText(entry.requestPayload),
      entry.responseStatus ?? null,
      errorMessage,
      entry.metadata == null ? null : jsonbText(entry.metadata),
    ],
  );
  return rows[0].log_id;
}

/** The audit row of `change`, at `nowMs`, in the change's transaction (`client`); its log_id. */
export async function appendChangeAudit(client: PoolClient, audit: AuditContext | undefined, change: AuditedChange, nowMs: number): Promise<string> {
  return appendAudit(client, { ...auditedChangeEntry(audit, change), eventTimeMs: nowMs }, () => nowMs);
}

/**
 * The audit row of a configuration change, in the change's transaction,
 * when the caller says who acts (`audit`: the CLI does; the admin API
 * writes its own row per request instead).
 */
export async function auditChange(client: PoolClient, audit: AuditContext | undefined, change: AuditedChange, nowMs: number): Promise<void> {
  if (audit === undefined) return;
  await appendChangeAudit(client, audit, change, nowMs);
}
