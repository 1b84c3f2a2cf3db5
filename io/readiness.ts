/**
 * /readyz: whether this node should be sent traffic, and why not. Ready
 * when the database answers, no shard is down for good, and the journals'
 * filesystem has room above its reserve. It also says how the shipping to
 * Postgres stands (while Postgres is unreachable to the shipper, signals
 * are still accepted, journaled and delivered: `journaling`) and how full
 * the journal disk is. A pure function of its sources; the HTTP adapter is
 * in io/http-routes.ts.
 */
import type { JournalSpaceStatus } from '../engine/journal-space';
import type { ShipperStatus } from '../persistence/shipper/shipper';

export interface ReadinessSources {
  /** Is the system of record reachable? */
  databaseReady: () => Promise<boolean>;
  /** Why a shard is down for good, or null. */
  escalated: () => Error | null;
  /** The journals' filesystem: free space against the reserve. */
  journalSpace: () => JournalSpaceStatus;
  /** The journal -> Postgres shipper's status; undefined when none runs. */
  shipperStatus: () => ShipperStatus | undefined;
}

export interface Readiness {
  ready: boolean;
  /** The JSON body /readyz answers. */
  body: string;
}

/** When the database check itself failed (threw or rejected). */
const databaseCheckFailed: Readiness = { ready: false, body: '{"ready":false,"reasons":["database check failed"]}' };

/** Readiness once the database answered `databaseReachable`. */
function readinessOf(databaseReachable: boolean, sources: ReadinessSources): Readiness {
  const reasons: string[] = [];
  if (!databaseReachable) reasons.push('database unreachable');
  if (sources.escalated() !== null) reasons.push('a shard is down');
  // The journals' filesystem: 'low' (below the reserve) and 'full' (a journal write found no space) refuse new signals.
  const space = sources.journalSpace();
  if (space.level !== 'ok') reasons.push(`journal disk ${space.level}`);
  const shipping = sources.shipperStatus();
  const body = JSON.stringify({
    ready: reasons.length === 0,
    reasons,
    // Postgres unreachable by the shipper: signals are still accepted, journaled and delivered.
    journaling: shipping === undefined ? false : !shipping.postgresUp,
    shipLagRows: shipping?.lagRows,
    shipLagSeconds: shipping?.lagSeconds,
    // 'low' or 'full' (free space, refusing); else the journals' size against --journal-budget: 'warning' as it fills, 'over' past it (still accepting).
    journalDisk: space.level !== 'ok' ? space.level : shipping?.journalDisk.level,
    journalDiskBytes: shipping?.journalDisk.bytes,
    journalDiskBudgetBytes: shipping?.journalDisk.budgetBytes,
    journalDiskFreeBytes: space.freeBytes,
    journalDiskReserveBytes: space.reserveBytes,
    journalDiskResumeBytes: space.resumeBytes,
  });
  return { ready: reasons.length === 0, body };
}

/** Readiness now: the database is asked first. */
export function checkReadiness(sources: ReadinessSources): Promise<Readiness> {
  return sources.databaseReady().then(
    (reachable) => readinessOf(reachable, sources),
    () => databaseCheckFailed,
  );
}
