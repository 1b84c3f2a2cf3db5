/**
 * Row-level security on billing_ledger (migrations 006, 007), for real: the
 * application connects as a LOGIN member of sigplane_app (owns nothing, no
 * BYPASSRLS, no superuser) and the tenant is set per transaction by
 * withTenant (persistence/pg/tenant.ts). The owner that migrated is a
 * superuser here, except in the last test, where a plain owner role
 * migrates a database of its own and is bound by FORCE like anyone.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../persistence/pg/migrate';
import { createPool } from '../persistence/pg/pool';
import { TenantError, withTenant, type Tenant } from '../persistence/pg/tenant';
import { createTestDatabase, type TestDatabase } from './support/database';

let db: TestDatabase;
let appRole: string;
let app: Pool;
const roles: string[] = [];
const extraDatabases: string[] = [];

function urlAs(url: string, user: string, password: string, database?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  if (database !== undefined) u.pathname = `/${database}`;
  return u.toString();
}

async function asOwner(sql: string, params: unknown[] = []): Promise<void> {
  await db.pool.query(sql, params);
}

/** A LOGIN role; the name is ours ([a-z0-9_]) and the password random hex: DDL cannot take parameters. */
async function createLoginRole(prefix: string, extra: string): Promise<{ name: string; password: string }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  await asOwner(`CREATE ROLE ${name} LOGIN PASSWORD '${password}' ${extra}`);
  roles.push(name);
  return { name, password };
}

const alice = randomUUID();
const bob = randomUUID();
const admin = randomUUID();
const asAlice: Tenant = { userId: alice, role: 'subscriber' };
const asBob: Tenant = { userId: bob, role: 'subscriber' };
const asAdmin: Tenant = { userId: admin, role: 'admin' };

