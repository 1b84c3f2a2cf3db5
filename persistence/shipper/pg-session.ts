/**
 * The shipper's one Postgres connection: opened with bounded waits, set up
 * once (session timeouts, TEMP staging tables, watermark rows), and read for
 * the watermarks it starts from.
 *
 * A plain Client rather than a pool: the shipper does one thing at a time,
 * and a connection that failed is thrown away whole (with its TEMP tables
 * and whatever transaction the server then rolls back).
 */
import { Client } from 'pg';
import { shipTableNames, type ShipTableName } from './journal-rows';
import { pgTableSpecs } from './pg-tables';
import { watermarkFromText } from './ship-batch';
import { ShipError, ShipErrorCode, errorMessage } from './ship-errors';

export interface SessionOptions {
  databaseUrl: string;
  connectTimeoutMs: number;
  /** statement_timeout of the session. */
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/** Per shard: journal table -> shipped journal_id. */
export type Watermarks = Map<number, Record<ShipTableName, number>>;

/** Connects and prepares a session, or throws SHIP_POSTGRES_UNREACHABLE (or the server's error). */
export async function openSession(options: SessionOptions, onBroken: (error: Error) => void): Promise<Client> {
  const client = new Client({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    keepAlive: true,
    application_name: 'sigplane-shipper',
  });
  // Without a listener a dropped connection's 'error' would end the thread.
  client.on('error', onBroken);
  client.on('end', () => onBroken(new ShipError(ShipErrorCode.POSTGRES_UNREACHABLE, 'connection ended')));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new ShipError(ShipErrorCode.POSTGRES_UNREACHABLE, `connect: ${errorMessage(error)}`, { cause: error });
  }
  try {
    for (const table of shipTableNames) await client.query(pgTableSpecs[table].createStagingSql);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/** Makes sure every (node, shard, table) has its watermark row (0 when new); idempotent, safe beside another node. */
export async function ensureWatermarkRows(client: Client, nodeId: string, shardCount: number): Promise<void> {
  const shards = Array.from({ length: shardCount }, (_, i) => i);
  await client.query(
    `INSERT INTO journal_watermarks (node_id, shard, table_name)
     SELECT $1::text, s, t FROM unnest($2::int[]) AS s CROSS JOIN unnest($3::text[]) AS t
     ON CONFLICT (node_id, shard, table_name) DO NOTHING`,
    [nodeId, shards, [...shipTableNames]],
  );
}

/** The committed watermarks of this node's shards (every table present, 0 when absent). */
export async function readWatermarks(client: Client, nodeId: string, shardCount: number): Promise<Watermarks> {
  const { rows } = await client.query<{ shard: number; table_name: string; w: string }>(
    'SELECT shard, table_name, shipped_journal_id::text AS w FROM journal_watermarks WHERE node_id = $1 AND shard < $2',
    [nodeId, shardCount],
  );
  const watermarks: Watermarks = new Map();
  for (let shard = 0; shard < shardCount; shard++) {
    watermarks.set(shard, { signals: 0, states: 0, cursors: 0, security_events: 0, execution_reports: 0 });
  }
  for (const row of rows) {
    const entry = watermarks.get(row.shard);
    if (entry === undefined || !(shipTableNames as readonly string[]).includes(row.table_name)) continue;
    entry[row.table_name as ShipTableName] = watermarkFromText(row.w);
  }
  return watermarks;
}
