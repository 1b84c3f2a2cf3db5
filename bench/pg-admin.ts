/**
 * One statement on its own short-lived connection, for a bench's setup and
 * teardown (CREATE/DROP DATABASE, a count at the end), not for the path
 * being measured.
 */
import { Client, type QueryResultRow } from 'pg';

/** Connects to `url`, runs `sql`, closes; the rows it returned. */
export async function queryOnce<R extends QueryResultRow = QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
