/**
 * The copy rules (client/copy-rules.ts) and the settings checks
 * (proto/receiver-settings.ts): symbol mapping, filters, reverse with
 * swapped stops, lot sizing in every mode with step rounding and bounds,
 * partial-close targets, price deviation and signal age, stable codes.
 */
import { describe, expect, it } from 'vitest';
import {
  deviationPips,
  filterReason,
  localStops,
  mapSymbol,
  planOpen,
  roundToStep,
  SkipReason,
  sizeVolume,
  targetVolume,
  volumeBounds,
  type MasterPosition,
  type SymbolSpec,
} from '../client/copy-rules';
import {
  copySettingsDefaults,
  fromReceiverSettingsFrame,
  receiverSettingsObject,
  resolveCopySettings,
  SettingsError,
  SettingsErrorCode,
  validateCopySettingsOverrides,
  type CopySettings,
  decodeFrame,
  encodeFrame,
} from '@sigplane/protocol';

const eurusd: SymbolSpec = { symbol: 'EURUSD.m', digits: 5, volumeMin: 0.01, volumeMax: 50, volumeStep: 0.01, tickSize: 0.00001, tickValue: 1 };
const xau: SymbolSpec = { symbol: 'GOLD', digits: 2, volumeMin: 0.1, volumeMax: 20, volumeStep: 0.1, tickSize: 0.01, tickValue: 1 };

function settings(overrides: Partial<CopySettings> = {}): CopySettings {
  return resolveCopySettings(overrides);
}

const buy: MasterPosition = { symbol: 'EURUSD', orderType: 0, volume: 0.37, price: 1.1, stopLoss: 1.098, takeProfit: 1.105, magic: '7' };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SettingsError) return error.code;
    throw error;
  }
  return 'NO_ERROR';
}

describe('symbols, filters, direction', () => {
  it('maps by the explicit map first, else prefix + symbol + suffix', () => {
    const s = settings({ symbolPrefix: 'x', symbolSuffix: '.m', symbolMap: { XAUUSD: 'GOLD' } });
    expect(mapSymbol(s, 'XAUUSD')).toBe('GOLD');
    expect(mapSymbol(s, 'EURUSD')).toBe('xEURUSD.m');
    expect(mapSymbol(settings(), 'EURUSD')).toBe('EURUSD');
  });

  it('filters on the master symbol and magic number, allow lists first', () => {
    expect(filterReason(settings({ symbolsAllowed: ['GBPUSD'] }), 'EURUSD', '7')).toBe(SkipReason.SYMBOL_NOT_ALLOWED);
    expect(filterReason(settings({ symbolsBlocked: ['EURUSD'] }), 'EURUSD', '7')).toBe(SkipReason.SYMBOL_BLOCKED);
    expect(filterReason(settings({ magicsAllowed: ['9'] }), 'EURUSD', '7')).toBe(SkipReason.MAGIC_NOT_ALLOWED);
    expect(filterReason(settings({ magicsBlocked: ['7'] }), 'EURUSD', '7')).toBe(SkipReason.MAGIC_BLOCKED);
    expect(filterReason(settings({ magicsAllowed: ['0'] }), 'EURUSD', '')).toBeNull();
    expect(filterReason(settings({ symbolsAllowed: ['EURUSD'], magicsBlocked: ['9'] }), 'EURUSD', '7')).toBeNull();
  });

  it('reverse swaps stop loss and take profit; each can be left out', () => {
    expect(localStops(settings(), 1.098, 1.105)).toEqual({ stopLoss: 1.098, takeProfit: 1.105 });
    expect(localStops(settings({ reverse: true }), 1.098, 1.105)).toEqual({ stopLoss: 1.105, takeProfit: 1.098 });
    expect(localStops(settings({ copyStopLoss: false }), 1.098, 1.105)).toEqual({ stopLoss: 0, takeProfit: 1.105 });
    expect(localStops(settings({ reverse: true, copyTakeProfit: false }), 1.098, 1.105)).toEqual({ stopLoss: 1.105, takeProfit: 0 });
  });
});

