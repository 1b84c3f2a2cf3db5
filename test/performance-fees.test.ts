/**
 * Performance fees with a high-water mark (persistence/pg/performance-fees.ts,
 * migration 031) on constructed histories, on a real Postgres. Results are
 * inserted into execution_reports as the shipper would; every fee run goes
 * through a LOGIN member of sigplane_app, which row-level security binds
 * (no superuser, no BYPASSRLS), so the admin tenant of the run is what lets
 * it write the ledger.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../persistence/pg/pool';
import {
  assignSubscriber,
  chargePerformanceFees,
  readFeePeriods,
  setFeeRate,
  type ChargeSummary,
  type LicenseFeeResult,
} from '../persistence/pg/performance-fees';
import { exportUser } from '../persistence/pg/gdpr-store';
import { withTenant, type Tenant } from '../persistence/pg/tenant';
import { performanceFeeRoutes } from '../io/admin/performance-fees-routes';
import { matchRoute } from '../io/admin/admin-routes';
import type { AdminDeps, AdminRequest, AdminRoute } from '../io/admin/admin-types';
import { createTestDatabase, type TestDatabase } from './support/database';

let db: TestDatabase;
let app: Pool;
let roleName = '';

function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

beforeAll(async () => {
  db = await createTestDatabase();
  roleName = `sigplane_fees_t_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  // Name and password are ours ([a-z0-9_], hex): DDL takes no parameters.
  await db.pool.query(`CREATE ROLE ${roleName} LOGIN PASSWORD '${password}' IN ROLE sigplane_app`);
  app = createPool(urlAs(db.url, roleName, password), { max: 4 });
});

afterAll(async () => {
  await app?.end();
  await db?.drop();
  if (roleName !== '') {
    const admin = new Client({ connectionString: inject('databaseUrl') });
    await admin.connect();
    try {
      await admin.query(`DROP ROLE IF EXISTS ${roleName}`);
    } finally {
      await admin.end();
    }
  }
});

// ---- constructing histories (as the owner, the way configuration and the shipper write) ----

async function newSubscription(rateBp?: number): Promise<string> {
  const { rows } = await db.pool.query<{ subscription_id: string }>("INSERT INTO subscriptions (name) VALUES ('fees') RETURNING subscription_id");
  const id = rows[0].subscription_id;
  if (rateBp !== undefined) await setFeeRate(app, id, rateBp);
  return id;
}

async function newLicense(subscriptionId: string): Promise<string> {
  const { rows } = await db.pool.query<{ token_id: string }>(
    "INSERT INTO license_tokens (subscription_id, role, token_hash, token_prefix) VALUES ($1, 'receiver', $2, 'spr_test') RETURNING token_id",
    [subscriptionId, randomBytes(32).toString('hex')],
  );
  return rows[0].token_id;
}

/** A license of `subscriptionId` paid by a fresh subscriber; returns both ids. */
async function newSubscriber(subscriptionId: string): Promise<{ tokenId: string; userId: string }> {
  const tokenId = await newLicense(subscriptionId);
  const assigned = await assignSubscriber(app, tokenId, `sub-${randomUUID()}@example.com`);
  return { tokenId, userId: assigned.userId };
}

let sequence = 1;

/** One execution report as the shipper writes it (profit in account currency units). */
async function report(
  tokenId: string,
  subscriptionId: string,
  kind: 'open' | 'close' | 'reduce' | 'skip',
  profit: number | null,
  executedAt: string,
  currency = 'USD',
): Promise<void> {
  await db.pool.query(
    `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, volume, executed_at, outcome, profit, currency)
     VALUES ($1, $2, $3, $4, $5, 0.1, $6, 'filled', $7, $8)`,
    [subscriptionId, tokenId, sequence++, `p${sequence}`, kind, executedAt, profit, currency],
  );
}

