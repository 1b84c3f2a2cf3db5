/**
 * What the shipper reports: plain data, posted from the shipper thread to
 * the I/O thread (structured clone), read by /readyz and /metrics.
 */
import type { ThreadMemory } from '../thread-memory';
import { shipTableNames, type ShipTableName } from './journal-rows';

export interface ShipFailure {
  /** ShipErrorCode, JournalErrorCode, an SQLSTATE or a socket error code. */
  code: string;
  message: string;
  atMs: number;
}

/** What journal retention deleted (rows) and wrote (checkpoints). */
export interface PruneCounts {
  signals: number;
  states: number;
  securityEvents: number;
  executionReports: number;
  checkpoints: number;
}

export function emptyPruneCounts(): PruneCounts {
  return { signals: 0, states: 0, securityEvents: 0, executionReports: 0, checkpoints: 0 };
}

export interface ShipTableStatus {
  /** Highest journal_id known committed in Postgres (0 until Postgres was reached). */
  watermark: number;
  /** Journal rows after the watermark. */
  lagRows: number;
  /** When the oldest of them was made (cursors: first seen unshipped), or null when none. */
  oldestUnshippedAtMs: number | null;
  /** Why the last attempt failed (cleared by the next success). */
  error: ShipFailure | null;
}

export interface ShipShardStatus {
  shard: number;
  /** 'missing': no journal file yet (the shard creates it). */
  journal: 'open' | 'missing' | 'error';
  /** Disk the journal uses: its pages in use plus its WAL (freed pages are reused, so they do not count). */
  journalBytes: number;
  tables: Record<ShipTableName, ShipTableStatus>;
}

/**
 * The journals' disk against their budget. 'warning' from
 * journalRetention.diskBudgetWarnRatio of the budget, 'over' past it. Over
 * budget the signal path still accepts and acks (refusing would stop
 * trading because Postgres is down): the budget is the operator's alarm.
 */
export type JournalDiskLevel = 'ok' | 'warning' | 'over';

export interface JournalDiskStatus {
  /** All shard journals of the node together. */
  bytes: number;
  budgetBytes: number;
  /** bytes / budgetBytes. */
  fillRatio: number;
  level: JournalDiskLevel;
}

export interface ShipperStatus {
  /** The shipper thread is running (false while it is being restarted, and after stop). */
  running: boolean;
  /** The last connection attempt or batch reached Postgres. */
  postgresUp: boolean;
  /** Watermarks were read from Postgres at least once; until then lag counts every journal row. */
  watermarksKnown: boolean;
  /** Journal rows not yet in Postgres, all shards and tables. */
  lagRows: number;
  /** Age of the oldest of them (0 when none). */
  lagSeconds: number;
  /** When a batch last committed (ms), or null. */
  lastShippedAtMs: number | null;
  /**
   * Journal rows in committed batches since startShipper (counted by the
   * host from each batch, so they hold across thread restarts). A batch that
   * committed as its thread died is in Postgres but not in these counts.
   */
  shippedRows: number;
  /** Rows written into Postgres since start (shippedRows minus the replays). */
  insertedRows: number;
  /** Signals whose key was already in Postgres with other content (never overwritten). */
  conflictingRows: number;
  batches: number;
  /** Times the shipper thread died and was restarted. */
  restarts: number;
  lastError: ShipFailure | null;
  journalDisk: JournalDiskStatus;
  /** Journal rows deleted after shipping, and checkpoints written, since the shipper thread started. */
  pruned: PruneCounts;
  /** Why the last prune pass failed (cleared by the next success), or null. */
  pruneError: ShipFailure | null;
  shards: ShipShardStatus[];
  atMs: number;
  /** The shipper thread's own memory, added by the thread to each report (/metrics). */
  memory?: ThreadMemory;
}

function emptyTableStatus(): ShipTableStatus {
  return { watermark: 0, lagRows: 0, oldestUnshippedAtMs: null, error: null };
}

function emptyShardStatus(shard: number): ShipShardStatus {
  const tables = Object.fromEntries(shipTableNames.map((t) => [t, emptyTableStatus()])) as Record<ShipTableName, ShipTableStatus>;
  return { shard, journal: 'missing', journalBytes: 0, tables };
}

export function journalDiskLevel(fillRatio: number, warnRatio: number): JournalDiskLevel {
  if (fillRatio > 1) return 'over';
  return fillRatio >= warnRatio ? 'warning' : 'ok';
}

export function initialStatus(shardCount: number, nowMs: number, budgetBytes = 1): ShipperStatus {
  return {
    running: false,
    postgresUp: false,
    watermarksKnown: false,
    lagRows: 0,
    lagSeconds: 0,
    lastShippedAtMs: null,
    shippedRows: 0,
    insertedRows: 0,
    conflictingRows: 0,
    batches: 0,
    restarts: 0,
    lastError: null,
    journalDisk: { bytes: 0, budgetBytes, fillRatio: 0, level: 'ok' },
    pruned: emptyPruneCounts(),
    pruneError: null,
    shards: Array.from({ length: shardCount }, (_, i) => emptyShardStatus(i)),
    atMs: nowMs,
  };
}