describe('lot sizing', () => {
  it('rounds to the broker step exactly (no float residue)', () => {
    expect(roundToStep(0.1 + 0.2, 0.01, 'nearest')).toBe(0.3);
    expect(roundToStep(0.745, 0.01, 'nearest')).toBe(0.75); // half a step rounds up
    expect(roundToStep(0.379, 0.01, 'down')).toBe(0.37);
    expect(roundToStep(1.25, 0.1, 'nearest')).toBe(1.3);
    expect(roundToStep(3, 1, 'down')).toBe(3);
  });

  it('FIXED, MULTIPLIER, EQUITY_RATIO', () => {
    expect(sizeVolume(settings({ lotMode: 'FIXED', lotValue: 0.2 }), buy, eurusd, 1000)).toEqual({ ok: true, volume: 0.2 });
    expect(sizeVolume(settings({ lotMode: 'MULTIPLIER', lotValue: 2.5 }), buy, eurusd, 1000)).toEqual({ ok: true, volume: 0.93 }); // 0.925 -> nearest
    expect(sizeVolume(settings({ lotMode: 'EQUITY_RATIO', lotValue: 1, masterEquity: 10_000 }), buy, eurusd, 5_000)).toEqual({ ok: true, volume: 0.19 }); // 0.185
  });

  it('RISK_PERCENT: the loss at the master stop is the given share of equity, rounded down', () => {
    // 20 pips = 200 ticks x $1 = $200 per lot; 1% of 10 000 = $100 -> 0.5 lots.
    expect(sizeVolume(settings({ lotMode: 'RISK_PERCENT', lotValue: 1 }), { ...buy, price: 1.1, stopLoss: 1.098 }, eurusd, 10_000)).toEqual({ ok: true, volume: 0.5 });
    // $101 -> 0.505 lots -> 0.50, never more risk than asked
    expect(sizeVolume(settings({ lotMode: 'RISK_PERCENT', lotValue: 1.01 }), { ...buy, stopLoss: 1.098 }, eurusd, 10_000)).toEqual({ ok: true, volume: 0.5 });
    const noStop = sizeVolume(settings({ lotMode: 'RISK_PERCENT', lotValue: 1 }), { ...buy, stopLoss: 0 }, eurusd, 10_000);
    expect(noStop).toMatchObject({ ok: false, reason: SkipReason.NO_STOP_LOSS });
  });

  it('caps at the maximum and skips below the minimum (settings narrow the broker)', () => {
    expect(volumeBounds(settings({ lotMin: 0.05, lotMax: 1 }), eurusd)).toEqual({ min: 0.05, max: 1 });
    expect(volumeBounds(settings(), xau)).toEqual({ min: 0.1, max: 20 });
    expect(sizeVolume(settings({ lotMode: 'MULTIPLIER', lotValue: 10, lotMax: 2 }), buy, eurusd, 0)).toEqual({ ok: true, volume: 2 });
    expect(sizeVolume(settings({ lotMode: 'MULTIPLIER', lotValue: 0.01 }), buy, eurusd, 0)).toMatchObject({ ok: false, reason: SkipReason.LOT_BELOW_MIN });
    expect(sizeVolume(settings({ lotMode: 'MULTIPLIER', lotValue: 1 }), { ...buy, volume: 0.04 }, xau, 0)).toMatchObject({ ok: false, reason: SkipReason.LOT_BELOW_MIN });
    expect(sizeVolume(settings({ lotMode: 'MULTIPLIER', lotValue: 0.1, lotMin: 0.05 }), buy, eurusd, 0)).toMatchObject({ ok: false, reason: SkipReason.LOT_BELOW_MIN });
  });

  it('partial closes keep the ratio the copy was opened with, never below the minimum while the master holds', () => {
    const s = settings();
    expect(targetVolume(0.74, 0.37, 0.2, s, eurusd)).toBe(0.4);
    expect(targetVolume(0.74, 0.37, 0.01, s, eurusd)).toBe(0.02);
    expect(targetVolume(0.1, 1, 0.01, s, eurusd)).toBe(0.01); // 0.001 rounds to 0: kept at the minimum
    expect(targetVolume(0.74, 0.37, 0, s, eurusd)).toBe(0);
    expect(targetVolume(1, 1, 3, settings({ lotMax: 2 }), eurusd)).toBe(2); // netting growth capped
  });
});

