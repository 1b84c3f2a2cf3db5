/**
 * The shipper thread: runs one ShipLoop over every shard journal of the
 * node, off the I/O thread (better-sqlite3 reads and COPY encoding are
 * synchronous CPU work). Started and supervised by shipper.ts.
 *
 * Messages: host -> thread { t: 'stop' }; thread -> host { t: 'status' },
 * { t: 'log' }. The thread ends by itself after a stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RetentionLimits } from './journal-pruner';
import type { ShipTableName } from './journal-rows';
import type { BatchResult, ShipFaultPoint } from './ship-batch';
import { ShipError, ShipErrorCode } from './ship-errors';
import { threadMemory } from '../thread-memory';
import { ShipLoop } from './ship-loop';
import type { ShipperLimits } from './shipper-limits';
import type { ShipperStatus } from './shipper-status';

/**
 * Test hook: stop the shipper at a point of a batch, the `onHit`-th time it
 * gets there (default 1). 'throw' fails the batch (ROLLBACK, retried);
 * 'exit' ends the thread on the spot, as a crash would (no ROLLBACK: the
 * server sees the connection drop).
 */
export interface ShipFaultSpec {
  point: ShipFaultPoint;
  mode: 'throw' | 'exit';
  table?: ShipTableName;
  shard?: number;
  onHit?: number;
}

export interface ShipperWorkerData {
  databaseUrl: string;
  dataDir: string;
  shardCount: number;
  nodeId: string;
  limits: ShipperLimits;
  /** null: no pruning. */
  retention: RetentionLimits | null;
  journalBudgetBytes: number;
  journalBudgetWarnRatio: number;
  fault: ShipFaultSpec | null;
  /** Watermarks a previous thread read from Postgres (lower bounds), so lag is right before the first connect. */
  knownWatermarks: (Record<ShipTableName, number> | null)[];
}

export type ShipperWorkerMessage =
  | { t: 'status'; status: ShipperStatus }
  | { t: 'batch'; shard: number; result: BatchResult; atMs: number }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> };

/** Exit code of a thread ended by a fault hook. */
const faultExitCode = 70;

function faultHook(spec: ShipFaultSpec | null) {
  if (spec === null) return undefined;
  let hits = 0;
  return (point: ShipFaultPoint, table: ShipTableName, shard: number): void => {
    if (point !== spec.point || (spec.table !== undefined && spec.table !== table) || (spec.shard !== undefined && spec.shard !== shard)) return;
    hits++;
    if (hits !== (spec.onHit ?? 1)) return;
    if (spec.mode === 'exit') process.exit(faultExitCode); // in a worker: ends this thread only
    throw new ShipError(ShipErrorCode.FAULT_INJECTED, `fault injected at ${point} of ${table} shard ${shard}`);
  };
}

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('shipper-worker must run as a worker thread');
  const data = workerData as ShipperWorkerData;
  const post = (message: ShipperWorkerMessage): void => port.postMessage(message);
  const loop = new ShipLoop({
    databaseUrl: data.databaseUrl,
    dataDir: data.dataDir,
    shardCount: data.shardCount,
    nodeId: data.nodeId,
    limits: data.limits,
    retention: data.retention ?? undefined,
    journalBudgetBytes: data.journalBudgetBytes,
    journalBudgetWarnRatio: data.journalBudgetWarnRatio,
    fault: faultHook(data.fault),
    knownWatermarks: data.knownWatermarks,
    report: (status) => post({ t: 'status', status: { ...status, memory: threadMemory() } }),
    // Posted before the next batch starts: the host's counts hold up to a crash.
    onBatch: (shard, result, atMs) => post({ t: 'batch', shard, result, atMs }),
    log: (level, message, fields) => post({ t: 'log', level, message, fields }),
  });
  port.on('message', (message: { t?: unknown }) => {
    if (message?.t === 'stop') loop.stop();
  });
  loop.run().then(
    () => port.close(),
    (error: unknown) => {
      // A bug, not an outage (those are handled inside the loop): end the thread; the host restarts it.
      post({ t: 'log', level: 'error', message: 'shipper loop failed', fields: { message: (error as Error)?.stack ?? String(error) } });
      process.exit(1);
    },
  );
}

main();