beforeAll(async () => {
  db = await createTestDatabase();
  const login = await createLoginRole('sigplane_app_t', 'IN ROLE sigplane_app');
  appRole = login.name;
  // One connection: every test below runs on the same pooled backend.
  app = createPool(urlAs(db.url, login.name, login.password), { max: 1 });
  await asOwner(
    `INSERT INTO users (user_id, email, role) VALUES ($1, 'alice@example.com', 'subscriber'), ($2, 'bob@example.com', 'subscriber'), ($3, 'admin@example.com', 'admin')`,
    [alice, bob, admin],
  );
  await withTenant(app, asAdmin, async (c) => {
    for (const [user, amount] of [[alice, 1000], [alice, 250], [bob, 7000]] as const) {
      await c.query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency, description) VALUES ($1, 'CHARGE', $2, 'USD', 'monthly')`, [user, amount]);
    }
  });
});

afterAll(async () => {
  await app?.end();
  await db?.drop();
  const admin = new Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
  try {
    for (const name of extraDatabases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    for (const name of roles.reverse()) await admin.query(`DROP ROLE IF EXISTS ${name}`);
  } finally {
    await admin.end();
  }
});

async function ledgerAmounts(tenant: Tenant | null): Promise<number[]> {
  const read = async (c: { query: Pool['query'] }) =>
    (await c.query<{ amount_minor: string }>('SELECT amount_minor FROM billing_ledger ORDER BY amount_minor')).rows.map((r) => Number(r.amount_minor));
  return tenant === null ? read(app) : withTenant(app, tenant, (c) => read(c));
}

describe('roles', () => {
  it('the application role owns no table, is no superuser and lacks BYPASSRLS; the ledger has RLS enabled and forced', async () => {
    const { rows } = await db.pool.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; owned: number }>(
      `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
         FROM pg_roles r WHERE r.rolname IN ('sigplane_app', $1) ORDER BY r.rolname`,
      [appRole],
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toMatchObject({ rolsuper: false, rolbypassrls: false, owned: 0 });
    const t = await db.pool.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'billing_ledger'::regclass",
    );
    expect(t.rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
    const policies = await db.pool.query<{ policyname: string; cmd: string }>(
      "SELECT policyname, cmd FROM pg_policies WHERE tablename = 'billing_ledger' ORDER BY policyname",
    );
    expect(policies.rows).toEqual([
      { policyname: 'admin_ledger_insert', cmd: 'INSERT' },
      { policyname: 'admin_ledger_read', cmd: 'SELECT' },
      { policyname: 'user_ledger_isolation', cmd: 'SELECT' },
    ]);
  });

  it('the application role cannot change schema, the ledger or the migrations', async () => {
    const denied = async (sql: string): Promise<string | undefined> =>
      withTenant(app, asAdmin, (c) => c.query(sql)).then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
    expect(await denied('CREATE TABLE evil (x int)')).toBe('42501');
    expect(await denied('UPDATE billing_ledger SET amount_minor = 0')).toBe('42501');
    expect(await denied('DELETE FROM billing_ledger')).toBe('42501');
    expect(await denied('ALTER TABLE billing_ledger DISABLE ROW LEVEL SECURITY')).toBe('42501');
    expect(await denied('DELETE FROM schema_migrations')).toBe('42501');
    expect(await denied('DELETE FROM audit_log')).toBe('42501');
    expect(await ledgerAmounts(asAdmin)).toEqual([250, 1000, 7000]);
  });

  it('the audit log is append-only for it, month partitions made later included; erasure may clear only personal data', async () => {
    // A partition made by `sigplane audit-log maintain` after the migrations (as the owner), and a row in it.
    await asOwner("SELECT * FROM sigplane_audit_log_maintain(now() + interval '30 months', 0, NULL)");
    const partition = (await db.pool.query<{ relname: string }>(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass AND c.relname ~ '^audit_log_p' ORDER BY c.relname DESC LIMIT 1",
    )).rows[0]!.relname;
    await asOwner(
      `INSERT INTO audit_log (event_time, event_type, action, ip_address, user_agent) VALUES (now() + interval '30 months', 'TEST', 'KEEP', '198.51.100.9', 'probe')`,
    );
    const denied = async (sql: string): Promise<string | undefined> =>
      withTenant(app, asAdmin, (c) => c.query(sql)).then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
    for (const table of ['audit_log', partition]) {
      expect(await denied(`DELETE FROM ${table}`), table).toBe('42501');
      expect(await denied(`TRUNCATE ${table}`), table).toBe('42501');
      expect(await denied(`UPDATE ${table} SET action = 'FORGED'`), table).toBe('42501');
    }
    expect(await denied(`UPDATE ${partition} SET user_agent = NULL`)).toBe('42501');
    // Through the parent, the personal-data columns only (GDPR erasure).
    expect(await denied("UPDATE audit_log SET ip_address = NULL, user_agent = NULL, request_payload = NULL WHERE action = 'KEEP'")).toBeUndefined();
    const row = (await db.pool.query("SELECT action, ip_address, user_agent FROM audit_log WHERE action = 'KEEP'")).rows;
    expect(row).toEqual([{ action: 'KEEP', ip_address: null, user_agent: null }]);
  });
});

describe('billing_ledger row-level security', () => {
  it('a subscriber reads only its own rows; another tenant is invisible, even by id', async () => {
    expect(await ledgerAmounts(asAlice)).toEqual([250, 1000]);
    expect(await ledgerAmounts(asBob)).toEqual([7000]);
    const byUser = await withTenant(app, asAlice, (c) => c.query('SELECT count(*)::int AS n FROM billing_ledger WHERE user_id = $1', [bob]));
    expect(byUser.rows[0].n).toBe(0);
  });

  it('an admin reads every row', async () => {
    expect(await ledgerAmounts(asAdmin)).toEqual([250, 1000, 7000]);
  });

  it('inserts by a subscriber or a provider fail, for their own rows too; nothing is written', async () => {
    for (const tenant of [asAlice, { userId: alice, role: 'provider' } as Tenant]) {
      const err = await withTenant(app, tenant, (c) =>
        c.query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency) VALUES ($1, 'CREDIT', 999999, 'USD')`, [alice]),
      ).catch((e: { code?: string; message: string }) => e);
      expect(err).toMatchObject({ code: '42501' });
      expect((err as Error).message).toMatch(/row-level security/);
    }
    expect(await ledgerAmounts(asAdmin)).toEqual([250, 1000, 7000]);
  });

  it('a missing, empty or malformed tenant setting yields no rows and permits no insert', async () => {
    // Never set on this transaction (plain pooled query, autocommit).
    expect(await ledgerAmounts(null)).toEqual([]);
    for (const [userId, role] of [['', ''], ['not-a-uuid', 'admin'], [alice, ''], [`${alice}' OR '1'='1`, 'subscriber']]) {
      const client = await app.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT set_config($1, $2, true), set_config($3, $4, true)', ['app.current_user_id', userId, 'app.user_role', role]);
        const { rows } = await client.query('SELECT * FROM billing_ledger');
        expect(rows).toEqual([]);
        const insert = await client
          .query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency) VALUES ($1, 'CREDIT', 1, 'USD')`, [alice])
          .catch((e: { code?: string }) => e.code);
        expect(insert).toBe('42501');
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    }
  });

  it('the tenant lives only as long as its transaction: afterwards the same connection sees nothing', async () => {
    const pids = new Set<number>();
    await withTenant(app, asBob, async (c) => {
      pids.add((await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    });
    const after = await app.query<{ pid: number; user_id: string | null; n: number }>(
      "SELECT pg_backend_pid() AS pid, current_setting('app.current_user_id', true) AS user_id, (SELECT count(*)::int FROM billing_ledger) AS n",
    );
    pids.add(after.rows[0].pid);
    expect(pids.size).toBe(1);
    expect(after.rows[0].user_id ?? '').toBe('');
    expect(after.rows[0].n).toBe(0);
    // A transaction that failed leaves no tenant behind either.
    await expect(withTenant(app, asBob, async (c) => c.query('SELECT 1/0'))).rejects.toMatchObject({ code: '22012' });
    expect(await ledgerAmounts(null)).toEqual([]);
  });

  it('alternating tenants on one pooled connection never see each other', async () => {
    const pids = new Set<number>();
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const tenant = i % 3 === 0 ? asAlice : i % 3 === 1 ? asBob : ({ userId: randomUUID(), role: 'subscriber' } as Tenant);
      runs.push(
        withTenant(app, tenant, async (c) => {
          const { rows } = await c.query<{ user_id: string; pid: number }>('SELECT user_id, pg_backend_pid() AS pid FROM billing_ledger');
          for (const r of rows) expect(r.user_id).toBe(tenant.userId);
          expect(rows.length).toBe(tenant === asAlice ? 2 : tenant === asBob ? 1 : 0);
          const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
          pids.add(pid);
        }),
      );
    }
    await Promise.all(runs); // queued on the pool's single connection
    expect(pids.size).toBe(1);
  });

  it('withTenant refuses a malformed tenant before touching the database', async () => {
    for (const bad of [{ userId: 'x', role: 'admin' }, { userId: alice, role: 'root' }, { userId: `${alice}'--`, role: 'subscriber' }]) {
      await expect(withTenant(app, bad as Tenant, async () => 1)).rejects.toBeInstanceOf(TenantError);
      await expect(withTenant(app, bad as Tenant, async () => 1)).rejects.toMatchObject({ code: 'INVALID_TENANT' });
    }
  });
});

