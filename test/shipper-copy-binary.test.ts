/**
 * Binary COPY (persistence/shipper/copy-binary.ts) through a real Postgres:
 * every type the signals use, with edge values, read back as Postgres
 * stored them; the writer's refusals; and one shipping transaction of
 * signals, seen from the SQL it sends: the direct way when the keys are
 * new, the staging way (and nothing changed) when they are already there.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalRecord } from '@sigplane/protocol';
import { BinaryCopyWriter } from '../persistence/shipper/copy-binary';
import type { SignalRow } from '../persistence/shipper/journal-rows';
import { ensureWatermarkRows, openSession } from '../persistence/shipper/pg-session';
import { copyChunks, readyBatch, shipBatch, type BatchSource } from '../persistence/shipper/ship-batch';
import { createTestDatabase, type TestDatabase } from './support/database';

let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

interface Row {
  u: string;
  b: number;
  t: number;
  x: string;
  s: number;
  f: number;
  n: string | null;
  y: Uint8Array;
}

const rows: Row[] = [
  { u: '00000000-0000-0000-0000-000000000000', b: 0, t: 0, x: '', s: 0, f: 0, n: '0', y: new Uint8Array(0) },
  { u: 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF', b: Number.MAX_SAFE_INTEGER, t: 946_684_800_000, x: 'tab\there\nnew line \\ back slash', s: 32_767, f: -0, n: '18446744073709551615', y: Uint8Array.from({ length: 256 }, (_, i) => i) },
  { u: randomUUID(), b: -Number.MAX_SAFE_INTEGER, t: 1_795_943_550_747.5, x: 'unicode é 中文 🚀 👨‍👩‍👧‍👦', s: -32_768, f: 1.7976931348623157e308, n: '10000', y: Uint8Array.of(0) },
  { u: randomUUID(), b: 4_294_967_296, t: -1_000_000_000_000.25, x: 'x'.repeat(70_000), s: 1, f: 0.1 + 0.2, n: '100000000', y: Uint8Array.of(255, 0, 255) },
  { u: randomUUID(), b: 4_294_967_295, t: 1_700_000_000_123, x: "quote ' \" ; DROP TABLE signals; --", s: -1, f: 5e-324, n: '9999', y: Uint8Array.of(1) },
  { u: randomUUID(), b: -1, t: 1_700_000_000_000.001, x: 'plain', s: 2, f: -123.456, n: null, y: Uint8Array.of(2) },
];

function encode(all: readonly Row[], chunkBytes: number): Buffer[] {
  const w = new BinaryCopyWriter(16); // tiny first buffer: every write has to grow it
  for (const r of all) {
    w.row(8);
    w.uuid(r.u);
    w.bigint(r.b);
    w.timestamptzFromMs(r.t);
    w.text(r.x);
    w.smallint(r.s);
    w.float8(r.f);
    if (r.n === null) w.null();
    else w.numericFromDecimal(r.n);
    w.bytea(r.y);
  }
  return w.finish(chunkBytes);
}

describe('binary COPY writer', () => {
  it('round-trips every type the signals use, edge values included, whatever the chunk size', async () => {
    for (const chunkBytes of [1, 7, 64 * 1024]) {
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS bin (
        u UUID, b BIGINT, t TIMESTAMPTZ, x TEXT, s SMALLINT, f DOUBLE PRECISION, n NUMERIC(20, 0), y BYTEA)`);
      await client.query('TRUNCATE bin');
      const copied = await copyChunks(client, 'COPY bin (u, b, t, x, s, f, n, y) FROM STDIN (FORMAT binary)', encode(rows, chunkBytes));
      expect(copied).toBe(rows.length);
      const back = await client.query<{ u: string; b: string; t: string; x: string; s: number; f: number; n: string | null; y: Buffer }>(
        `SELECT u::text, b::text, (extract(epoch FROM t) * 1000)::text AS t, x, s, f, n::text, y FROM bin ORDER BY bin.b`,
      );
      const want = [...rows].sort((a, z) => a.b - z.b);
      expect(back.rows.map((r) => ({ ...r, y: [...r.y], t: Number(r.t), f: Object.is(r.f, -0) ? '-0' : r.f }))).toEqual(
        want.map((r) => ({
          u: r.u.toLowerCase(),
          b: String(r.b),
          // to_timestamp's precision: microseconds.
          t: Math.round(r.t * 1000) / 1000,
          x: r.x,
          s: r.s,
          f: Object.is(r.f, -0) ? '-0' : r.f,
          n: r.n,
          y: [...r.y],
        })),
      );
    }
  });

  it('stores a NUL or a lone surrogate in text as U+FFFD, as the text format does', async () => {
    await client.query('CREATE TEMP TABLE IF NOT EXISTS bintext (x TEXT)');
    await client.query('TRUNCATE bintext');
    const w = new BinaryCopyWriter();
    for (const x of ['a\0b', 'lone \uD800 high', 'lone \uDC00 low']) {
      w.row(1);
      w.text(x);
    }
    expect(await copyChunks(client, 'COPY bintext (x) FROM STDIN (FORMAT binary)', w.finish(1024))).toBe(3);
    const back = await client.query<{ x: string }>('SELECT x FROM bintext');
    expect(back.rows.map((r) => r.x).sort()).toEqual(['a\uFFFDb', 'lone \uFFFD high', 'lone \uFFFD low'].sort());
  });

  it('refuses what the column types cannot hold exactly, before anything is sent', () => {
    const w = new BinaryCopyWriter();
    expect(() => w.uuid('not-a-uuid')).toThrow(RangeError);
    expect(() => w.uuid('0000000000000000000000000000000000ff')).toThrow(RangeError);
    expect(() => w.bigint(2 ** 53)).toThrow(RangeError);
    expect(() => w.bigint(1.5)).toThrow(RangeError);
    expect(() => w.smallint(32_768)).toThrow(RangeError);
    expect(() => w.numericFromDecimal('007')).toThrow(RangeError);
    expect(() => w.numericFromDecimal('-1')).toThrow(RangeError);
    expect(() => w.numericFromDecimal('1e3')).toThrow(RangeError);
    expect(() => w.timestamptzFromMs(Number.MAX_VALUE)).toThrow(RangeError);
    expect(() => w.text(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('shipping signals', () => {
  const sub = randomUUID();
  const signal = (sequence: number): SignalRecord => ({
    subscriptionId: sub,
    sequence,
    generatedAtMs: 1_795_943_550_000 + sequence + 0.5,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    action: 1,
    positionId: sequence % 2 === 0 ? '' : String(10n ** 19n + BigInt(sequence)),
    stopLoss: 1.05,
    takeProfit: 1.2,
    magic: sequence % 3 === 0 ? '' : '42',
    signingVersion: 2,
    content: Uint8Array.of(sequence & 0xff, 0, 255),
    receivedAtMs: 1_795_943_550_100 + sequence,
  });
  /** Signals 1..count with journal_id = sequence, from memory. */
  const source = (count: number): BatchSource<'signals'> => ({
    table: 'signals',
    name: 'memory',
    highestJournalId: () => count,
    batchAfter(watermark, limits) {
      const rows: SignalRow[] = [];
      for (let id = watermark + 1; id <= Math.min(count, watermark + limits.rowsMax); id++) rows.push({ journalId: id, record: signal(id) });
      return readyBatch('signals', rows, limits.copyChunkBytes);
    },
  });
  const limits = { rowsMax: 1000, bytesMax: 1 << 24, copyChunkBytes: 4096, timeoutMs: 30_000 };

  it('takes the direct way for new keys and the staging way for a replay, which changes nothing', async () => {
    const session = await openSession({ databaseUrl: db.url, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 30_000 }, () => undefined);
    try {
      await ensureWatermarkRows(session, 'node-bin', 1);
      const sent: string[] = [];
      const query = session.query.bind(session) as (...args: unknown[]) => unknown;
      (session as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string; _copySql?: string })?.text ?? '';
        sent.push(text);
        return query(...args);
      };
      const origin = { nodeId: 'node-bin', shard: 0 };

      const first = await shipBatch(session, source(300), origin, limits);
      expect(first).toMatchObject({ rows: 300, inserted: 300, conflicting: 0, watermark: 300 });
      expect(sent.some((s) => s.startsWith('SAVEPOINT'))).toBe(true);
      expect(sent.some((s) => /^INSERT INTO signals/.test(s))).toBe(false);
      const stored = await db.pool.query(
        `SELECT sequence::int AS seq, (extract(epoch FROM generated_at) * 1000)::float8 AS gen, position_id::text AS pos, magic, content,
                (extract(epoch FROM received_at) * 1000)::float8 AS recv
         FROM signals WHERE subscription_id = $1 ORDER BY sequence`,
        [sub],
      );
      expect(stored.rows).toHaveLength(300);
      for (const row of stored.rows) {
        const want = signal(row.seq);
        expect({ gen: row.gen, pos: row.pos, magic: row.magic, content: [...row.content], recv: row.recv }).toEqual({
          gen: want.generatedAtMs,
          pos: want.positionId === '' ? null : want.positionId,
          magic: want.magic,
          content: [...want.content],
          recv: want.receivedAtMs,
        });
      }

      // The watermark goes back (a replay): the direct COPY meets the keys, the staging way inserts nothing.
      await db.pool.query(`UPDATE journal_watermarks SET shipped_journal_id = 0 WHERE node_id = 'node-bin'`);
      sent.length = 0;
      const replay = await shipBatch(session, source(300), origin, limits);
      expect(replay).toMatchObject({ rows: 300, inserted: 0, conflicting: 0, watermark: 300 });
      expect(sent.some((s) => s.startsWith('ROLLBACK TO SAVEPOINT'))).toBe(true);
      expect(sent.some((s) => /^INSERT INTO signals/.test(s))).toBe(true);
      expect((await db.pool.query('SELECT count(*)::int AS n FROM signals WHERE subscription_id = $1', [sub])).rows[0].n).toBe(300);
    } finally {
      await session.end();
    }
  });
});
