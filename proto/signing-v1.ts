/**
 * v1 signatures: the seed's scheme, byte for byte.
 *
 *   payload   = sprintf("%s|%lld|%lld|%s|%d|%.5f|%.5f", subscription_id,
 *               sequence_number, generated_at, symbol, order_type, volume,
 *               price)                       (glibc printf semantics)
 *   signature = lowercase hex of HMAC-SHA256(key = UTF-8 bytes of the
 *               secret, message = UTF-8 bytes of the payload, no NUL)
 *
 * 64-bit integers never pass through a float: they come in as exact decimal
 * strings (protobufjs Long's `toString()`), bigints or safe-integer numbers.
 * `%lld` prints a signed 64-bit value, and SignalV1.sequence_number is a
 * uint64 on the wire, so a value in 2^63..2^64-1 is printed as %lld prints
 * the same 64 bits (value - 2^64). Such sequences are refused by the field
 * rules anyway (SEQUENCE_OUT_OF_RANGE); formatting them the C way only keeps
 * this module total over everything the decoder can produce.
 *
 * The payload is only unambiguous once the field rules have passed (a UUID
 * and an alphanumeric symbol contain no '|'); this module formats and MACs,
 * it does not validate field contents.
 *
 * Errors thrown here (TypeError / RangeError) mean a caller bug (a
 * non-canonical decimal string, an unsafe number, a non-int32 order type):
 * a decoded SignalV1 cannot produce them. A bad signature never throws.
 * No message ever contains a secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { formatFixed } from './c-printf';

/** The seven fields the v1 MAC covers, as protobufjs names them (camelCase). */
export interface V1Fields {
  subscriptionId: string;
  /** `%lld`: an exact decimal string, a bigint, or a safe-integer number. */
  sequence: string | number | bigint;
  /** `%lld`, as `sequence`. */
  generatedAt: string | number | bigint;
  symbol: string;
  /** `%d`: an int32. */
  orderType: number;
  /** `%.5f` */
  volume: number;
  /** `%.5f` */
  price: number;
}

export type V1Secret = string | Uint8Array;

export interface V1Verification {
  ok: boolean;
  /** Index in `secrets` of the key that matched; -1 when none did. */
  keyIndex: number;
  /**
   * The payload's UTF-8 bytes: the signal's canonical content (two signals
   * are duplicates when these are equal). Returned whether or not it matched.
   */
  payload: Buffer;
}

const SIGNATURE_HEX = /^[0-9a-f]{64}$/;
const DECIMAL = /^(?:0|-?[1-9][0-9]*)$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const TWO_POW_64 = 2n ** 64n;

/** `%lld` of a 64-bit integer given exactly. */
function formatLld(value: string | number | bigint, name: string): string {
  let exact: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} as a number must be a safe integer; pass a decimal string`);
    return String(value); // String(-0) is "0", as %lld of 0
  } else if (typeof value === 'string') {
    if (!DECIMAL.test(value)) throw new TypeError(`${name} must be a canonical decimal integer string`);
    // At most 18 characters: |value| < 10^18 < 2^63, already what %lld prints.
    if (value.length <= 18) return value;
    if (value.length > 21) throw new RangeError(`${name} is outside the 64-bit range`);
    exact = BigInt(value);
  } else if (typeof value === 'bigint') {
    exact = value;
  } else {
    throw new TypeError(`${name} must be a string, number or bigint`);
  }
  if (exact < INT64_MIN || exact > UINT64_MAX) throw new RangeError(`${name} is outside the 64-bit range`);
  if (exact > INT64_MAX) exact -= TWO_POW_64; // the same 64 bits read as signed
  return exact.toString();
}

/** `%d` of an int32. */
function formatD(value: number): string {
  if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
    throw new RangeError('orderType must be an int32');
  }
  return String(value);
}

/** The seed's payload string. */
export function v1Payload(fields: V1Fields): string {
  return (
    fields.subscriptionId +
    '|' +
    formatLld(fields.sequence, 'sequence') +
    '|' +
    formatLld(fields.generatedAt, 'generatedAt') +
    '|' +
    fields.symbol +
    '|' +
    formatD(fields.orderType) +
    '|' +
    formatFixed(fields.volume, 5) +
    '|' +
    formatFixed(fields.price, 5)
  );
}

/** The payload's UTF-8 bytes (what the HMAC covers). */
export function v1PayloadBytes(fields: V1Fields): Buffer {
  return Buffer.from(v1Payload(fields), 'utf8');
}

function hmac(secret: V1Secret, payload: Buffer): Buffer {
  // A string key is taken as its UTF-8 bytes by node:crypto.
  return createHmac('sha256', secret).update(payload).digest();
}

function secretLength(secret: V1Secret): number {
  return typeof secret === 'string' ? secret.length : secret.byteLength;
}

/**
 * The v1 signature (64 lowercase hex characters) of `fields` under `secret`.
 * An empty secret throws RangeError: a MAC under an empty key is forgeable.
 */
export function signV1(secret: V1Secret, fields: V1Fields): string {
  if (secretLength(secret) === 0) throw new RangeError('v1 secret must not be empty');
  return hmac(secret, v1PayloadBytes(fields)).toString('hex');
}

/**
 * Checks `signatureHex` against each secret in turn (two are valid during a
 * key rotation). Empty secrets are skipped: they never match. A signature
 * that is not exactly 64 lowercase hex characters is refused without
 * throwing and without computing any MAC. Each comparison is constant time
 * over the 32 decoded bytes; the loop stops at the first match, which only
 * tells a sender who already holds a valid signature which key it used.
 */
export function verifyV1(secrets: readonly V1Secret[], fields: V1Fields, signatureHex: string): V1Verification {
  const payload = v1PayloadBytes(fields);
  if (typeof signatureHex !== 'string' || !SIGNATURE_HEX.test(signatureHex)) {
    return { ok: false, keyIndex: -1, payload };
  }
  const received = Buffer.from(signatureHex, 'hex');
  for (let i = 0; i < secrets.length; i++) {
    const secret = secrets[i];
    if (secretLength(secret) === 0) continue;
    if (timingSafeEqual(hmac(secret, payload), received)) return { ok: true, keyIndex: i, payload };
  }
  return { ok: false, keyIndex: -1, payload };
}
