/**
 * The seed's field rules (Layer 3, `validate_signal`) and freshness, as pure
 * checks. Each returns null when the field is acceptable, or a stable code
 * and a short message (never the offending value: it is attacker-controlled
 * text and may end up in logs). Nothing here throws.
 *
 * Codes: INVALID_FIELD for every field rule, except a sequence beyond
 * 2^53-1, which is SEQUENCE_OUT_OF_RANGE (it is kept as a JS number);
 * STALE / FUTURE for freshness.
 */
import { fields as fieldLimits } from './limits';
import { RejectCode, type Position } from './records';

export interface RuleViolation {
  code: RejectCode;
  message: string;
}
export type RuleResult = RuleViolation | null;

/** The fields both versions carry. */
interface CommonSignalFields {
  subscriptionId: string;
  /**
   * A number, an exact decimal string or a bigint; null means the decoder
   * found a uint64 beyond 2^53-1 (proto/codec's `safeInteger`).
   */
  sequence: number | string | bigint | null;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
}

export interface SignalFieldsV1 extends CommonSignalFields {
  version: 1;
}

export interface SignalFieldsV2 extends CommonSignalFields {
  version: 2;
  action: number;
  /** Exact decimal of the uint64 position id. */
  positionId: string;
  stopLoss: number;
  takeProfit: number;
}

const invalid = (message: string): RuleViolation => ({ code: RejectCode.INVALID_FIELD, message });

// Canonical 8-4-4-4-12 only, any version and variant, either case. The Rust
// seed's Uuid::parse_str also takes the 32-digit, braced and urn forms; the
// id is inside the signed v1 payload and is compared with the connection's
// subscription, so one textual form (up to case) is kept.
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

// ASCII letters and digits only. The seed uses Rust's char::is_alphanumeric,
// which is Unicode: it would accept "ЕURUSD" with a Cyrillic 'Е', a different
// symbol that looks identical to an operator and to a receiver's terminal,
// and Rust's len() counts UTF-8 bytes where JS counts UTF-16 units. Broker
// symbols are ASCII, and with ASCII both lengths agree. The seed's rule is
// kept otherwise: MT5 suffixed symbols such as "EURUSD.m" or "US30-cash" are
// refused, as in the seed.
const SYMBOL = new RegExp(`^[A-Za-z0-9]{1,${fieldLimits.symbolLengthMax}}$`);

const DECIMAL = /^(?:0|-?[1-9][0-9]*)$/;
const UNSIGNED_DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const UINT64_MAX = 2n ** 64n - 1n;
const INTEGER_MAX_BIG = BigInt(fieldLimits.integerMax);

export function checkSubscriptionId(subscriptionId: string): RuleResult {
  if (typeof subscriptionId !== 'string' || !UUID.test(subscriptionId)) {
    return invalid('subscription_id must be a UUID (8-4-4-4-12 hex)');
  }
  return null;
}

/** 1 <= sequence <= 2^53-1; beyond is SEQUENCE_OUT_OF_RANGE. */
export function checkSequence(sequence: number | string | bigint | null): RuleResult {
  const outOfRange: RuleViolation = {
    code: RejectCode.SEQUENCE_OUT_OF_RANGE,
    message: `sequence_number must be at most ${fieldLimits.integerMax}`,
  };
  const notPositive = invalid('sequence_number must be positive');
  if (sequence === null) return outOfRange;
  let exact: bigint;
  if (typeof sequence === 'number') {
    if (!Number.isInteger(sequence)) return invalid('sequence_number must be an integer');
    if (sequence <= 0) return notPositive;
    return sequence > fieldLimits.integerMax ? outOfRange : null;
  } else if (typeof sequence === 'string') {
    if (!DECIMAL.test(sequence)) return invalid('sequence_number must be a decimal integer');
    if (sequence.length > 40) return sequence.charCodeAt(0) === 0x2d ? notPositive : outOfRange;
    exact = BigInt(sequence);
  } else if (typeof sequence === 'bigint') {
    exact = sequence;
  } else {
    return invalid('sequence_number must be an integer');
  }
  if (exact <= 0n) return notPositive;
  return exact > INTEGER_MAX_BIG ? outOfRange : null;
}

export function checkSymbol(symbol: string): RuleResult {
  if (typeof symbol !== 'string' || !SYMBOL.test(symbol)) {
    return invalid(`symbol must be 1..${fieldLimits.symbolLengthMax} ASCII letters or digits`);
  }
  return null;
}

/** 0 < volume <= 100 lots (NaN, -0 and infinities fail). */
export function checkVolume(volume: number): RuleResult {
  if (typeof volume !== 'number' || !(volume > 0 && volume <= fieldLimits.volumeMax)) {
    return invalid(`volume must be > 0 and <= ${fieldLimits.volumeMax}`);
  }
  return null;
}

/** price > 0 and finite. */
export function checkPrice(price: number): RuleResult {
  if (typeof price !== 'number' || !(price > 0 && price < Infinity)) {
    return invalid('price must be > 0 and finite');
  }
  return null;
}

/** MT5 ENUM_ORDER_TYPE: an integer 0..8. */
export function checkOrderType(orderType: number): RuleResult {
  if (!Number.isInteger(orderType) || orderType < 0 || orderType > fieldLimits.orderTypeMax) {
    return invalid(`order_type must be an integer 0..${fieldLimits.orderTypeMax}`);
  }
  return null;
}