describe('planOpen', () => {
  const base = { spec: eurusd, quote: { bid: 1.10001, ask: 1.10011 }, equity: 10_000, generatedAtMs: 1_000, nowMs: 1_500 };

  it('opens mapped, reversed, sized, with swapped stops', () => {
    const s = settings({ symbolSuffix: '.m', reverse: true, lotMode: 'MULTIPLIER', lotValue: 2 });
    expect(planOpen({ ...base, settings: s, master: buy })).toEqual({ kind: 'open', symbol: 'EURUSD.m', orderType: 1, volume: 0.74, stopLoss: 1.105, takeProfit: 1.098 });
  });

  it('skips with a stable reason, in the documented order', () => {
    const s = settings({ symbolSuffix: '.m' });
    expect(planOpen({ ...base, settings: s, master: { ...buy, orderType: 2 } })).toMatchObject({ kind: 'skip', reason: 'NOT_A_POSITION' });
    expect(planOpen({ ...base, settings: settings({ symbolsBlocked: ['EURUSD'], signalAgeMsMax: 1 }), master: buy })).toMatchObject({ reason: 'SYMBOL_BLOCKED' });
    expect(planOpen({ ...base, settings: settings({ signalAgeMsMax: 499 }), master: buy })).toMatchObject({ reason: 'SIGNAL_TOO_OLD' });
    expect(planOpen({ ...base, settings: settings({ signalAgeMsMax: 500, symbolSuffix: '.m' }), master: buy })).toMatchObject({ kind: 'open' });
    expect(planOpen({ ...base, generatedAtMs: null, settings: settings({ signalAgeMsMax: 1, symbolSuffix: '.m' }), master: buy })).toMatchObject({ kind: 'open' });
    expect(planOpen({ ...base, spec: null, settings: s, master: buy })).toMatchObject({ reason: 'SYMBOL_UNKNOWN' });
    expect(planOpen({ ...base, quote: null, settings: settings({ priceDeviationPipsMax: 5 }), master: buy })).toMatchObject({ reason: 'NO_QUOTE' });
  });

  it('price deviation is measured on the side the receiver trades, in the master symbol pips', () => {
    expect(deviationPips('EURUSD', 1.1, { bid: 1.10001, ask: 1.10011 }, 0)).toBeCloseTo(1.1, 6);
    expect(deviationPips('USDJPY', 150, { bid: 150.02, ask: 150.03 }, 1)).toBeCloseTo(2, 6);
    const far = { ...base, quote: { bid: 1.1009, ask: 1.101 }, settings: settings({ priceDeviationPipsMax: 5 }) };
    expect(planOpen({ ...far, master: buy })).toMatchObject({ kind: 'skip', reason: 'PRICE_DEVIATION' });
    expect(planOpen({ ...far, settings: settings({ priceDeviationPipsMax: 10 }), master: buy })).toMatchObject({ kind: 'open' });
  });
});

