/**
 * PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`;
 * "Binary Format" under COPY in the Postgres docs): a signature and header,
 * then per row a 16-bit field count and per field a 32-bit length (-1 for
 * NULL) and the value in the type's binary send format, then a -1 trailer.
 *
 * Used for the signals, the shipper's one high-volume table: against the
 * text format it costs about half the shipper's encoding time and half of
 * Postgres's parsing (no float or hex text either way), and it carries the
 * final column types, so rows can go straight into `signals`
 * (timestamptz and numeric included) without a staging table.
 *
 * Every value written here reaches Postgres unchanged, except text, which
 * follows copy-text.ts's rule: U+0000 and lone surrogates become U+FFFD.
 */

const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in Unix ms. */
const postgresEpochMs = 946_684_800_000;
const twoTo32 = 4_294_967_296;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const unsignedDecimal = /^(0|[1-9][0-9]*)$/;
/** numeric's binary digits are base 10,000: each holds four decimal ones. */
const numericDigitsPerGroup = 4;

/** One COPY stream's data, written into one growing buffer and handed out in chunks. */
export class BinaryCopyWriter {
  private buffer: Buffer;
  private at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
    this.raw(signature);
    this.int32(0); // flags: no OIDs
    this.int32(0); // header extension length
  }

  /** Starts a row of `fields` fields. */
  row(fields: number): void {
    this.int16(fields);
  }

  null(): void {
    this.int32(-1);
  }

  /** int2 (smallint). */
  smallint(value: number): void {
    if (!Number.isInteger(value) || value < -32_768 || value > 32_767) throw new RangeError(`smallint: ${String(value)}`);
    this.int32(2);
    this.int16(value);
  }

  /** int8 (bigint) from a safe integer. */
  bigint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`bigint: not a safe integer: ${String(value)}`);
    this.int32(8);
    this.int64(value);
  }

  /** float8, any double (Postgres takes the IEEE 754 bits as they are). */
  float8(value: number): void {
    if (typeof value !== 'number') throw new TypeError(`float8: not a number: ${typeof value}`);
    this.int32(8);
    this.reserve(8);
    this.buffer.writeDoubleBE(value, this.at);
    this.at += 8;
  }

  /** text, as UTF-8; U+0000 becomes U+FFFD (Postgres refuses NUL in text), as lone surrogates do in the encoder. */
  text(value: string): void {
    if (typeof value !== 'string') throw new TypeError(`text: not a string: ${typeof value}`);
    const s = value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
    const bytes = Buffer.byteLength(s, 'utf8');
    this.int32(bytes);
    this.reserve(bytes);
    this.buffer.write(s, this.at, bytes, 'utf8');
    this.at += bytes;
  }

  bytea(value: Uint8Array): void {
    if (!(value instanceof Uint8Array)) throw new TypeError('bytea: not a Uint8Array');
    this.int32(value.length);
    this.raw(value);
  }

  /** uuid from its canonical text (any case). */
  uuid(value: string): void {
    if (typeof value !== 'string' || !uuidPattern.test(value)) throw new RangeError(`uuid: ${JSON.stringify(String(value).slice(0, 40))}`);
    this.int32(16);
    this.reserve(16);
    const hex = value.slice(0, 8) + value.slice(9, 13) + value.slice(14, 18) + value.slice(19, 23) + value.slice(24);
    this.buffer.write(hex, this.at, 16, 'hex');
    this.at += 16;
  }

  /** timestamptz from Unix milliseconds (fractions kept to the microsecond, as to_timestamp(ms / 1000) does). */
  timestamptzFromMs(ms: number): void {
    const micros = Math.round((ms - postgresEpochMs) * 1000);
    if (!Number.isSafeInteger(micros)) throw new RangeError(`timestamptz: ${String(ms)} ms is out of range`);
    this.int32(8);
    this.int64(micros);
  }

  /** numeric from an unsigned decimal integer's text ("0", "18446744073709551615"). */
  numericFromDecimal(value: string): void {
    if (typeof value !== 'string' || !unsignedDecimal.test(value)) throw new RangeError(`numeric: not an unsigned decimal integer: ${JSON.stringify(String(value).slice(0, 40))}`);
    // Base-10000 digits, most significant first: left-pad to whole groups of four.
    const padded = value.padStart(Math.ceil(value.length / numericDigitsPerGroup) * numericDigitsPerGroup, '0');
    const digits: number[] = [];
    for (let i = 0; i < padded.length; i += numericDigitsPerGroup) digits.push(Number(padded.slice(i, i + numericDigitsPerGroup)));
    // The first digit counts 10000 ** weight; it is not 0 (the pattern allows no leading zero), but "0" has no digits at all.
    const weight = digits.length - 1;
    while (digits.length > 0 && digits[digits.length - 1] === 0) digits.pop(); // trailing zero digits are implied
    this.int32(8 + 2 * digits.length);
    this.int16(digits.length);
    this.int16(digits.length === 0 ? 0 : weight);
    this.int16(0); // sign: positive
    this.int16(0); // display scale: an integer
    for (const d of digits) this.int16(d);
  }

  /** Ends the data and returns it in chunks of at most chunkBytes (the writer is spent). */
  finish(chunkBytes: number): Buffer[] {
    if (!(chunkBytes >= 1)) throw new RangeError(`chunkBytes ${chunkBytes}`);
    this.int16(-1);
    const data = this.buffer.subarray(0, this.at);
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += chunkBytes) chunks.push(data.subarray(i, Math.min(data.length, i + chunkBytes)));
    return chunks;
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }

  private int16(value: number): void {
    this.reserve(2);
    this.buffer.writeInt16BE(value, this.at);
    this.at += 2;
  }

  private int32(value: number): void {
    this.reserve(4);
    this.buffer.writeInt32BE(value, this.at);
    this.at += 4;
  }

  /** A safe integer as a two's complement 64-bit big-endian value. */
  private int64(value: number): void {
    this.reserve(8);
    const high = Math.floor(value / twoTo32);
    this.buffer.writeInt32BE(high, this.at);
    this.buffer.writeUInt32BE(value - high * twoTo32, this.at + 4);
    this.at += 8;
  }
}
