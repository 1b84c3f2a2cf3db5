/**
 * The system of record for a command: DATABASE_URL when set, otherwise an
 * embedded Postgres in the data folder (started, and stopped on close).
 * Migrations run every time (they are idempotent and take an advisory lock).
 */
import type { Pool } from 'pg';
import { embeddedPostgresPortSetting, startEmbeddedPostgres, redactUrl } from '../persistence/pg/embedded';
import { createPool } from '../persistence/pg/pool';
import { migrate } from '../persistence/pg/migrate';
import { UsageError } from './args';
import { log } from './log';

export interface Database {
  pool: Pool;
  /** Holds the password of an embedded Postgres: never log it (use displayUrl). */
  url: string;
  /** The URL with any password removed: safe to log. */
  displayUrl: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openDatabase(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Database> {
  let url = env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | null = null;
  if (url === undefined || url === '') {
    const embedded = await startEmbeddedPostgres(dataDir, {
      port: embeddedPortSetting(env),
      onProgress: (message) => log('info', message),
      onNotice: (message) => log('warn', message),
    });
    url = embedded.url;
    stopEmbedded = () => embedded.stop();
  }
  const pool = createPool(url);
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    if (stopEmbedded) await stopEmbedded();
    throw error;
  }
  return {
    pool,
    url,
    displayUrl: redactUrl(url),
    embedded: stopEmbedded !== null,
    async close() {
      await pool.end();
      if (stopEmbedded) await stopEmbedded();
    },
  };
}

/** SIGPLANE_EMBEDDED_PG_PORT: the embedded Postgres's port, or undefined to let it choose (persistence/pg/embedded.ts). */
function embeddedPortSetting(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[embeddedPostgresPortSetting];
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`${embeddedPostgresPortSetting} must be a port 1..65535, got "${text}"`);
  return port;
}
