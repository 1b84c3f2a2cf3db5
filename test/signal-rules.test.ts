/**
 * The seed's field rules and freshness, each at its edges.
 */
import { describe, expect, it } from 'vitest';
import {
  fields as fieldLimits,
  subscriptionDefaults,
  RejectCode,
  checkAction,
  checkFreshness,
  checkOrderType,
  checkPosition,
  checkPositionId,
  checkPrice,
  checkSequence,
  checkSignalFields,
  checkStopLevel,
  checkSubscriptionId,
  checkSymbol,
  checkVolume,
  type SignalFieldsV1,
  type SignalFieldsV2,
} from '@sigplane/protocol';

const INVALID = RejectCode.INVALID_FIELD;
const codeOf = (r: { code: string } | null): string | null => (r === null ? null : r.code);

describe('subscription_id', () => {
  it('accepts canonical UUIDs of any version, either case', () => {
    for (const id of [
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e', // v4
      '6F1C2A4E-8B3D-4F5A-9C7E-1D2B3A4C5D6E',
      '6f1c2a4e-8b3d-1f5a-9c7e-1d2b3a4c5d6e', // v1
      '018f3c4e-8b3d-7f5a-9c7e-1d2b3a4c5d6e', // v7
      '00000000-0000-0000-0000-000000000000', // nil
      'ffffffff-ffff-ffff-ffff-ffffffffffff', // max
    ]) {
      expect([id, checkSubscriptionId(id)]).toEqual([id, null]);
    }
  });

  it('refuses anything else', () => {
    for (const id of [
      '',
      '6f1c2a4e8b3d4f5a9c7e1d2b3a4c5d6e', // simple form (the Rust seed takes it; we do not)
      '{6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e}',
      'urn:uuid:6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6', // 35
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e0', // 37
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6g',
      '6f1c2a4e_8b3d-4f5a-9c7e-1d2b3a4c5d6e',
      ' 6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
      '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e\n',
      '6f1c2a4e-8b3d-4f5a-9c7e|1d2b3a4c5d6e',
    ]) {
      const r = checkSubscriptionId(id);
      expect([id, codeOf(r)]).toEqual([id, INVALID]);
    }
    expect(codeOf(checkSubscriptionId(null as unknown as string))).toBe(INVALID);
  });
});

describe('sequence_number', () => {
  it('accepts 1 .. 2^53-1 as number, string or bigint', () => {
    for (const s of [1, '1', 1n, Number.MAX_SAFE_INTEGER, '9007199254740991', 9007199254740991n]) {
      expect(checkSequence(s)).toBeNull();
    }
  });

  it('refuses 0 and negatives as INVALID_FIELD', () => {
    for (const s of [0, -0, -1, '0', '-1', 0n, -1n, '-' + '9'.repeat(60)]) {
      expect([String(s), codeOf(checkSequence(s))]).toEqual([String(s), INVALID]);
    }
  });

  it('refuses 2^53 and beyond as SEQUENCE_OUT_OF_RANGE', () => {
    for (const s of [
      2 ** 53,
      '9007199254740992',
      9007199254740992n,
      '9223372036854775807',
      '18446744073709551615',
      '9'.repeat(60),
      1e300,
      null, // the decoder's "beyond 2^53-1"
    ]) {
      expect([String(s), codeOf(checkSequence(s))]).toEqual([String(s), RejectCode.SEQUENCE_OUT_OF_RANGE]);
    }
  });

  it('refuses non-integers and non-canonical strings as INVALID_FIELD', () => {
    for (const s of [1.5, NaN, Infinity, -Infinity, '', '01', '+1', ' 1', '1e3', '0x10', '1.0', 'one']) {
      expect([String(s), codeOf(checkSequence(s))]).toEqual([String(s), INVALID]);
    }
    expect(codeOf(checkSequence(undefined as unknown as number))).toBe(INVALID);
  });
});

describe('symbol', () => {
  it('accepts 1..20 ASCII letters and digits', () => {
    for (const s of ['A', 'EURUSD', 'XAUUSD', 'us30', 'GER40', 'A'.repeat(20), '1234567890abcdefghij']) {
      expect([s, checkSymbol(s)]).toEqual([s, null]);
    }
    expect(fieldLimits.symbolLengthMax).toBe(20);
  });

  it('refuses empty, 21 characters, punctuation, suffixes and non-ASCII letters', () => {
    for (const s of [
      '',
      'A'.repeat(21),
      'EURUSD.m', // MT5 suffix: refused, as in the seed
      'US30-cash',
      'EUR/USD',
      'EUR USD',
      'EURUSD|0',
      'ЕURUSD', // Cyrillic Е: alphanumeric for Rust, not ASCII
      'ＥＵＲＵＳＤ', // fullwidth
      'ÉURUSD',
      'EURUSD\u0000',
      '١٢٣', // Arabic-Indic digits
    ]) {
      expect([s, codeOf(checkSymbol(s))]).toEqual([s, INVALID]);
    }
  });
});

