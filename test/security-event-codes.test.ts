/**
 * Security events are stored under the code the client got. Upgrade
 * refusals used to be stored as AUTH_REFUSED/IP_REFUSED with that code in
 * `detail`: rows already in Postgres are rewritten by migration 040, and
 * rows still in a journal are rewritten as the shipper ships them, so the
 * operators' queries by code find old refusals too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@sigplane/protocol';
import { Journal } from '../persistence/journal';
import { migrate, migrationsDir } from '../persistence/pg/migrate';
import { journalPathOf } from '../persistence/shipper/journal-reader';
import { startShipper } from '../persistence/shipper/shipper';
import { createTestDatabase, type TestDatabase } from './support/database';

let dir: string;
let db: TestDatabase;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-event-codes-'));
});
afterEach(async () => {
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An event as a journal written before this change holds it. */
function legacyEvent(code: string, detail: string, remoteAddress: string): SecurityEvent {
  return { atMs: Date.now(), code: code as SecurityEvent['code'], subscriptionId: null, role: 'receiver', remoteAddress, sequence: null, detail };
}

type Row = { code: string; detail: string; remote_address: string };
const byAddress = (rows: Row[]): Record<string, [string, string]> => Object.fromEntries(rows.map((r) => [r.remote_address, [r.code, r.detail]]));

describe('security event codes of upgrade refusals', () => {
  it('migration 040 rewrites rows shipped as AUTH_REFUSED/IP_REFUSED to the code the client got, and leaves other rows alone', async () => {
    db = await createTestDatabase({ migrate: false });
    const before = path.join(dir, 'migrations');
    fs.mkdirSync(before);
    for (const name of fs.readdirSync(migrationsDir())) {
      if (Number(name.slice(0, 3)) < 40) fs.copyFileSync(path.join(migrationsDir(), name), path.join(before, name));
    }
    await migrate(db.pool, { dir: before });
    const insert = "INSERT INTO security_events (node_id, shard, journal_id, event_time, code, role, remote_address, detail) VALUES ('n', 0, $1, now(), $2, 'receiver', $3, $4)";
    await db.pool.query(insert, [1, 'AUTH_REFUSED', '192.0.2.1', 'UNKNOWN_TOKEN']);
    await db.pool.query(insert, [2, 'IP_REFUSED', '192.0.2.2', 'IP_NOT_ALLOWED']);
    await db.pool.query(insert, [3, 'SIGNATURE_INVALID', '192.0.2.3', 'v2 mac mismatch']);
    await db.pool.query(insert, [4, 'AUTH_REFUSED', '192.0.2.4', 'free text, not a code']);

    const result = await migrate(db.pool);
    expect(result.applied).toContain(40);
    const { rows } = await db.pool.query<Row>('SELECT code, detail, remote_address FROM security_events');
    expect(byAddress(rows)).toEqual({
      '192.0.2.1': ['UNKNOWN_TOKEN', 'upgrade refused'],
      '192.0.2.2': ['IP_NOT_ALLOWED', 'upgrade refused'],
      '192.0.2.3': ['SIGNATURE_INVALID', 'v2 mac mismatch'],
      '192.0.2.4': ['AUTH_REFUSED', 'free text, not a code'],
    });
  });

  it('the shipper ships a journal row written as AUTH_REFUSED/IP_REFUSED under the code the client got', async () => {
    db = await createTestDatabase();
    const journal = Journal.open(journalPathOf(dir, 0), { sync: 'normal' });
    journal.commit({
      signals: [],
      snapshots: [],
      cursors: [],
      states: [],
      securityEvents: [
        legacyEvent('AUTH_REFUSED', 'REVOKED', '198.51.100.1'),
        legacyEvent('IP_REFUSED', 'IP_NOT_ALLOWED', '198.51.100.2'),
        { ...legacyEvent('UNKNOWN_TOKEN', 'no such token', '198.51.100.3') },
      ],
    });
    journal.close();
    const shipper = startShipper({ databaseUrl: db.url, dataDir: dir, shardCount: 1, nodeId: 'node-a', limits: { shipIntervalMs: 20 } });
    try {
      let rows: Row[] = [];
      const deadline = Date.now() + 30_000;
      while (rows.length < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        rows = (await db.pool.query<Row>('SELECT code, detail, remote_address FROM security_events')).rows;
      }
      expect(byAddress(rows)).toEqual({
        '198.51.100.1': ['REVOKED', 'upgrade refused'],
        '198.51.100.2': ['IP_NOT_ALLOWED', 'upgrade refused'],
        '198.51.100.3': ['UNKNOWN_TOKEN', 'no such token'],
      });
    } finally {
      await shipper.stop();
    }
  });
});
