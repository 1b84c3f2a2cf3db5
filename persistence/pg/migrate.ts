/**
 * Versioned schema migrations.
 *
 * Files `persistence/migrations/NNN_name.sql`, applied in version order, each
 * recorded in `schema_migrations` with a SHA-256 of its text. All pending
 * migrations run in ONE transaction that first takes a transaction-scoped
 * advisory lock: two nodes migrating at once serialise (the second waits, then
 * sees the first's rows and applies nothing), and running twice is a no-op.
 * A migration file changed after it was applied is refused: write a new one.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Pool } from 'pg';
import { postgresLimits } from '@sigplane/protocol';
import { withTransaction } from './pool';

/**
 * pg_advisory_xact_lock key of the migrator: an arbitrary constant, the first
 * 8 bytes of SHA-256("sigplane.migrate") as a signed bigint. Advisory locks are
 * per database, so databases on one server do not wait for each other.
 */
const migrationLockKey = '23283635031059816';

const fileNamePattern = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** SHA-256 hex of `sql`. */
  checksum: string;
}

export interface MigrateResult {
  /** Versions applied by this call, in order (empty when up to date). */
  applied: number[];
  /** Highest version now in the database. */
  current: number;
}

/**
 * The migrations folder, from source (persistence/pg/ -> persistence/migrations)
 * or from the compiled dist/persistence/pg/ (the build copies only .ts output,
 * so go back to the source tree).
 */
export function migrationsDir(): string {
  const candidates = [
    path.resolve(__dirname, '../migrations'),
    path.resolve(__dirname, '../../../persistence/migrations'),
  ];
  for (const dir of candidates) {
    if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) return dir;
  }
  throw new Error(`migrations folder not found; looked in: ${candidates.join(', ')}`);
}

export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  const migrations: Migration[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = fileNamePattern.exec(file);
    if (m === null) throw new Error(`migration file name must be NNN_name.sql: ${file}`);
    const full = path.join(dir, file);
    if (fs.statSync(full).size > postgresLimits.migrationFileBytesMax) throw new Error(`migration too large: ${file}`);
    const sql = fs.readFileSync(full, 'utf8');
    if (/^\s*(BEGIN|COMMIT|ROLLBACK)\s*;/im.test(sql)) {
      throw new Error(`migration ${file} must not manage its own transaction`);
    }
    migrations.push({
      version: Number(m[1]),
      name: m[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new Error(`two migrations with version ${migrations[i].version}`);
    }
  }
  if (migrations.length === 0) throw new Error(`no migrations in ${dir}`);
  return migrations;
}

export async function migrate(pool: Pool, opts: { dir?: string } = {}): Promise<MigrateResult> {
  const migrations = loadMigrations(opts.dir);
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      checksum   TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
    )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const known = new Map(migrations.map((m) => [m.version, m]));
    for (const row of rows) {
      const m = known.get(row.version);
      if (m === undefined) {
        throw new Error(`database has migration ${row.version} (${row.name}) that this build does not know: newer schema?`);
      }
      if (m.checksum !== row.checksum) {
        throw new Error(`migration ${row.version} (${row.name}) changed after it was applied; add a new migration instead`);
      }
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      applied.push(m.version);
    }
    const current = Math.max(0, ...rows.map((r) => r.version), ...applied);
    return { applied, current };
  });
}
