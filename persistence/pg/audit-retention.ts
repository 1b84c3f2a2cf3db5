/**
 * Maintenance of the time-partitioned audit_log (migration 003): creates
 * the month partitions ahead (rows that landed in the default partition
 * move into theirs) and, with a retention, drops every month older than
 * now - retention whole (a DROP TABLE, not a slow DELETE) and deletes the
 * default partition's rows that are older. With TimescaleDB, drop_chunks
 * does the dropping.
 *
 * DDL: run as the tables' owner (`sigplane audit-log maintain`), not as
 * the application role.
 */
import type { Pool } from 'pg';
import { auditLog, SigplaneError } from '@sigplane/protocol';

export interface AuditMaintenanceOptions {
  /** Default Date.now(). */
  nowMs?: number;
  /** Default auditLog.partitionMonthsAhead. */
  monthsAhead?: number;
  /** Keep this many days; null or undefined: keep everything (only create partitions). */
  retentionDays?: number | null;
}

export interface AuditMaintenanceResult {
  /** Month partitions created. */
  created: number;
  /** Month partitions (or TimescaleDB chunks) dropped. */
  dropped: number;
  /** Rows deleted from the default partition. */
  deleted: number;
}

export class AuditRetentionError extends SigplaneError<'INVALID_ARGUMENT'> {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export async function maintainAuditLog(pool: Pool, options: AuditMaintenanceOptions = {}): Promise<AuditMaintenanceResult> {
  const nowMs = options.nowMs ?? Date.now();
  const monthsAhead = options.monthsAhead ?? auditLog.partitionMonthsAhead;
  const retentionDays = options.retentionDays ?? null;
  if (!Number.isFinite(nowMs)) throw new AuditRetentionError('nowMs must be a finite number');
  if (!Number.isInteger(monthsAhead) || monthsAhead < 0 || monthsAhead > auditLog.partitionMonthsAheadMax) {
    throw new AuditRetentionError(`monthsAhead must be 0..${auditLog.partitionMonthsAheadMax}`);
  }
  if (
    retentionDays !== null &&
    (!Number.isInteger(retentionDays) || retentionDays < auditLog.retentionDaysMin || retentionDays > auditLog.retentionDaysMax)
  ) {
    throw new AuditRetentionError(`retentionDays must be an integer in ${auditLog.retentionDaysMin}..${auditLog.retentionDaysMax}`);
  }
  const { rows } = await pool.query<{ created: number; dropped: number; deleted: string }>(
    `SELECT created, dropped, deleted
       FROM sigplane_audit_log_maintain(to_timestamp($1::float8 / 1000), $2::int, make_interval(days => $3::int))`,
    [nowMs, monthsAhead, retentionDays],
  );
  const r = rows[0];
  return { created: r.created, dropped: r.dropped, deleted: Number(r.deleted) };
}
