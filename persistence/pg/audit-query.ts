/**
 * Audit log queries for the admin API and `sigplane audit query`: filtered
 * by user, event type, IP (an address or a network) and time range, newest
 * first, in keyset pages on (event_time, log_id).
 */
import type { Pool } from 'pg';
import { parseIpOrCidr } from './ip-address';
import { assertUuid, decodeCursor, encodeCursor, invalid, isBadTimestamp, pageSize, type Page } from './store-checks';

const eventTypePattern = /^[A-Z][A-Z0-9_]{0,49}$/;

export interface AuditFilter {
  userId?: string;
  eventType?: string;
  /** An address, or a network: rows whose address is inside it. */
  ip?: string;
  fromMs?: number;
  toMs?: number;
  limit?: number;
  cursor?: string;
}

export interface AuditRow {
  logId: string;
  eventTime: Date;
  userId: string | null;
  eventType: string;
  resourceType: string | null;
  resourceId: string | null;
  action: string;
  ipAddress: string | null;
  userAgent: string | null;
  requestPayload: unknown;
  responseStatus: number | null;
  errorMessage: string | null;
  metadata: unknown;
}

/** Newest first, filtered, one page. */
export async function queryAudit(pool: Pool, filter: AuditFilter): Promise<Page<AuditRow>> {
  const limit = pageSize(filter.limit);
  if (filter.userId !== undefined) assertUuid(filter.userId, 'userId');
  if (filter.eventType !== undefined && !eventTypePattern.test(filter.eventType)) invalid('eventType must match [A-Z][A-Z0-9_]{0,49}');
  const ip = filter.ip === undefined ? null : parseIpOrCidr(filter.ip);
  for (const [name, value] of [['from', filter.fromMs], ['to', filter.toMs]] as const) {
    if (value !== undefined && !Number.isFinite(value)) invalid(`${name} is not a valid time`);
  }
  const before = filter.cursor === undefined ? null : decodeCursor(filter.cursor);
  try {
    const { rows } = await pool.query<{
      log_id: string;
      event_time: Date;
      event_text: string;
      user_id: string | null;
      event_type: string;
      resource_type: string | null;
      resource_id: string | null;
      action: string;
      ip_address: string | null;
      user_agent: string | null;
      request_payload: unknown;
      response_status: number | null;
      error_message: string | null;
      metadata: unknown;
    }>(
      `SELECT log_id, event_time, event_time::text AS event_text, user_id, event_type, resource_type, resource_id,
              action, host(ip_address) AS ip_address, user_agent, request_payload, response_status, error_message, metadata
         FROM audit_log
        WHERE ($1::uuid IS NULL OR user_id = $1)
          AND ($2::text IS NULL OR event_type = $2)
          AND ($3::inet IS NULL OR ip_address <<= $3::inet)
          AND ($4::float8 IS NULL OR event_time >= to_timestamp($4::float8 / 1000))
          AND ($5::float8 IS NULL OR event_time < to_timestamp($5::float8 / 1000))
          AND ($6::timestamptz IS NULL OR (event_time, log_id) < ($6::timestamptz, $7::uuid))
        ORDER BY event_time DESC, log_id DESC
        LIMIT $8`,
      [
        filter.userId ?? null,
        filter.eventType ?? null,
        ip,
        filter.fromMs ?? null,
        filter.toMs ?? null,
        before?.time ?? null,
        before?.id ?? null,
        limit + 1,
      ],
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({
        logId: r.log_id,
        eventTime: r.event_time,
        userId: r.user_id,
        eventType: r.event_type,
        resourceType: r.resource_type,
        resourceId: r.resource_id,
        action: r.action,
        ipAddress: r.ip_address,
        userAgent: r.user_agent,
        requestPayload: r.request_payload,
        responseStatus: r.response_status,
        errorMessage: r.error_message,
        metadata: r.metadata,
      })),
      nextCursor: more && last !== undefined ? encodeCursor(last.event_text, last.log_id) : null,
    };
  } catch (error) {
    if (isBadTimestamp(error)) invalid('bad cursor');
    throw error;
  }
}
