/**
 * The Postgres connection pool and transactions.
 *
 * Every query in sigplane is parameterized (the seed's Layer 4): SQL text is
 * a constant, values travel as parameters.
 */

import { Pool, type PoolClient } from 'pg';
import { postgresLimits } from '@sigplane/protocol';


export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /**
   * An idle pooled connection failed (the server restarted or closed it). The
   * pool drops that connection by itself; without a listener, pg's 'error'
   * event would crash the process. Default: ignore.
   */
  onIdleError?: (err: Error) => void;
}

export function createPool(url: string, opts: PoolOptions = {}): Pool {
  if (typeof url !== 'string' || url.length === 0) throw new Error('createPool: empty connection URL');
  const pool = new Pool({
    connectionString: url,
    max: opts.max ?? postgresLimits.poolConnectionsMax,
    connectionTimeoutMillis: postgresLimits.poolConnectTimeoutMs,
    idleTimeoutMillis: postgresLimits.poolIdleTimeoutMs,
    application_name: opts.applicationName ?? 'sigplane',
  });
  const onIdleError = opts.onIdleError ?? (() => undefined);
  pool.on('error', (err) => onIdleError(err));
  return pool;
}

/**
 * Run `fn` inside BEGIN … COMMIT on one pooled connection; ROLLBACK if it
 * throws (the error is rethrown). A connection whose ROLLBACK failed is
 * destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
