/**
 * A fresh database per test file, on the server that test/global-setup.ts
 * provides: `sigplane_t_<random>`, migrated, dropped by `drop()`.
 * No database reachable -> the test fails loudly (nothing is skipped).
 */
import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { inject } from 'vitest';
import { redactUrl } from '../../persistence/pg/embedded';
import { migrate } from '../../persistence/pg/migrate';
import { createPool } from '../../persistence/pg/pool';

export interface TestDatabase {
  /** URL of the new database (may contain a password: print with redactUrl). */
  url: string;
  pool: Pool;
  /** End the pool and drop the database. */
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = inject('databaseUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('no test database server: test/global-setup.ts did not provide databaseUrl');
  }
  return url;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`test Postgres at ${redactUrl(url)} is not reachable: ${(err as Error).message}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `migrate: false` leaves the database empty (for migration tests). */
export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const server = serverUrl();
  const name = `sigplane_t_${randomBytes(6).toString('hex')}`;
  // The name is ours ([a-z0-9_]): identifiers cannot be parameters.
  await adminQuery(server, `CREATE DATABASE ${name}`);
  const url = withDatabase(server, name);
  const pool = createPool(url, { max: 5 });
  try {
    if (opts.migrate !== false) await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    throw err;
  }
  let dropped = false;
  return {
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => undefined);
      await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
