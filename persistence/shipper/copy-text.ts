/**
 * Values in PostgreSQL's COPY text format (the default format of
 * `COPY ... FROM STDIN`): one row per line, columns separated by a tab,
 * `\N` for NULL, and inside a value a backslash escapes the characters that
 * would otherwise end it. See "File Formats" under COPY in the Postgres docs.
 *
 * What this module guarantees: a string passed through `copyText` reaches
 * the column unchanged, except for two characters no Postgres text value can
 * hold in UTF-8:
 * - U+0000 (NUL) becomes U+FFFD (Postgres refuses NUL in text; one such
 *   byte would refuse the whole batch, for good);
 * - a lone UTF-16 surrogate becomes U+FFFD (Node's UTF-8 encoder does it).
 * Both can only arrive in attacker-influenced strings (security events);
 * the journal keeps the original.
 */

/** NULL in COPY text format. */
export const copyNull = '\\N';

const needsEscape = /[\\\t\n\r\0]/;
const escapable = /[\\\t\n\r\0]/g;
const escapes: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\uFFFD',
};

/** A text value: backslash, tab, newline and CR escaped, NUL replaced (see above). */
export function copyText(value: string): string {
  if (typeof value !== 'string') throw new TypeError(`copyText: not a string: ${typeof value}`);
  return needsEscape.test(value) ? value.replace(escapable, (c) => escapes[c]) : value;
}

/** A nullable text value. */
export function copyTextOrNull(value: string | null): string {
  return value === null ? copyNull : copyText(value);
}

/**
 * A bytea value in hex form. bytea's input function reads `\x0a0b`; COPY
 * first turns `\\` into `\`, so the field is `\\x0a0b`.
 */
export function copyBytea(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('copyBytea: not a Uint8Array');
  return `\\\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/**
 * A finite double for a float8 column. `String` gives the shortest text that
 * reads back as the same double, and float8in reads it exactly.
 */
export function copyFloat(value: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`copyFloat: not a finite number: ${String(value)}`);
  return Object.is(value, -0) ? '-0' : String(value);
}

/** A safe integer for an integer/bigint column (never exponent notation). */
export function copyInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`copyInteger: not a safe integer: ${String(value)}`);
  return String(value);
}

/** A nullable safe integer. */
export function copyIntegerOrNull(value: number | null): string {
  return value === null ? copyNull : copyInteger(value);
}

/** A nullable finite double. */
export function copyFloatOrNull(value: number | null): string {
  return value === null ? copyNull : copyFloat(value);
}

/** One row: already-encoded fields, tab-separated, newline-terminated. */
export function copyRow(fields: readonly string[]): string {
  return `${fields.join('\t')}\n`;
}
