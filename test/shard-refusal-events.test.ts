/**
 * The refusals a shard decides itself (the subscription actor's REPLAY,
 * PRICE_DEVIATION, POSITION_UNKNOWN, ...; the shard's REPORT_NOT_DELIVERED)
 * are security events, as the I/O thread's are: journaled in the batch that
 * refused them (so already in the journal when the client reads the
 * refusal), naming the refused connection's role and address, and logged.
 * A storm is bounded: past the subscription's budget the refusals are
 * counted, and the rows one by one plus the summaries' counts are every
 * refusal. Real server, real shard thread, real sockets; the journal is read
 * with SQLite as it is written. The same rules without the thread, with a
 * clock of the test's and a storm of 300: test/shard-core.test.ts.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalPathOf } from '../persistence/journal';
import { encodeFrame, rejectCodeName, executionReportObject } from '@sigplane/protocol';
import { openMaster, openReceiver, send } from './support/e2e';
import { skipReport } from './support/reports';
import { v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';
import type { WireClient } from './support/wire-client';

/** One by one, then nothing more for the whole test (the refill, 0.001 a second, adds no whole token). */
const budget = { ratePerSecond: 0.001, burst: 8 };

let t: TestServer;
const logged: Record<string, unknown>[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestServer({
    shardCount: 1,
    shardRefusalBudget: budget,
    log: (level, message, fields) => {
      if (message === 'security event') logged.push(fields ?? {});
      else if (level !== 'info') console.error(`[server ${level}] ${message} ${JSON.stringify(fields ?? {})}`);
    },
  });
});
afterAll(async () => {
  for (const close of closers) await close();
  await t?.close();
});

interface EventRow {
  code: string;
  subscription_id: string | null;
  role: string | null;
  remote_address: string;
  sequence: number | null;
  detail: string;
}

/** The journal's security events of a subscription, as committed now. */
function journaled(subscriptionId: string): EventRow[] {
  const db = new Database(journalPathOf(t.dataDir, 0), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[string], EventRow>('SELECT code, subscription_id, role, remote_address, sequence, detail FROM security_events WHERE subscription_id = ? ORDER BY journal_id')
      .all(subscriptionId);
  } finally {
    db.close();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const summary = /^(\d+) more (\w+) refusal\(s\)/;

async function opened(client: Promise<WireClient>): Promise<WireClient> {
  const c = await client;
  closers.push(() => c.close());
  return c;
}

describe('refusals decided in a shard', () => {
  it('journal each refusal before it is sent, under the code the client got, naming the refused connection, and log it', async () => {
    const s = await t.subscription({ allowIp: '127.0.0.0/8' });
    const master = await opened(openMaster(t, s, '127.0.9.1'));
    const receiver = await opened(openReceiver(t, s.receiverToken, 0, '127.0.9.2'));
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });

    const refusals: [string, Uint8Array, number][] = [
      ['REPLAY', v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1, { volume: 0.2 })), 1],
      ['PRICE_DEVIATION', v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2, { price: 1.2 })), 2],
      ['POSITION_UNKNOWN', v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 2, { action: 3, positionId: 424242 })), 2],
    ];
    for (const [code, frame, sequence] of refusals) {
      expect(await send(master, frame)).toEqual({ kind: 'reject', code, sequence });
      // Already journaled when the client has the refusal: the same commit.
      const row = journaled(s.subscriptionId).at(-1);
      expect(row, code).toMatchObject({ code, subscription_id: s.subscriptionId, role: 'master', remote_address: '127.0.9.1', sequence });
      expect(row!.detail.length, code).toBeGreaterThan(0);
    }

    const from = receiver.frames.length;
    receiver.send(encodeFrame({ executionReport: executionReportObject(skipReport(99, '11')) }));
    const answer = await receiver.waitFor((f) => f.kind === 'reject', 10_000, from);
    expect(answer.kind === 'reject' && rejectCodeName(answer.reject.code)).toBe('REPORT_NOT_DELIVERED');
    expect(journaled(s.subscriptionId).at(-1)).toMatchObject({ code: 'REPORT_NOT_DELIVERED', role: 'receiver', remote_address: '127.0.9.2', sequence: 99 });

    expect(journaled(s.subscriptionId).map((r) => r.code)).toEqual(['REPLAY', 'PRICE_DEVIATION', 'POSITION_UNKNOWN', 'REPORT_NOT_DELIVERED']);
    await until('the four logged', () => logged.filter((f) => f.subscriptionId === s.subscriptionId).length === 4);
    expect(logged.filter((f) => f.subscriptionId === s.subscriptionId).map((f) => [f.code, f.remoteAddress])).toEqual([
      ['REPLAY', '127.0.9.1'],
      ['PRICE_DEVIATION', '127.0.9.1'],
      ['POSITION_UNKNOWN', '127.0.9.1'],
      ['REPORT_NOT_DELIVERED', '127.0.9.2'],
    ]);
  });

  it('records a storm one by one up to the budget and counts the rest, every refusal accounted for', async () => {
    const s = await t.subscription({ allowIp: '127.0.0.0/8' });
    const master = await opened(openMaster(t, s, '127.0.9.3'));
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    const storm = 40;
    const from = master.frames.length;
    const replay = v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1, { volume: 0.3 }));
    for (let i = 0; i < storm; i++) master.send(replay);
    await until('every refusal answered', () => master.frames.slice(from).filter((f) => f.kind === 'reject').length === storm);
    expect(master.frames.slice(from).every((f) => f.kind === 'reject' && rejectCodeName(f.reject.code) === 'REPLAY')).toBe(true);

    const counted = (rows: EventRow[]): { oneByOne: number; summarized: number } => {
      let oneByOne = 0;
      let summarized = 0;
      for (const row of rows) {
        const m = summary.exec(row.detail);
        if (m === null) oneByOne++;
        else summarized += Number(m[1]);
      }
      return { oneByOne, summarized };
    };
    await until('every refusal journaled or counted', () => {
      const c = counted(journaled(s.subscriptionId));
      return c.oneByOne + c.summarized === storm;
    });
    const rows = journaled(s.subscriptionId);
    expect(counted(rows)).toEqual({ oneByOne: budget.burst, summarized: storm - budget.burst });
    for (const row of rows) expect(row).toMatchObject({ code: 'REPLAY', subscription_id: s.subscriptionId, role: 'master', remote_address: '127.0.9.3' });
    // A summary names no sequence; it stands for many.
    expect(rows.filter((r) => summary.test(r.detail)).every((r) => r.sequence === null)).toBe(true);
  });
});