describe('volume', () => {
  it('accepts 0 < volume <= 100', () => {
    for (const v of [100, 0.01, 5e-324, 99.99999999999999, 1]) expect([v, checkVolume(v)]).toEqual([v, null]);
  });

  it('refuses 0, -0, negatives, above 100, NaN and infinities', () => {
    expect(100.00000000000001).toBeGreaterThan(100); // the next double above 100
    for (const v of [0, -0, -0.01, 100.00000000000001, 101, NaN, Infinity, -Infinity]) {
      expect([v, codeOf(checkVolume(v))]).toEqual([v, INVALID]);
    }
  });
});

describe('price', () => {
  it('accepts positive finite prices', () => {
    for (const p of [1.08765, 5e-324, 1e300, Number.MAX_VALUE]) expect(checkPrice(p)).toBeNull();
  });

  it('refuses 0, -0, negatives, NaN and infinities', () => {
    for (const p of [0, -0, -1.1, NaN, Infinity, -Infinity]) expect([p, codeOf(checkPrice(p))]).toEqual([p, INVALID]);
  });
});

describe('order_type', () => {
  it('accepts integers 0..8', () => {
    for (let t = 0; t <= 8; t++) expect(checkOrderType(t)).toBeNull();
  });

  it('refuses -1, 9, fractions and NaN', () => {
    for (const t of [-1, 9, 0.5, NaN, Infinity]) expect([t, codeOf(checkOrderType(t))]).toEqual([t, INVALID]);
  });
});

describe('v2 fields', () => {
  it('action is 1..4; NETTING (0) is v1 only', () => {
    for (let a = 1; a <= 4; a++) expect(checkAction(a)).toBeNull();
    for (const a of [0, 5, -1, 1.5, NaN]) expect([a, codeOf(checkAction(a))]).toEqual([a, INVALID]);
  });

  it('stop_loss / take_profit are finite and >= 0', () => {
    for (const v of [0, -0, 1.08, 5e-324, 1e300]) {
      expect(checkStopLevel(v, 'stop_loss')).toBeNull();
      expect(checkStopLevel(v, 'take_profit')).toBeNull();
    }
    for (const v of [-5e-324, -1, NaN, Infinity, -Infinity]) {
      expect([v, codeOf(checkStopLevel(v, 'stop_loss'))]).toEqual([v, INVALID]);
      expect(checkStopLevel(v, 'take_profit')?.message).toMatch(/take_profit/);
    }
  });

  it('position_id is the canonical decimal of a uint64', () => {
    for (const p of ['0', '1', '123456789', '18446744073709551615']) expect([p, checkPositionId(p)]).toEqual([p, null]);
    for (const p of ['', '-1', '01', '+1', '1.0', ' 1', '18446744073709551616', '99999999999999999999', '1'.repeat(21), 'abc']) {
      expect([p, codeOf(checkPositionId(p))]).toEqual([p, INVALID]);
    }
  });
});

describe('snapshot positions (checkPosition: the I/O thread and the journal apply the same rule)', () => {
  const good = {
    positionId: '1001',
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    openPrice: 1.08,
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    openedSequence: 0,
  };

  it('takes a v2 ticket, the v1 netting id v1:<SYMBOL>, and a net volume beyond one signal\'s 100 lots', () => {
    for (const change of [{}, { positionId: 'v1:EURUSD' }, { positionId: '18446744073709551615' }, { volume: 250 }, { magic: '42' }]) {
      expect([change, checkPosition({ ...good, ...change })]).toEqual([change, null]);
    }
  });

  it('refuses every field outside its rule as INVALID_FIELD', () => {
    const bad: Record<string, unknown>[] = [
      { positionId: '' },
      { positionId: 'ticket-7' },
      { positionId: 'v1:' },
      { positionId: 'v1:EUR.USD' },
      { positionId: 'V1:EURUSD' },
      { symbol: 'A'.repeat(21) },
      { symbol: '' },
      { orderType: 9 },
      { volume: 0 },
      { volume: Infinity },
      { volume: NaN },
      { openPrice: -1 },
      { stopLoss: NaN },
      { takeProfit: -Infinity },
      { magic: '-1' },
      { openedSequence: -1 },
      { openedSequence: 2 ** 53 },
    ];
    for (const change of bad) {
      expect([change, codeOf(checkPosition({ ...good, ...change } as typeof good))]).toEqual([change, INVALID]);
    }
  });
});

