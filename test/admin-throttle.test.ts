/**
 * The admin API under a flood of unauthenticated requests
 * (io/admin/unauthenticated-throttle.ts): each 401 is audited until the
 * source address's bucket is empty; then the address is answered 429
 * RATE_LIMITED with Retry-After, no row is written, and the next row of the
 * address counts what went unaudited; a well-formed admin token is still
 * looked up, so a valid admin is not locked out. Its own AdminServer: the
 * throttle is per listener, and this file empties 127.0.0.1's bucket on
 * purpose.
 */
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '@sigplane/protocol';
import { AdminServer } from '../io/admin/admin-server';
import { AdminStore, type CreatedAdminUser } from '../persistence/pg/admin-store';
import { generateAdminToken } from '../persistence/pg/admin-tokens';
import { createPool } from '../persistence/pg/pool';
import { startTestServer, type TestServer } from './support/test-server';

const userAgent = 'sigplane-throttle-test/1';
let t: TestServer;
let pool: Pool;
let adminServer: AdminServer;
let root: CreatedAdminUser;
/** The throttle's clock: it moves only when this test moves it, however slowly the requests go. */
let nowMs = Date.now();

beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
  pool = createPool(t.databaseUrl, { max: 2 });
  const adminStore = new AdminStore(pool, t.store);
  adminServer = new AdminServer({ host: '127.0.0.1', port: 0, store: t.store, adminStore, clock: () => nowMs });
  await adminServer.start();
  root = await adminStore.createAdminUser({ email: 'throttle-root@ops.example', role: 'admin' });
});

afterAll(async () => {
  adminServer?.stop();
  await pool?.end();
  await t?.close();
});

async function whoami(token: string): Promise<{ status: number; code: string | undefined; retryAfter: string | null }> {
  const r = await fetch(`http://127.0.0.1:${adminServer.port}/admin/v1/whoami`, { headers: { authorization: `Bearer ${token}`, 'user-agent': userAgent } });
  const body = (await r.json()) as { code?: string };
  return { status: r.status, code: body.code, retryAfter: r.headers.get('retry-after') };
}

async function auditRows(): Promise<{ response_status: number; metadata: Record<string, unknown> }[]> {
  const { rows } = await pool.query('SELECT response_status, metadata FROM audit_log WHERE user_agent = $1 ORDER BY event_time, log_id', [userAgent]);
  return rows;
}

describe('unauthenticated requests to the admin API', () => {
  it('are audited up to the burst, then answered 429 unaudited, and the next row counts them', async () => {
    const burst = admin.unauthenticatedRefusalsBurst;
    const forged = `spa_${'x'.repeat(40)}`;
    for (let i = 0; i < burst; i++) expect((await whoami(forged)).status).toBe(401);
    expect(await auditRows()).toHaveLength(burst);

    const over = 5;
    for (let i = 0; i < over; i++) {
      const r = await whoami(forged);
      expect(r).toEqual({ status: 429, code: 'RATE_LIMITED', retryAfter: String(Math.ceil(60 / admin.unauthenticatedRefusalsPerMinute)) });
    }
    expect(await auditRows()).toHaveLength(burst);
    // A well-formed admin token is still looked up: whoever shares the address cannot lock a valid admin out ...
    expect((await whoami(root.token)).status).toBe(200);
    // ... and one that is well formed but unknown is answered like the rest, without a row.
    expect(await whoami(generateAdminToken().token)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect((await auditRows()).map((r) => r.response_status)).toEqual([...Array<number>(burst).fill(401), 200]);

    // Requests in flight together cannot write more rows than the bucket holds.
    nowMs += 60_000 / admin.unauthenticatedRefusalsPerMinute; // one token refilled
    const together = await Promise.all(Array.from({ length: 6 }, () => whoami(generateAdminToken().token)));
    expect(together.map((r) => r.status).sort()).toEqual([401, 429, 429, 429, 429, 429]);
    const rows = await auditRows();
    expect(rows).toHaveLength(burst + 2);
    // The refusal audited says what was not: the 5 forged, the unknown one, and its 5 companions answered 429 before it or after it.
    expect(rows.at(-1)!.response_status).toBe(401);
    expect(rows.at(-1)!.metadata.suppressedBefore).toBeGreaterThanOrEqual(over + 1);
    expect(rows.slice(0, burst + 1).every((r) => r.metadata.suppressedBefore === undefined)).toBe(true);
  }, 30_000);
});
