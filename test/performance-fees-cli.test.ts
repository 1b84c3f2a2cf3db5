/**
 * `sigplane billing charge-fees | fee-rate | assign-subscriber` as the
 * built command (node dist/cli/main.js) against a test database: --help,
 * bad input exits 2 and changes nothing, a run prints one line per license
 * and a summary, a second run of the same month charges nothing.
 */
import crypto, { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './support/cli-process';
import { createTestDatabase, type TestDatabase } from './support/database';

const kek = crypto.randomBytes(32).toString('base64');
let database: TestDatabase;
let tempDir: string;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(e)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete e[name];
  return { ...e, DATABASE_URL: database.url, SIGPLANE_KEK: kek };
}

function sigplane(args: string[]): Promise<CliRun> {
  return runCli([...args, '--data', path.join(tempDir, 'data')], { env: env(), cwd: tempDir });
}

beforeAll(async () => {
  database = await createTestDatabase();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-fees-cli-'));
});

afterAll(async () => {
  await database?.drop();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

async function ledgerCount(): Promise<number> {
  return (await database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM billing_ledger')).rows[0].n;
}

describe('sigplane billing (performance fees)', () => {
  it('--help describes charge-fees; bad input exits 2 and writes nothing', async () => {
    const help = await sigplane(['billing', 'charge-fees', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--period/);
    expect(help.stdout).toMatch(/high-water mark/);
    const future = new Date(Date.now() + 40 * 24 * 3600 * 1000).toISOString().slice(0, 7);
    for (const args of [
      ['billing', 'charge-fees'],
      ['billing', 'charge-fees', '--period', '2025-13'],
      ['billing', 'charge-fees', '--period', 'march'],
      ['billing', 'charge-fees', '--period', future],
      ['billing', 'charge-fees', '--period', '2025-01', '--subscription', 'nope'],
      ['billing', 'charge-fees', '--period', '2025-01', '--bogus'],
      ['billing', 'fee-rate', '--subscription', crypto.randomUUID(), '--percent', '51'],
      ['billing', 'fee-rate', '--subscription', crypto.randomUUID(), '--percent', '12.345'],
      ['billing', 'fee-rate', '--subscription', crypto.randomUUID(), '--percent', '-1'],
    ]) {
      const r = await sigplane(args);
      expect(r.code, `${args.join(' ')}: ${r.stdout} ${r.stderr}`).toBe(2);
    }
    expect(await ledgerCount()).toBe(0);
  });

  it('sets a rate, names a subscriber, charges a month once with one line per license', async () => {
    const { rows } = await database.pool.query<{ subscription_id: string }>("INSERT INTO subscriptions (name) VALUES ('cli fees') RETURNING subscription_id");
    const sub = rows[0].subscription_id;
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await database.pool.query<{ token_id: string }>(
        "INSERT INTO license_tokens (subscription_id, role, token_hash, token_prefix) VALUES ($1, 'receiver', $2, 'spr_test') RETURNING token_id",
        [sub, randomBytes(32).toString('hex')],
      );
      tokens.push(t.rows[0].token_id);
    }
    let sequence = 1;
    for (const [token, profit] of [[tokens[0], 120.5], [tokens[0], -20.5], [tokens[1], 33]] as const) {
      await database.pool.query(
        `INSERT INTO execution_reports (subscription_id, receiver_id, sequence, master_position_id, kind, volume, executed_at, profit, currency)
         VALUES ($1, $2, $3, 'p1', 'close', 1, '2025-04-15T12:00:00Z', $4, 'EUR')`,
        [sub, token, sequence++, profit],
      );
    }

    const rate = await sigplane(['billing', 'fee-rate', '--subscription', sub, '--percent', '12.5']);
    expect(rate.code, rate.stderr).toBe(0);
    expect(JSON.parse(rate.stdout)).toMatchObject({ subscriptionId: sub, rateBp: 1250, percent: '12.50' });
    const assigned = await sigplane(['billing', 'assign-subscriber', '--token-id', tokens[0], '--email', 'Carol@Example.com']);
    expect(assigned.code, assigned.stderr).toBe(0);
    const carol = JSON.parse(assigned.stdout) as { userId: string; createdUser: boolean };
    expect(carol.createdUser).toBe(true);

    const first = await sigplane(['billing', 'charge-fees', '--period', '2025-04', '--subscription', sub]);
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toBe(`performance fees 2025-04 of subscription ${sub}`);
    // 12.5% of 100.00 EUR for the assigned license; the other has no subscriber.
    expect(lines[1]).toContain(`license ${tokens[0]}`);
    expect(lines[1]).toContain('charged: 2 closed result(s) in the period, cumulative 100.00 EUR, mark 0.00 EUR -> 100.00 EUR, rate 12.50%, fee 12.50 EUR');
    expect(lines[2]).toContain(`license ${tokens[1]}`);
    expect(lines[2]).toContain('unassigned');
    expect(lines[3]).toMatch(/^done: 2 license\(s\), 1 charged now, .* fees written: 12.50 EUR$/);
    const ledger = await database.pool.query<{ user_id: string; amount_minor: string; entry_type: string; currency: string }>(
      'SELECT user_id, amount_minor::text AS amount_minor, entry_type, currency FROM billing_ledger',
    );
    expect(ledger.rows).toEqual([{ user_id: carol.userId, amount_minor: '1250', entry_type: 'FEE', currency: 'EUR' }]);

    const second = await sigplane(['billing', 'charge-fees', '--period', '2025-04']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('already-charged');
    expect(second.stdout).toMatch(/0 charged now, 1 already charged/);
    expect(await ledgerCount()).toBe(1);

    const audit = await database.pool.query<{ action: string }>("SELECT action FROM audit_log WHERE event_type = 'BILLING' ORDER BY event_time, action");
    expect(audit.rows.map((r) => r.action).sort()).toEqual(['ASSIGN_SUBSCRIBER', 'CHARGE_PERFORMANCE_FEES', 'CHARGE_PERFORMANCE_FEES', 'SET_PERFORMANCE_FEE_RATE']);
  });

  it('fee-rate and its audit row are one transaction: when the row cannot be written, the rate stays as it was', async () => {
    const { rows } = await database.pool.query<{ subscription_id: string }>("INSERT INTO subscriptions (name) VALUES ('cli fee rate audit') RETURNING subscription_id");
    const sub = rows[0].subscription_id;
    const rateOf = async (): Promise<number | null> =>
      (await database.pool.query<{ rate_bp: number }>('SELECT rate_bp FROM performance_fee_rates WHERE subscription_id = $1', [sub])).rows[0]?.rate_bp ?? null;
    expect((await sigplane(['billing', 'fee-rate', '--subscription', sub, '--percent', '10'])).code).toBe(0);
    expect(await rateOf()).toBe(1000);

    await database.pool.query(`
      CREATE FUNCTION refuse_fee_rate_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action = 'SET_PERFORMANCE_FEE_RATE' THEN RAISE EXCEPTION 'audit row refused by the test'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_fee_rate_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_fee_rate_audit();`);
    try {
      const refused = await sigplane(['billing', 'fee-rate', '--subscription', sub, '--percent', '20']);
      expect(refused.code).not.toBe(0);
      expect(await rateOf()).toBe(1000);
    } finally {
      await database.pool.query('DROP TRIGGER refuse_fee_rate_audit ON audit_log; DROP FUNCTION refuse_fee_rate_audit();');
    }
    expect((await sigplane(['billing', 'fee-rate', '--subscription', sub, '--percent', '20'])).code).toBe(0);
    expect(await rateOf()).toBe(2000);
  });
});