/** v2: OPEN, MODIFY, CLOSE or PARTIAL_CLOSE (1..4). NETTING (0) is v1 only. */
export function checkAction(action: number): RuleResult {
  if (!Number.isInteger(action) || action < 1 || action > 4) {
    return invalid('action must be 1..4 (OPEN, MODIFY, CLOSE, PARTIAL_CLOSE)');
  }
  return null;
}

/** v2 stop_loss / take_profit (and a position's open_price): finite and >= 0 (0 = none; -0 counts as 0). */
export function checkStopLevel(value: number, name: 'stop_loss' | 'take_profit' | 'open_price'): RuleResult {
  if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) {
    return invalid(`${name} must be >= 0 and finite`);
  }
  return null;
}

/** v2 position_id: the canonical decimal of a uint64 (no sign, no leading zeros). */
export function checkPositionId(positionId: string): RuleResult {
  const problem = invalid('position_id must be a decimal uint64');
  if (typeof positionId !== 'string' || positionId.length > 20 || !UNSIGNED_DECIMAL.test(positionId)) return problem;
  if (positionId.length === 20 && BigInt(positionId) > UINT64_MAX) return problem;
  return null;
}

/** The id a v1 (netting) position has in the book: `v1:` and its symbol. */
const V1_POSITION_ID_PREFIX = 'v1:';

/**
 * A position of a snapshot, from a master or from the engine's own book
 * (the journal checks the same rule before it writes one):
 * - position_id: a v2 ticket (decimal uint64) or `v1:<SYMBOL>` (netting);
 * - symbol: the signal symbol rule;
 * - order_type 0..8; volume > 0 and finite (a v1 net position may exceed
 *   one signal's 100 lots); open_price, stop_loss, take_profit >= 0 and
 *   finite; magic a decimal uint64 ('' is 0); opened_sequence 0..2^53-1.
 */
export function checkPosition(p: Position): RuleResult {
  const id = p.positionId;
  const idProblem =
    typeof id === 'string' && id.startsWith(V1_POSITION_ID_PREFIX)
      ? checkSymbol(id.slice(V1_POSITION_ID_PREFIX.length))
      : checkPositionId(id);
  if (idProblem !== null) return invalid('position_id must be a decimal uint64 or v1:<SYMBOL>');
  return (
    checkSymbol(p.symbol) ??
    checkOrderType(p.orderType) ??
    (typeof p.volume === 'number' && p.volume > 0 && p.volume < Infinity ? null : invalid('position volume must be > 0 and finite')) ??
    checkStopLevel(p.openPrice, 'open_price') ??
    checkStopLevel(p.stopLoss, 'stop_loss') ??
    checkStopLevel(p.takeProfit, 'take_profit') ??
    (p.magic === '' ? null : checkPositionId(p.magic) === null ? null : invalid('magic must be a decimal uint64')) ??
    (Number.isSafeInteger(p.openedSequence) && p.openedSequence >= 0 ? null : invalid('opened_sequence must be 0..2^53-1'))
  );
}

/**
 * Every field rule of the signal's version, in the seed's order
 * (subscription_id, sequence, symbol, volume, price), then order_type and,
 * for v2, action, position_id, stop_loss, take_profit. The first failure is
 * returned. Freshness is separate (`checkFreshness`).
 */
export function checkSignalFields(signal: SignalFieldsV1 | SignalFieldsV2): RuleResult {
  return signal.version === 1 ? checkCommonSignalFields(signal) : checkSignalFieldsV2(signal);
}

/** The v2 rules of checkSignalFields, for fields that carry no `version` (a decoded body's: codec.ts `signalBodyFields`). */
export function checkSignalFieldsV2(signal: Omit<SignalFieldsV2, 'version'>): RuleResult {
  return (
    checkCommonSignalFields(signal) ??
    checkAction(signal.action) ??
    checkPositionId(signal.positionId) ??
    checkStopLevel(signal.stopLoss, 'stop_loss') ??
    checkStopLevel(signal.takeProfit, 'take_profit')
  );
}

function checkCommonSignalFields(signal: CommonSignalFields): RuleResult {
  return (
    checkSubscriptionId(signal.subscriptionId) ??
    checkSequence(signal.sequence) ??
    checkSymbol(signal.symbol) ??
    checkVolume(signal.volume) ??
    checkPrice(signal.price) ??
    checkOrderType(signal.orderType)
  );
}

/**
 * Freshness against the server clock, all in ms:
 * - STALE  when nowMs - generatedAtMs >  ttlMs (exactly ttlMs old is fresh);
 * - FUTURE when generatedAtMs > nowMs + clockSkewMs (exactly clockSkewMs
 *   ahead is accepted);
 * - INVALID_FIELD when generatedAtMs is not finite;
 * - null otherwise. Both bounds are inclusive on the accepting side.
 */
export function checkFreshness(generatedAtMs: number, nowMs: number, ttlMs: number, clockSkewMs: number): RuleResult {
  if (typeof generatedAtMs !== 'number' || !Number.isFinite(generatedAtMs)) {
    return invalid('generated_at must be a finite number of ms');
  }
  if (nowMs - generatedAtMs > ttlMs) return { code: RejectCode.STALE, message: `signal is older than ${ttlMs} ms` };
  if (generatedAtMs > nowMs + clockSkewMs) {
    return { code: RejectCode.FUTURE, message: `signal is more than ${clockSkewMs} ms in the future` };
  }
  return null;
}