describe('settings validation', () => {
  it('accepts the defaults and a full set', () => {
    expect(validateCopySettingsOverrides({})).toEqual({});
    const full = {
      symbolPrefix: 'a',
      symbolSuffix: '.pro',
      symbolMap: { XAUUSD: 'GOLD' },
      lotMode: 'RISK_PERCENT',
      lotValue: 2,
      lotMin: 0.02,
      lotMax: 5,
      reverse: true,
      copyStopLoss: false,
      copyTakeProfit: false,
      symbolsAllowed: ['EURUSD', 'XAUUSD'],
      magicsBlocked: ['18446744073709551615'],
      priceDeviationPipsMax: 3.5,
      signalAgeMsMax: 5000,
      copyOpenPositions: false,
    };
    expect(resolveCopySettings(validateCopySettingsOverrides(full))).toMatchObject(full);
  });

  it('refuses bad input with stable codes', () => {
    const c = SettingsErrorCode;
    expect(codeOf(() => validateCopySettingsOverrides([]))).toBe(c.NOT_AN_OBJECT);
    expect(codeOf(() => validateCopySettingsOverrides({ lotSize: 1 }))).toBe(c.UNKNOWN_FIELD);
    expect(codeOf(() => validateCopySettingsOverrides({ reverse: 'yes' }))).toBe(c.INVALID_TYPE);
    expect(codeOf(() => validateCopySettingsOverrides({ lotValue: Number.NaN }))).toBe(c.INVALID_TYPE);
    expect(codeOf(() => validateCopySettingsOverrides({ lotValue: 0 }))).toBe(c.OUT_OF_RANGE);
    expect(codeOf(() => validateCopySettingsOverrides({ lotValue: 101 }))).toBe(c.OUT_OF_RANGE);
    expect(codeOf(() => validateCopySettingsOverrides({ lotMode: 'MARTINGALE' }))).toBe(c.INVALID_LOT_MODE);
    expect(codeOf(() => validateCopySettingsOverrides({ lotMode: 'EQUITY_RATIO' }))).toBe(c.MASTER_EQUITY_REQUIRED);
    expect(codeOf(() => validateCopySettingsOverrides({ lotMin: 2, lotMax: 1 }))).toBe(c.LOT_RANGE_EMPTY);
    expect(codeOf(() => validateCopySettingsOverrides({ symbolSuffix: "'; DROP" }))).toBe(c.INVALID_SYMBOL);
    expect(codeOf(() => validateCopySettingsOverrides({ symbolMap: { EURUSD: '' } }))).toBe(c.INVALID_SYMBOL);
    expect(codeOf(() => validateCopySettingsOverrides({ magicsAllowed: ['18446744073709551616'] }))).toBe(c.INVALID_MAGIC);
    expect(codeOf(() => validateCopySettingsOverrides({ magicsAllowed: ['-1'] }))).toBe(c.INVALID_MAGIC);
    expect(codeOf(() => validateCopySettingsOverrides({ symbolsAllowed: Array.from({ length: 257 }, (_, i) => `S${i}`) }))).toBe(c.TOO_MANY_ENTRIES);
    expect(codeOf(() => validateCopySettingsOverrides({ symbolsAllowed: ['EURUSD'], symbolsBlocked: ['EURUSD'] }))).toBe(c.FILTER_CONFLICT);
    expect(codeOf(() => validateCopySettingsOverrides({ signalAgeMsMax: 1.5 }))).toBe(c.INVALID_TYPE);
    expect(codeOf(() => validateCopySettingsOverrides({ priceDeviationPipsMax: -1 }))).toBe(c.OUT_OF_RANGE);
  });

  it('survives the wire exactly (uint64 magic numbers included)', () => {
    const s = settings({ symbolMap: { XAUUSD: 'GOLD' }, lotMode: 'EQUITY_RATIO', lotValue: 1.5, masterEquity: 25_000, magicsAllowed: ['18446744073709551615', '7'] });
    const bytes = encodeFrame({ receiverSettings: receiverSettingsObject({ subscriptionId: 'sub', revision: 42, settings: s }) });
    const frame = decodeFrame(bytes);
    if (frame?.kind !== 'receiverSettings') throw new Error(`decoded ${frame?.kind}`);
    expect(fromReceiverSettingsFrame(frame.receiverSettings, 42)).toEqual({ subscriptionId: 'sub', revision: 42, settings: s });
    const defaults = encodeFrame({ receiverSettings: receiverSettingsObject({ subscriptionId: 'sub', revision: 0, settings: { ...copySettingsDefaults } }) });
    const back = decodeFrame(defaults);
    if (back?.kind !== 'receiverSettings') throw new Error('not settings');
    expect(fromReceiverSettingsFrame(back.receiverSettings, 0).settings).toEqual(copySettingsDefaults);
  });
});