describe('checkSignalFields', () => {
  const v1: SignalFieldsV1 = {
    version: 1,
    subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e',
    sequence: 7,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
  };
  const v2: SignalFieldsV2 = { ...v1, version: 2, action: 1, positionId: '1007', stopLoss: 0, takeProfit: 1.09 };

  it('accepts good signals of both versions', () => {
    expect(checkSignalFields(v1)).toBeNull();
    expect(checkSignalFields(v2)).toBeNull();
  });

  it('reports the first failing rule in the seed order', () => {
    const bad = { ...v1, subscriptionId: 'x', sequence: 0, symbol: '', volume: 0, price: 0 };
    expect(checkSignalFields(bad)?.message).toMatch(/subscription_id/);
    expect(checkSignalFields({ ...bad, subscriptionId: v1.subscriptionId })?.message).toMatch(/sequence/);
    expect(checkSignalFields({ ...v1, symbol: '', volume: 0 })?.message).toMatch(/symbol/);
    expect(checkSignalFields({ ...v1, volume: 0, price: 0 })?.message).toMatch(/volume/);
    expect(checkSignalFields({ ...v1, price: 0, orderType: 9 })?.message).toMatch(/price/);
    expect(checkSignalFields({ ...v1, orderType: 9 })?.message).toMatch(/order_type/);
    expect(checkSignalFields({ ...v1, sequence: null })?.code).toBe(RejectCode.SEQUENCE_OUT_OF_RANGE);
  });

  it('applies the v2 rules only to v2', () => {
    expect(checkSignalFields({ ...v2, action: 0 })?.message).toMatch(/action/);
    expect(checkSignalFields({ ...v2, positionId: '' })?.message).toMatch(/position_id/);
    expect(checkSignalFields({ ...v2, stopLoss: -1 })?.message).toMatch(/stop_loss/);
    expect(checkSignalFields({ ...v2, takeProfit: NaN })?.message).toMatch(/take_profit/);
    // a v1 signal carries none of these
    expect(checkSignalFields({ ...v1, action: 0, positionId: '' } as SignalFieldsV1)).toBeNull();
  });

  it('never echoes the offending value in its message', () => {
    const hostile = 'EURUSD\r\nlevel=error msg=forged';
    const r = checkSignalFields({ ...v1, symbol: hostile });
    expect(r?.code).toBe(INVALID);
    expect(r?.message).not.toContain('forged');
  });
});

describe('checkFreshness', () => {
  const ttl = 60_000;
  const skew = 1_000;
  const now = 1_767_225_600_000;

  it('is fresh exactly at the TTL and STALE 1 ms past it', () => {
    expect(checkFreshness(now - ttl, now, ttl, skew)).toBeNull();
    expect(codeOf(checkFreshness(now - ttl - 1, now, ttl, skew))).toBe(RejectCode.STALE);
    expect(codeOf(checkFreshness(now - ttl - 0.5, now, ttl, skew))).toBe(RejectCode.STALE);
    expect(codeOf(checkFreshness(0, now, ttl, skew))).toBe(RejectCode.STALE);
    expect(codeOf(checkFreshness(Number.MIN_SAFE_INTEGER, now, ttl, skew))).toBe(RejectCode.STALE);
  });

  it('accepts exactly the skew ahead and is FUTURE 1 ms past it', () => {
    expect(checkFreshness(now, now, ttl, skew)).toBeNull();
    expect(checkFreshness(now + skew, now, ttl, skew)).toBeNull();
    expect(codeOf(checkFreshness(now + skew + 1, now, ttl, skew))).toBe(RejectCode.FUTURE);
    expect(codeOf(checkFreshness(Number.MAX_SAFE_INTEGER, now, ttl, skew))).toBe(RejectCode.FUTURE);
  });

  it('with no skew allowance, 1 ms ahead is FUTURE (the seed rule)', () => {
    expect(checkFreshness(now, now, ttl, 0)).toBeNull();
    expect(codeOf(checkFreshness(now + 1, now, ttl, 0))).toBe(RejectCode.FUTURE);
  });

  it('uses the default settings as documented', () => {
    const d = subscriptionDefaults;
    expect(checkFreshness(now - d.ttlMs, now, d.ttlMs, d.clockSkewMs)).toBeNull();
    expect(codeOf(checkFreshness(now - d.ttlMs - 1, now, d.ttlMs, d.clockSkewMs))).toBe(RejectCode.STALE);
    expect(codeOf(checkFreshness(now + d.clockSkewMs + 1, now, d.ttlMs, d.clockSkewMs))).toBe(RejectCode.FUTURE);
  });

  it('refuses a non-finite generated_at instead of calling it fresh', () => {
    for (const g of [NaN, Infinity, -Infinity]) {
      expect([g, codeOf(checkFreshness(g, now, ttl, skew))]).toEqual([g, INVALID]);
    }
  });
});