describe('migrations run as a plain owner', () => {
  it('a non-superuser owner migrates its database, and FORCE binds that owner too', async () => {
    const owner = await createLoginRole('sigplane_owner_t', 'NOSUPERUSER NOBYPASSRLS');
    const name = `sigplane_t_own_${randomBytes(4).toString('hex')}`;
    await asOwner(`CREATE DATABASE ${name} OWNER ${owner.name}`);
    extraDatabases.push(name);
    const ownerPool = createPool(urlAs(db.url, owner.name, owner.password, name), { max: 1 });
    try {
      const result = await migrate(ownerPool);
      expect(result.applied.length).toBeGreaterThan(5);
      const owned = await ownerPool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
      );
      expect(owned.rows[0].n).toBeGreaterThan(10);
      const user = randomUUID();
      await ownerPool.query(`INSERT INTO users (user_id, email, role) VALUES ($1, 'o@example.com', 'admin')`, [user]);
      // The owner without a tenant: no insert, no rows (FORCE ROW LEVEL SECURITY).
      const refused = await ownerPool
        .query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency) VALUES ($1, 'FEE', 5, 'EUR')`, [user])
        .catch((e: { code?: string }) => e.code);
      expect(refused).toBe('42501');
      await withTenant(ownerPool, { userId: user, role: 'admin' }, (c) =>
        c.query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency) VALUES ($1, 'FEE', 5, 'EUR')`, [user]),
      );
      expect((await ownerPool.query('SELECT * FROM billing_ledger')).rows).toEqual([]);
      const mine = await withTenant(ownerPool, { userId: user, role: 'subscriber' }, (c) => c.query('SELECT amount_minor FROM billing_ledger'));
      expect(mine.rows).toEqual([{ amount_minor: '5' }]);
    } finally {
      await ownerPool.end();
    }
  });
});
