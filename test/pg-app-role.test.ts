/**
 * The server's own database role (persistence/pg/app-role.ts): by default
 * the owner's URL with `-c role=sigplane_app`, or SIGPLANE_APP_DATABASE_URL;
 * assertApplicationRole lets only a role bound by row-level security and
 * owning nothing serve. (That `sigplane serve` and the test server use it
 * is exercised by every test that runs them.)
 */
import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applicationDatabaseUrl, assertApplicationRole } from '../persistence/pg/app-role';
import { createPool } from '../persistence/pg/pool';
import { createTestDatabase, type TestDatabase } from './support/database';

let db: TestDatabase;
const pools: Pool[] = [];
const roles: string[] = [];

function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

function pool(url: string): Pool {
  const p = createPool(url, { max: 1 });
  pools.push(p);
  return p;
}

async function loginRole(extra: string): Promise<{ name: string; password: string }> {
  const name = `sigplane_approle_t_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  await db.pool.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}' ${extra}`);
  roles.push(name);
  return { name, password };
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const p of pools) await p.end();
  await db?.drop();
  const admin = new Client({ connectionString: inject('databaseUrl') });
  await admin.connect();
  try {
    for (const name of roles) await admin.query(`DROP ROLE IF EXISTS ${name}`);
  } finally {
    await admin.end();
  }
});

describe('the application URL derived from the owner URL', () => {
  it('starts every connection as sigplane_app, even after RESET ROLE', async () => {
    const derived = applicationDatabaseUrl(db.url, undefined);
    expect(derived.source).toBe('owner with role option');
    const app = pool(derived.url);
    expect((await app.query('SELECT current_user AS u')).rows[0].u).toBe('sigplane_app');
    await app.query('RESET ROLE');
    expect((await app.query('SELECT current_user AS u')).rows[0].u).toBe('sigplane_app');
    expect(await assertApplicationRole(app)).toEqual({ currentUser: 'sigplane_app' });
  });

  it('is bound: no DDL, no writes to schema_migrations, no billing rows without a tenant', async () => {
    const app = pool(applicationDatabaseUrl(db.url, undefined).url);
    const user = (await db.pool.query<{ user_id: string }>(`INSERT INTO users (email, role) VALUES ('approle@example.com', 'subscriber') RETURNING user_id`)).rows[0]!.user_id;
    await db.pool.query(`INSERT INTO billing_ledger (user_id, entry_type, amount_minor, currency, description) VALUES ($1, 'CHARGE', 100, 'USD', 'x')`, [user]);
    await expect(app.query('CREATE TABLE approle_probe (x int)')).rejects.toThrow(/permission denied/);
    await expect(app.query('DELETE FROM schema_migrations')).rejects.toThrow(/permission denied/);
    await expect(app.query('DROP TABLE signals')).rejects.toThrow(/must be owner/);
    expect((await app.query('SELECT count(*)::int AS n FROM billing_ledger')).rows[0].n).toBe(0);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM billing_ledger')).rows[0].n).toBe(1);
  });

  it('keeps options already in the URL', () => {
    const url = applicationDatabaseUrl('postgres://u@h:5432/d?options=-c%20statement_timeout%3D5000', undefined).url;
    expect(new URL(url).searchParams.get('options')).toBe('-c statement_timeout=5000 -c role=sigplane_app');
  });
});

describe('SIGPLANE_APP_DATABASE_URL', () => {
  it('is used as given, and a LOGIN member of sigplane_app passes the check', async () => {
    const login = await loginRole('IN ROLE sigplane_app');
    const url = urlAs(db.url, login.name, login.password);
    expect(applicationDatabaseUrl(db.url, url)).toEqual({ url, source: 'SIGPLANE_APP_DATABASE_URL' });
    expect(await assertApplicationRole(pool(url))).toEqual({ currentUser: login.name });
  });

  it('refuses a superuser, a role outside sigplane_app, a BYPASSRLS role and a role that inherits the owner', async () => {
    await expect(assertApplicationRole(db.pool)).rejects.toThrow(/is a superuser/);
    const outsider = await loginRole('');
    await expect(assertApplicationRole(pool(urlAs(db.url, outsider.name, outsider.password)))).rejects.toThrow(/is not a member of sigplane_app/);
    const bypass = await loginRole('BYPASSRLS IN ROLE sigplane_app');
    await expect(assertApplicationRole(pool(urlAs(db.url, bypass.name, bypass.password)))).rejects.toThrow(/has BYPASSRLS/);
    const owner = (await db.pool.query<{ owner: string }>("SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'signals'")).rows[0]!.owner;
    const heir = await loginRole(`IN ROLE sigplane_app, ${owner}`);
    // A superuser owner's member is not itself a superuser, but owns every table through it.
    await expect(assertApplicationRole(pool(urlAs(db.url, heir.name, heir.password)))).rejects.toThrow(/owns \(or inherits the owner of\) \d+ table/);
  });
});