function charge(period: string, subscriptionId: string): Promise<ChargeSummary> {
  return chargePerformanceFees(app, { period, subscriptionId });
}

function only(summary: ChargeSummary): LicenseFeeResult {
  expect(summary.licenses).toHaveLength(1);
  return summary.licenses[0];
}

/** Fee amounts (minor units) in the ledger, oldest first, as the admin tenant sees them. */
async function feeEntries(subscriptionId: string): Promise<number[]> {
  const adminId = (await db.pool.query<{ user_id: string }>("SELECT user_id FROM users WHERE email = 'performance-fees@sigplane.invalid'")).rows[0].user_id;
  const { rows } = await withTenant(app, { userId: adminId, role: 'admin' }, (c) =>
    c.query<{ amount_minor: string }>(
      "SELECT amount_minor FROM billing_ledger WHERE subscription_id = $1 AND entry_type = 'FEE' ORDER BY created_at, entry_id",
      [subscriptionId],
    ),
  );
  return rows.map((r) => Number(r.amount_minor));
}

async function tableCount(table: 'performance_fee_periods' | 'billing_ledger'): Promise<number> {
  // The owner here is a superuser: not bound by RLS, it counts everything.
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n;
}

describe('the period run on constructed histories', () => {
  it('losses, then a recovery: nothing is charged until the mark is passed, then only the part above it', async () => {
    const sub = await newSubscription(2000); // 20%
    const { tokenId } = await newSubscriber(sub);
    await report(tokenId, sub, 'close', -100, '2025-01-10T10:00:00Z');
    await report(tokenId, sub, 'close', 60, '2025-02-10T10:00:00Z');
    await report(tokenId, sub, 'close', 140.25, '2025-03-10T10:00:00Z');

    const jan = only(await charge('2025-01', sub));
    expect(jan).toMatchObject({ outcome: 'charged', cumulativeMinor: -10000n, previousMarkMinor: 0n, markMinor: 0n, feeMinor: 0n, ledgerEntryId: null });
    const feb = only(await charge('2025-02', sub));
    expect(feb).toMatchObject({ outcome: 'charged', cumulativeMinor: -4000n, markMinor: 0n, feeMinor: 0n });
    const mar = only(await charge('2025-03', sub));
    // Cumulative 100.25 above a mark of 0: 20% of 100.25 = 20.05.
    expect(mar).toMatchObject({ outcome: 'charged', cumulativeMinor: 10025n, previousMarkMinor: 0n, markMinor: 10025n, feeMinor: 2005n, currency: 'USD' });
    expect(mar.ledgerEntryId).not.toBeNull();
    expect(await feeEntries(sub)).toEqual([2005]);
  });

  it('new highs are charged on the gain above the previous high only; a drawdown is recovered first', async () => {
    const sub = await newSubscription(2500); // 25%
    const { tokenId } = await newSubscriber(sub);
    await report(tokenId, sub, 'close', 400, '2025-01-05T00:00:00Z');
    await report(tokenId, sub, 'close', -300, '2025-01-06T00:00:00Z'); // intra-month peak 400, end 100
    await report(tokenId, sub, 'close', 300, '2025-02-05T00:00:00Z'); // 400
    await report(tokenId, sub, 'close', -250, '2025-03-05T00:00:00Z'); // 150
    await report(tokenId, sub, 'close', 200, '2025-04-05T00:00:00Z'); // 350: below 400
    await report(tokenId, sub, 'close', 100, '2025-05-05T00:00:00Z'); // 450

    const fees: bigint[] = [];
    const marks: bigint[] = [];
    for (const period of ['2025-01', '2025-02', '2025-03', '2025-04', '2025-05']) {
      const r = only(await charge(period, sub));
      fees.push(r.feeMinor);
      marks.push(r.markMinor);
    }
    // The month-end cumulative is what counts (100, not the intra-month 400).
    expect(marks).toEqual([10000n, 40000n, 40000n, 40000n, 45000n]);
    expect(fees).toEqual([2500n, 7500n, 0n, 0n, 1250n]);
    // Total = 25% of the final mark (450.00).
    expect(fees.reduce((a, b) => a + b, 0n)).toBe(11250n);
    expect(await feeEntries(sub)).toEqual([2500, 7500, 1250]);
  });

  it('partial closes count as their realized part; an open remainder and non-closing reports count for nothing', async () => {
    const sub = await newSubscription(1000); // 10%
    const { tokenId } = await newSubscriber(sub);
    await report(tokenId, sub, 'open', null, '2025-01-02T00:00:00Z');
    await report(tokenId, sub, 'reduce', 50, '2025-01-03T00:00:00Z'); // half closed: +50 realized
    await report(tokenId, sub, 'skip', null, '2025-01-04T00:00:00Z');
    await report(tokenId, sub, 'reduce', -20, '2025-02-03T00:00:00Z'); // a quarter at a loss
    await report(tokenId, sub, 'close', 90, '2025-02-20T00:00:00Z'); // the rest
    await report(tokenId, sub, 'close', null, '2025-02-21T00:00:00Z'); // a close with no reported profit: not a result
    const jan = only(await charge('2025-01', sub));
    expect(jan).toMatchObject({ resultCount: 1, cumulativeMinor: 5000n, markMinor: 5000n, feeMinor: 500n });
    const feb = only(await charge('2025-02', sub));
    expect(feb).toMatchObject({ resultCount: 2, cumulativeMinor: 12000n, previousMarkMinor: 5000n, markMinor: 12000n, feeMinor: 700n });
  });

  it('running a period twice (and two runs at once) charges once', async () => {
    const sub = await newSubscription(2000);
    const a = await newSubscriber(sub);
    const b = await newSubscriber(sub);
    await report(a.tokenId, sub, 'close', 10, '2025-06-01T00:00:00Z');
    await report(b.tokenId, sub, 'close', 30, '2025-06-02T00:00:00Z');
    const [first, second] = await Promise.all([charge('2025-06', sub), charge('2025-06', sub)]);
    const outcomes = [...first.licenses, ...second.licenses].map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['already-charged', 'already-charged', 'charged', 'charged']);
    const periods = await tableCount('performance_fee_periods');
    const ledger = await tableCount('billing_ledger');
    expect((await feeEntries(sub)).sort()).toEqual([200, 600]);

    const again = await charge('2025-06', sub);
    expect(again.charged).toBe(0);
    expect(again.licenses.map((r) => r.outcome)).toEqual(['already-charged', 'already-charged']);
    // What the earlier run computed is reported back, unchanged.
    expect(again.licenses.map((r) => r.feeMinor).sort()).toEqual([200n, 600n]);
    expect(await tableCount('performance_fee_periods')).toBe(periods);
    expect(await tableCount('billing_ledger')).toBe(ledger);
  });

  it('rate 0 (the default) charges nothing but the mark still rises: gains made without a fee are never charged later', async () => {
    const sub = await newSubscription(); // no rate row: 0
    const { tokenId } = await newSubscriber(sub);
    await report(tokenId, sub, 'close', 500, '2025-01-15T00:00:00Z');
    await report(tokenId, sub, 'close', 100, '2025-02-15T00:00:00Z');
    const jan = only(await charge('2025-01', sub));
    expect(jan).toMatchObject({ outcome: 'charged', rateBp: 0, markMinor: 50000n, feeMinor: 0n, ledgerEntryId: null });
    expect(await feeEntries(sub)).toEqual([]);
    await setFeeRate(app, sub, 3000);
    const feb = only(await charge('2025-02', sub));
    // 30% of the 100.00 above the mark of 500.00, not of 600.00.
    expect(feb).toMatchObject({ rateBp: 3000, previousMarkMinor: 50000n, markMinor: 60000n, feeMinor: 3000n });
    await expect(setFeeRate(app, sub, 5001)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(setFeeRate(app, sub, -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(setFeeRate(app, randomUUID(), 100)).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
  });

  it('a result reported late for a computed month counts in the next month; an earlier month than the last computed is refused', async () => {
    const sub = await newSubscription(2000);
    const { tokenId } = await newSubscriber(sub);
    await report(tokenId, sub, 'close', 100, '2025-03-10T00:00:00Z');
    expect(only(await charge('2025-03', sub)).feeMinor).toBe(2000n);
    // Shipped after March was computed, executed in March: a loss.
    await report(tokenId, sub, 'close', -50, '2025-03-20T00:00:00Z');
    await report(tokenId, sub, 'close', 80, '2025-04-10T00:00:00Z');
    const apr = only(await charge('2025-04', sub));
    // Cumulative 130 against a mark of 100: 20% of 30.
    expect(apr).toMatchObject({ cumulativeMinor: 13000n, previousMarkMinor: 10000n, feeMinor: 600n });
    const feb = only(await charge('2025-02', sub));
    expect(feb).toMatchObject({ outcome: 'later-period-charged' });
    expect(await feeEntries(sub)).toEqual([2000, 600]);
  });

  it('a license without a subscriber is skipped and writes nothing until one is assigned', async () => {
    const sub = await newSubscription(2000);
    const tokenId = await newLicense(sub);
    await report(tokenId, sub, 'close', 10, '2025-07-01T00:00:00Z');
    const before = await tableCount('performance_fee_periods');
    expect(only(await charge('2025-07', sub))).toMatchObject({ outcome: 'unassigned', feeMinor: 0n });
    expect(await tableCount('performance_fee_periods')).toBe(before);
    await assignSubscriber(app, tokenId, `late-${randomUUID()}@example.com`);
    expect(only(await charge('2025-07', sub))).toMatchObject({ outcome: 'charged', feeMinor: 200n });
    // Reassigning after a charge is refused (the mark belongs to that subscriber).
    await expect(assignSubscriber(app, tokenId, `other-${randomUUID()}@example.com`)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('results in several currencies or with a corrupt profit are refused for that license, nothing written', async () => {
    const sub = await newSubscription(2000);
    const mixed = await newSubscriber(sub);
    await report(mixed.tokenId, sub, 'close', 10, '2025-08-01T00:00:00Z', 'USD');
    await report(mixed.tokenId, sub, 'close', 10, '2025-08-02T00:00:00Z', 'EUR');
    const corrupt = await newSubscriber(sub);
    await report(corrupt.tokenId, sub, 'close', Number.NaN, '2025-08-03T00:00:00Z');
    const summary = await charge('2025-08', sub);
    expect(summary.licenses.map((r) => r.outcome)).toEqual(['invalid-results', 'invalid-results']);
    expect(await feeEntries(sub)).toEqual([]);
  });

  it('minor units follow the currency: JPY has none, profits round half away from zero', async () => {
    const sub = await newSubscription(1500);
    const yen = await newSubscriber(sub);
    await report(yen.tokenId, sub, 'close', 12345.5, '2025-09-01T00:00:00Z', 'JPY');
    const r = only(await charge('2025-09', sub));
    // 12346 yen; 15% = 1851.9 -> 1851 (never rounded up).
    expect(r).toMatchObject({ currency: 'JPY', cumulativeMinor: 12346n, feeMinor: 1851n });
  });

  it('refuses bad input: a malformed or unfinished period, an unknown subscription', async () => {
    await expect(chargePerformanceFees(app, { period: '2025-13' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(chargePerformanceFees(app, { period: '2025-1' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(chargePerformanceFees(app, { period: '2025-05', nowMs: Date.UTC(2025, 4, 31) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(chargePerformanceFees(app, { period: '2025-05', subscriptionId: randomUUID() })).rejects.toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
  });
});

describe('GDPR export', () => {
  it("carries the licenses a user pays for and the user's fee periods, and no one else's", async () => {
    const sub = await newSubscription(1000); // 10%
    const me = await newSubscriber(sub);
    const other = await newSubscriber(sub);
    await report(me.tokenId, sub, 'close', 50, '2025-05-10T10:00:00Z');
    await report(other.tokenId, sub, 'close', 70, '2025-05-11T10:00:00Z');
    await charge('2025-05', sub);
    const exported = await exportUser(app, Date.now(), me.userId);
    expect((exported.paidLicenses as { token_id: string }[]).map((r) => r.token_id)).toEqual([me.tokenId]);
    const periods = exported.performanceFeePeriods as { token_id: string; fee_minor: string }[];
    expect(periods.map((p) => [p.token_id, String(p.fee_minor)])).toEqual([[me.tokenId, '500']]);
  });
});

describe('row-level security of the fees', () => {
  it('a subscriber reads only its own fee entries and period rows, and cannot insert either', async () => {
    const sub = await newSubscription(2000);
    const alice = await newSubscriber(sub);
    const bob = await newSubscriber(sub);
    await report(alice.tokenId, sub, 'close', 100, '2025-10-01T00:00:00Z');
    await report(bob.tokenId, sub, 'close', 300, '2025-10-02T00:00:00Z');
    await charge('2025-10', sub);
    const asAlice: Tenant = { userId: alice.userId, role: 'subscriber' };
    const asBob: Tenant = { userId: bob.userId, role: 'subscriber' };

    const ledgerOf = async (tenant: Tenant) =>
      (await withTenant(app, tenant, (c) => c.query<{ user_id: string; amount_minor: string; entry_type: string }>('SELECT user_id, amount_minor, entry_type FROM billing_ledger'))).rows;
    expect(await ledgerOf(asAlice)).toEqual([{ user_id: alice.userId, amount_minor: '2000', entry_type: 'FEE' }]);
    expect(await ledgerOf(asBob)).toEqual([{ user_id: bob.userId, amount_minor: '6000', entry_type: 'FEE' }]);
    // Without a tenant: nothing.
    expect((await app.query('SELECT 1 FROM billing_ledger')).rows).toEqual([]);
    expect((await app.query('SELECT 1 FROM performance_fee_periods')).rows).toEqual([]);
    expect((await app.query('SELECT 1 FROM performance_fee_marks')).rows).toEqual([]);

    const alicePeriods = await readFeePeriods(app, alice.userId);
    expect(alicePeriods.map((r) => [r.tokenId, r.feeMinor])).toEqual([[alice.tokenId, 2000n]]);
    const marksAsAlice = await withTenant(app, asAlice, (c) => c.query('SELECT 1 FROM performance_fee_marks'));
    expect(marksAsAlice.rows).toEqual([]);

    const refused = async (sql: string, params: unknown[]): Promise<string | undefined> =>
      withTenant(app, asAlice, (c) => c.query(sql, params)).then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
    // 42501: new row violates row-level security policy (or no privilege).
    expect(await refused("INSERT INTO billing_ledger (user_id, subscription_id, entry_type, amount_minor, currency) VALUES ($1, $2, 'FEE', -2000, 'USD')", [alice.userId, sub])).toBe('42501');
    expect(
      await refused(
        `INSERT INTO performance_fee_periods (token_id, period, subscription_id, user_id, currency, rate_bp, result_count, cumulative_minor, previous_mark_minor, mark_minor, fee_minor)
         VALUES ($1, '2025-11-01', $2, $3, 'USD', 0, 0, 0, 0, 0, 0)`,
        [alice.tokenId, sub, alice.userId],
      ),
    ).toBe('42501');
    expect(await refused('UPDATE performance_fee_marks SET mark_minor = 0', [])).toBe(undefined); // no row visible: changes nothing
    expect(await refused('UPDATE performance_fee_periods SET fee_minor = 0', [])).toBe('42501');
    expect(await refused('DELETE FROM performance_fee_periods', [])).toBe('42501');
    expect(await ledgerOf(asAlice)).toHaveLength(1);
    expect(await feeEntries(sub)).toEqual([2000, 6000]);
    const marks = await db.pool.query<{ mark_minor: string }>('SELECT mark_minor::text AS mark_minor FROM performance_fee_marks WHERE subscription_id = $1 ORDER BY mark_minor', [sub]);
    expect(marks.rows.map((r) => r.mark_minor)).toEqual(['10000', '30000']);
  });

  it('the fee tables have row-level security enabled and forced', async () => {
    const { rows } = await db.pool.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('performance_fee_periods', 'performance_fee_marks') ORDER BY relname",
    );
    expect(rows).toEqual([
      { relname: 'performance_fee_marks', relrowsecurity: true, relforcerowsecurity: true },
      { relname: 'performance_fee_periods', relrowsecurity: true, relforcerowsecurity: true },
    ]);
  });
});

describe('the admin API routes (io/admin/performance-fees-routes.ts, handlers called directly)', () => {
  it('are among the routes the admin API matches', () => {
    for (const r of performanceFeeRoutes) {
      const matched = matchRoute(r.method, r.pattern.replace(':id', randomUUID()));
      expect(matched.route, `${r.method} ${r.pattern}`).toBe(r);
    }
  });

  it('set the rate, name the subscriber and charge as the calling admin user; bad bodies are 400', async () => {
    const route = (method: string, pattern: string): AdminRoute => performanceFeeRoutes.find((r) => r.method === method && r.pattern === pattern)!;
    // The handlers act with the admin store's pool: here the LOGIN member of sigplane_app.
    const deps = { adminStore: { pool: app } } as unknown as AdminDeps;
    const { rows } = await db.pool.query<{ user_id: string }>("INSERT INTO users (email, role) VALUES ($1, 'admin') RETURNING user_id", [`ops-${randomUUID()}@example.com`]);
    const adminUserId = rows[0].user_id;
    const request = (params: string[], body: unknown): AdminRequest => ({
      principal: { userId: adminUserId, email: 'ops@example.com', role: 'admin', credentialId: randomUUID() },
      params,
      query: new URLSearchParams(),
      body,
      audit: {},
    });
    const sub = await newSubscription();
    const tokenId = await newLicense(sub);
    await report(tokenId, sub, 'close', 40, '2025-11-03T00:00:00Z');

    const rate = await route('PATCH', '/admin/v1/subscriptions/:id/performance-fee-rate').handle(request([sub], { rateBp: 1000 }), deps);
    expect(rate.body).toEqual({ subscriptionId: sub, rateBp: 1000 });
    await expect(route('PATCH', '/admin/v1/subscriptions/:id/performance-fee-rate').handle(request([sub], { rateBp: 9000 }), deps)).rejects.toMatchObject({ status: 400 });
    await expect(route('POST', '/admin/v1/billing/performance-fees').handle(request([], { period: '2025-11', extra: 1 }), deps)).rejects.toMatchObject({ status: 400 });
    await route('POST', '/admin/v1/tokens/:id/subscriber').handle(request([tokenId], { email: `api-${randomUUID()}@example.com` }), deps);

    const charged = await route('POST', '/admin/v1/billing/performance-fees').handle(request([], { period: '2025-11', subscriptionId: sub }), deps);
    expect(charged.body).toMatchObject({ period: '2025-11', charged: 1, feesMinor: { USD: '400' }, licenses: [{ tokenId, outcome: 'charged', feeMinor: '400' }] });
    const createdBy = await db.pool.query<{ created_by: string }>('SELECT created_by FROM billing_ledger WHERE subscription_id = $1', [sub]);
    expect(createdBy.rows).toEqual([{ created_by: adminUserId }]);
  });
});
