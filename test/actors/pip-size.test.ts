import { describe, expect, it } from 'vitest';
import { pipSize } from '@sigplane/protocol';

describe('pipSize', () => {
  it.each([
    ['EURUSD', 0.0001],
    ['GBPUSDm', 0.0001],
    ['USDJPY', 0.01],
    ['EURJPY', 0.01],
    ['XAUUSD', 0.1],
    ['xauusd', 0.1],
    ['XAGUSD', 0.01],
    ['US30', 1],
    ['US500', 1],
    ['NAS100', 1],
    ['GER40', 1],
    ['UK100', 1],
    ['JP225', 1],
    ['SPX500', 1],
    ['DE40', 1],
    ['BTCUSD', 1],
    ['ETHUSD', 1],
  ])('%s -> %d', (symbol, expected) => {
    expect(pipSize(symbol)).toBe(expected);
  });

  it('takes an override, exact or upper-cased, before the defaults', () => {
    const overrides = { EURUSD: 0.001, XAUUSD: 0.01 };
    expect(pipSize('EURUSD', overrides)).toBe(0.001);
    expect(pipSize('xauusd', overrides)).toBe(0.01);
    expect(pipSize('USDJPY', overrides)).toBe(0.01);
  });

  it('refuses an override that is not a positive number', () => {
    expect(() => pipSize('EURUSD', { EURUSD: 0 })).toThrow(/positive/);
    expect(() => pipSize('EURUSD', { EURUSD: Number.NaN })).toThrow(/positive/);
  });
});
