/**
 * vitest globalSetup: one Postgres server for the whole run.
 * - DATABASE_URL set: use that server (checked reachable now, loudly).
 * - otherwise: an embedded Postgres in a temporary folder on a free port,
 *   stopped and removed at teardown.
 * Each test file then makes its own database on it (test/support/database.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { redactUrl, startEmbeddedPostgres } from '../persistence/pg/embedded';
import { freeLocalPort } from '../persistence/pg/free-port';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Server-level URL (database `postgres` or whatever DATABASE_URL names). */
    databaseUrl: string;
  }
}

async function assertReachable(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`test Postgres at ${redactUrl(url)} is not reachable: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external !== undefined && external !== '') {
    await assertReachable(external);
    project.provide('databaseUrl', external);
    return async () => undefined;
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-test-pg-'));
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    embedded = await startEmbeddedPostgres(dataDir, { port: await freeLocalPort() });
    await assertReachable(embedded.url);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`could not start an embedded Postgres for the tests (set DATABASE_URL to use a server): ${(err as Error).message}`);
  }
  project.provide('databaseUrl', embedded.url);
  return async () => {
    await embedded.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
