/**
 * COPY text format (persistence/shipper/copy-text.ts): the escapes as
 * written, then a round trip of nasty values through a real Postgres COPY.
 */
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyBytea,
  copyFloat,
  copyInteger,
  copyNull,
  copyRow,
  copyText,
  copyTextOrNull,
} from '../persistence/shipper/copy-text';
import { createTestDatabase, type TestDatabase } from './support/database';

const nasty: string[] = [
  '',
  'plain',
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'crlf\r\n',
  'back\\slash',
  '\\N',
  '\\.',
  '\\',
  '\\\\',
  '\\t not a tab',
  'ends with backslash\\',
  '\t\n\r\\',
  'end of data\n\\.\n',
  "quote ' and \" and ; DROP TABLE signals; --",
  'unicode: é ñ ü 中文 日本語 한국어 العربية עברית',
  'emoji: 🚀📈💶 and a ZWJ family 👨‍👩‍👧‍👦',
  'combining: e\u0301 a\u0308',
  'controls: \u0001\u0002\u0007\b\f\u000b\u001b\u007f',
  'line separators: \u2028 \u2029 \u0085',
  'bom \uFEFF inside',
  ' leading and trailing spaces ',
  'x'.repeat(10_000),
  '\t'.repeat(100) + '\\'.repeat(100) + '\n'.repeat(100),
];

describe('copy text escapes', () => {
  it('escapes backslash, tab, newline and CR, and nothing else', () => {
    expect(copyText('a\\b')).toBe('a\\\\b');
    expect(copyText('a\tb')).toBe('a\\tb');
    expect(copyText('a\nb')).toBe('a\\nb');
    expect(copyText('a\rb')).toBe('a\\rb');
    expect(copyText('\\N')).toBe('\\\\N');
    expect(copyText('\\.')).toBe('\\\\.');
    expect(copyText('plain é 🚀 \u0001')).toBe('plain é 🚀 \u0001');
  });

  it('never leaves a raw tab, newline or CR, nor a lone backslash, in a field', () => {
    for (const s of nasty) {
      const field = copyText(s);
      expect(field).not.toMatch(/[\t\n\r]/);
      // Backslashes come in escape pairs: removing \\, \t, \n, \r leaves none.
      expect(field.replace(/\\[\\tnr]/g, '')).not.toContain('\\');
    }
  });

  it('replaces NUL, which no Postgres text value can hold', () => {
    expect(copyText('a\u0000b')).toBe('a\uFFFDb');
  });

  it('writes NULL as \\N, bytea as \\\\x hex, numbers exactly', () => {
    expect(copyNull).toBe('\\N');
    expect(copyTextOrNull(null)).toBe('\\N');
    expect(copyTextOrNull('\\N')).toBe('\\\\N');
    expect(copyBytea(new Uint8Array([0, 9, 10, 92, 255]))).toBe('\\\\x00090a5cff');
    expect(copyBytea(new Uint8Array(0))).toBe('\\\\x');
    expect(copyFloat(1.08765)).toBe('1.08765');
    expect(copyFloat(-0)).toBe('-0');
    expect(copyFloat(5e-324)).toBe('5e-324');
    expect(copyInteger(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(copyRow(['a', '\\N', 'c'])).toBe('a\t\\N\tc\n');
  });

  it('refuses what it cannot write exactly', () => {
    expect(() => copyFloat(Number.NaN)).toThrow(RangeError);
    expect(() => copyFloat(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => copyInteger(1.5)).toThrow(RangeError);
    expect(() => copyInteger(2 ** 53)).toThrow(RangeError);
    expect(() => copyText(7 as unknown as string)).toThrow(TypeError);
  });
});

describe('copy text round trip through Postgres', () => {
  let db: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE rt (i INT PRIMARY KEY, t TEXT, n TEXT, b BYTEA, f DOUBLE PRECISION)');
  });
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    await db?.drop();
  });

  async function copyLines(lines: string[]): Promise<number> {
    const stream = client.query(copyFrom('COPY rt (i, t, n, b, f) FROM STDIN'));
    await pipeline([lines.join('')], stream);
    return stream.rowCount;
  }

  it('every nasty string, a NULL beside it, bytes and a double come back unchanged', async () => {
    const bytes = (i: number): Buffer => Buffer.from(Array.from({ length: 64 + i }, (_, k) => (k * 37 + i) & 0xff));
    const floats = [0, -0, 1.08765, 0.1 + 0.2, -123456.789, 1e-7, 1e21, 5e-324, Number.MAX_VALUE, 1 / 3];
    const lines = nasty.map((s, i) =>
      copyRow([copyInteger(i), copyText(s), copyTextOrNull(i % 2 === 0 ? null : s), copyBytea(bytes(i)), copyFloat(floats[i % floats.length])]),
    );
    expect(await copyLines(lines)).toBe(nasty.length);
    const { rows } = await client.query<{ i: number; t: string; n: string | null; b: Buffer; f: number }>('SELECT * FROM rt ORDER BY i');
    expect(rows).toHaveLength(nasty.length);
    for (const row of rows) {
      expect(row.t).toBe(nasty[row.i]);
      expect(row.n).toBe(row.i % 2 === 0 ? null : nasty[row.i]);
      expect(Buffer.compare(row.b, bytes(row.i))).toBe(0);
      expect(Object.is(row.f, floats[row.i % floats.length])).toBe(true);
    }
  });

  it('a NUL arrives as U+FFFD instead of refusing the batch; every byte value survives in bytea', async () => {
    await client.query('TRUNCATE rt');
    const all = new Uint8Array(256).map((_, i) => i);
    await copyLines([copyRow(['1', copyText('a\u0000b'), copyNull, copyBytea(all), copyFloat(1)])]);
    const { rows } = await client.query<{ t: string; b: Buffer }>('SELECT t, b FROM rt');
    expect(rows[0].t).toBe('a\uFFFDb');
    expect([...rows[0].b]).toEqual([...all]);
  });
});
