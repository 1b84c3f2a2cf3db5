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

  it('creates the tables of the seed and of the issue, with the allowed_ips lookup index and no predicate', async () => {
    const db = await freshDatabase(true);
    const { rows } = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    const tables = rows.map((r) => r.table_name).filter((t) => !/^audit_log_(default|p\d{6})$/.test(t));
    // Other engineers' migrations (010+, 020+) add tables of their own: these must be there.
    expect(tables).toEqual(
      expect.arrayContaining([
        'allowed_ips',
        'audit_log',
        'billing_ledger',
        'execution_reports',
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
      ]),
    );
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

describe('schema of migrations 003..007', () => {
  it('two databases on one server migrating at once both succeed (the server-wide role is made once)', async () => {
    const dbs = [await freshDatabase(false), await freshDatabase(false)];
    const pools = dbs.flatMap((d) => [createPool(d.url), createPool(d.url)]);
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      expect(results.filter((r) => r.applied.length > 0)).toHaveLength(2);
      for (const d of dbs) {
        const { rows } = await d.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
        expect(rows[0].n).toBe(loadMigrations().length);
      }
      const role = await dbs[0].pool.query("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'sigplane_app'");
      expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcanlogin: false }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('audit_log is partitioned by event_time, with the seed\'s three indexes on every partition', async () => {
    const db = await freshDatabase(true);
    const kind = await db.pool.query<{ relkind: string; key: string }>(
      "SELECT c.relkind, pg_get_partkeydef(c.oid) AS key FROM pg_class c WHERE c.oid = 'audit_log'::regclass",
    );
    expect(kind.rows[0]).toEqual({ relkind: 'p', key: 'RANGE (event_time)' });
    const parts = await db.pool.query<{ relname: string }>(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1",
    );
    const names = parts.rows.map((r) => r.relname);
    expect(names).toContain('audit_log_default');
    // This month and three ahead.
    const month = (offset: number): string => {
      const d = new Date();
      const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
      return `audit_log_p${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    for (let i = 0; i <= 3; i++) expect(names).toContain(month(i));
    for (const part of [month(0), 'audit_log_default']) {
      const idx = await db.pool.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE tablename = $1', [part]);
      const defs = idx.rows.map((r) => r.indexdef).join('\n');
      expect(defs).toMatch(/\(user_id, event_time DESC\)/);
      expect(defs).toMatch(/\(event_type, event_time DESC\)/);
      expect(defs).toMatch(/\(ip_address, event_time DESC\)/);
    }
  });

  it('maintenance creates future partitions, moves default rows into them, and the retention drops old months whole', async () => {
    const db = await freshDatabase(true);
    const insert = (iso: string, action: string) =>
      db.pool.query("INSERT INTO audit_log (event_time, event_type, action) VALUES ($1::timestamptz, 'TEST', $2)", [iso, action]);
    // Far outside the partitions made at migration time: the default partition takes them.
    await insert('2031-05-10T12:00:00Z', 'future');
    await insert('2019-01-15T00:00:00Z', 'ancient');
    const where = async (action: string) =>
      (await db.pool.query<{ t: string }>('SELECT tableoid::regclass::text AS t FROM audit_log WHERE action = $1', [action])).rows[0]?.t;
    expect(await where('future')).toBe('audit_log_default');

    const { maintainAuditLog } = await import('../persistence/pg/audit-retention');
    // "Now" is 2031-04: May 2031 is one month ahead, so its partition is made and the row moves there.
    const ahead = await maintainAuditLog(db.pool, { nowMs: Date.UTC(2031, 3, 20), monthsAhead: 1 });
    expect(ahead).toEqual({ created: 2, dropped: 0, deleted: 0 });
    expect(await where('future')).toBe('audit_log_p203105');
    expect(await where('ancient')).toBe('audit_log_default');

    // Running it again changes nothing.
    expect(await maintainAuditLog(db.pool, { nowMs: Date.UTC(2031, 3, 20), monthsAhead: 1 })).toEqual({ created: 0, dropped: 0, deleted: 0 });

    // Retention 60 days at 2031-08-15: every month ending before 2031-06-16 goes (April, May, and today's months), the ancient row too.
    const before = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'audit_log'::regclass");
    const kept = await maintainAuditLog(db.pool, { nowMs: Date.UTC(2031, 7, 15), monthsAhead: 0, retentionDays: 60 });
    expect(kept.dropped).toBeGreaterThanOrEqual(2);
    expect(kept.deleted).toBe(1);
    expect(await where('future')).toBeUndefined();
    expect(await where('ancient')).toBeUndefined();
    const after = await db.pool.query<{ relname: string }>(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass ORDER BY 1",
    );
    const names = after.rows.map((r) => r.relname);
    expect(names).toEqual(['audit_log_default', 'audit_log_p203106', 'audit_log_p203107', 'audit_log_p203108']);
    expect(before.rows[0].n).toBeGreaterThan(names.length);
    // Bad settings are refused before any SQL runs.
    await expect(maintainAuditLog(db.pool, { retentionDays: 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(maintainAuditLog(db.pool, { monthsAhead: 99 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('signals are unique per (subscription, sequence); execution reports per (receiver, sequence, position, kind)', async () => {
    const db = await freshDatabase(true);
    const sub = '6f1c1f5e-0000-4000-8000-000000000001';
    const signal = `INSERT INTO signals (subscription_id, sequence, generated_at, symbol, order_type, volume, price, action, stop_loss, take_profit, magic, signing_version, content, received_at)
                    VALUES ($1, 7, now(), 'EURUSD', 0, 0.1, 1.1, 0, 0, 0, '', 1, '\\x00', now())`;
    await db.pool.query(signal, [sub]);
    await expect(db.pool.query(signal, [sub])).rejects.toMatchObject({ code: '23505' });
    const report = `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, volume, executed_at)
                    VALUES ($1, $2, 7, 'EURUSD', 'open', 0.1, now())`;
    const receiver = '6f1c1f5e-0000-4000-8000-000000000002';
    await db.pool.query(report, [sub, receiver]);
    await expect(db.pool.query(report, [sub, receiver])).rejects.toMatchObject({ code: '23505' });
  });

  it('allowed_ips has the seed\'s partial index in the form Postgres accepts', async () => {
    const db = await freshDatabase(true);
    const { rows } = await db.pool.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'allowed_ips' AND indexname LIKE 'idx_allowed_ips_%' ORDER BY indexname",
    );
    const def = (name: string) => rows.find((r) => r.indexname === name)?.indexdef ?? '';
    expect(def('idx_allowed_ips_permanent')).toMatch(/\(subscription_id, ip_address\) WHERE \(expires_at IS NULL\)$/);
    expect(def('idx_allowed_ips_expiring')).toMatch(/WHERE \(expires_at IS NOT NULL\)$/);
  });
});
