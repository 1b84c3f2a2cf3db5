import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, migrationsDir } from '../persistence/pg/migrate';
import { createPool } from '../persistence/pg/pool';
import { createTestDatabase, type TestDatabase } from './support/database';

const databases: TestDatabase[] = [];
async function freshDatabase(migrated: boolean): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: migrated });
  databases.push(db);
  return db;
}
afterAll(async () => {
  for (const db of databases) await db.drop();
});

describe('migrations', () => {
  it('finds the migrations folder and loads them in version order', () => {
    const dir = migrationsDir();
    expect(fs.existsSync(path.join(dir, '001_initial.sql'))).toBe(true);
    const migrations = loadMigrations();
    expect(migrations[0]).toMatchObject({ version: 1, name: 'initial' });
    const versions = migrations.map((m) => m.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it('applies all migrations once; running again is a no-op', async () => {
    const db = await freshDatabase(false);
    const first = await migrate(db.pool);
    const expected = loadMigrations().map((m) => m.version);
    expect(first.applied).toEqual(expected);
    const second = await migrate(db.pool);
    expect(second).toEqual({ applied: [], current: expected[expected.length - 1] });
    const { rows } = await db.pool.query('SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version');
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(rows.length).toBe(expected.length);
  });

  it('two pools migrating one empty database at once: no error, one row per version', async () => {
    const db = await freshDatabase(false);
    const pools = [createPool(db.url), createPool(db.url), createPool(db.url)];
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const expected = loadMigrations().map((m) => m.version);
      // Exactly one of them applied everything, the others nothing.
      expect(results.filter((r) => r.applied.length > 0).map((r) => r.applied)).toEqual([expected]);
      const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(expected);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('creates the tables of the seed, with the allowed_ips lookup index and no predicate', async () => {
    const db = await freshDatabase(true);
    const { rows } = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'allowed_ips',
      'audit_log',
      'journal_watermarks',
      'license_tokens',
      'mac_keys',
      'receiver_cursors',
      'schema_migrations',
      'security_events',
      'signals',
      'subscription_states',
      'subscriptions',
      'users',
    ]);
    const idx = await db.pool.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('allowed_ips', 'audit_log') ORDER BY indexname",
    );
    const names = idx.rows.map((r) => r.indexname);
    expect(names).toEqual(expect.arrayContaining(['idx_allowed_ips_lookup', 'idx_audit_user', 'idx_audit_type', 'idx_audit_ip']));
    const lookup = idx.rows.find((r) => r.indexname === 'idx_allowed_ips_lookup');
    expect(lookup?.indexdef).toMatch(/\(ip_address, subscription_id\)$/);
  });

  it('refuses a migration that changed after it was applied', async () => {
    const db = await freshDatabase(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-mig-'));
    try {
      for (const m of loadMigrations()) {
        const file = `${String(m.version).padStart(3, '0')}_${m.name}.sql`;
        fs.writeFileSync(path.join(dir, file), m.version === 1 ? `${m.sql}\n-- edited\n` : m.sql);
      }
      await expect(migrate(db.pool, { dir })).rejects.toThrow(/changed after it was applied/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls back everything when a migration fails', async () => {
    const db = await freshDatabase(false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-mig-'));
    try {
      fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE t_ok (x int);');
      fs.writeFileSync(path.join(dir, '002_bad.sql'), 'CREATE TABLE t_bad (x nosuchtype);');
      await expect(migrate(db.pool, { dir })).rejects.toThrow();
      const { rows } = await db.pool.query("SELECT to_regclass('t_ok') AS t, to_regclass('schema_migrations') AS m");
      expect(rows[0]).toEqual({ t: null, m: null });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
