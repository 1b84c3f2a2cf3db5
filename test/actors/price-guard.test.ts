import { describe, expect, it } from 'vitest';
import { checkPrice, createPriceGuard, recordPrice } from '../../actors/price-guard';
import { actor as actorLimits, subscriptionDefaults } from '@sigplane/protocol';
import { describe as describeActor } from '../../actors/subscription-actor';
import { Harness, signal } from './fixtures';

const settings = { ...subscriptionDefaults, maxDeviationPips: 50, referencePriceMaxAgeMs: 60_000 };

describe('price guard', () => {
  it('passes anything without a reference', () => {
    expect(checkPrice(createPriceGuard(), 'EURUSD', 9.9, 0, settings)).toBeNull();
  });

  it('passes exactly the maximum and refuses beyond it (FX pips)', () => {
    const guard = createPriceGuard();
    recordPrice(guard, 'EURUSD', 1.1, 0);
    expect(checkPrice(guard, 'EURUSD', 1.105, 1000, settings)).toBeNull();
    expect(checkPrice(guard, 'EURUSD', 1.095, 1000, settings)).toBeNull();
    expect(checkPrice(guard, 'EURUSD', 1.10501, 1000, settings)).toMatch(/pips/);
    expect(checkPrice(guard, 'EURUSD', 1.09499, 1000, settings)).toMatch(/pips/);
  });

  it('uses the symbol pip size (gold 0.1, yen 0.01) and overrides', () => {
    const guard = createPriceGuard();
    recordPrice(guard, 'XAUUSD', 2000, 0);
    recordPrice(guard, 'USDJPY', 150, 0);
    expect(checkPrice(guard, 'XAUUSD', 2005, 1, settings)).toBeNull();
    expect(checkPrice(guard, 'XAUUSD', 2005.2, 1, settings)).not.toBeNull();
    expect(checkPrice(guard, 'USDJPY', 150.5, 1, settings)).toBeNull();
    expect(checkPrice(guard, 'USDJPY', 150.6, 1, settings)).not.toBeNull();
    expect(checkPrice(guard, 'XAUUSD', 2005.2, 1, { ...settings, pipSizes: { XAUUSD: 1 } })).toBeNull();
  });

  it('ignores a reference as old as referencePriceMaxAgeMs', () => {
    const guard = createPriceGuard();
    recordPrice(guard, 'EURUSD', 1.1, 0);
    expect(checkPrice(guard, 'EURUSD', 1.2, 59_999, settings)).not.toBeNull();
    expect(checkPrice(guard, 'EURUSD', 1.2, 60_000, settings)).toBeNull();
  });

  it('checks and records only prices > 0', () => {
    const guard = createPriceGuard();
    recordPrice(guard, 'EURUSD', 1.1, 0);
    expect(checkPrice(guard, 'EURUSD', 0, 1, settings)).toBeNull();
    recordPrice(guard, 'EURUSD', 0, 5);
    expect(guard.get('EURUSD')).toEqual({ price: 1.1, atMs: 0 });
    recordPrice(guard, 'EURUSD', 1.2, 7);
    expect(guard.get('EURUSD')).toEqual({ price: 1.2, atMs: 7 });
  });

  it('keeps at most symbolsMax references, forgetting the least recently priced', () => {
    const guard = createPriceGuard();
    recordPrice(guard, 'EURUSD', 1.1, 0, 3);
    recordPrice(guard, 'GBPUSD', 1.3, 1, 3);
    recordPrice(guard, 'USDJPY', 150, 2, 3);
    recordPrice(guard, 'EURUSD', 1.1, 3, 3); // priced again: now the most recent
    recordPrice(guard, 'XAUUSD', 2000, 4, 3);
    expect([...guard.keys()].sort()).toEqual(['EURUSD', 'USDJPY', 'XAUUSD']);
    expect(checkPrice(guard, 'GBPUSD', 9, 5, settings)).toBeNull(); // forgotten: checked against nothing
    expect(checkPrice(guard, 'EURUSD', 9, 5, settings)).toMatch(/pips/);
  });

  it('holds an actor to actor.referencePricesMax symbols however many its master sends', () => {
    const h = new Harness();
    const symbols = actorLimits.referencePricesMax + 10;
    for (let i = 1; i <= symbols; i++) h.signal(signal(i, { symbol: `SYM${i}`, price: 1 + i / 1000 }));
    expect(describeActor(h.actor).lastSequence).toBe(symbols);
    expect(describeActor(h.actor).referencePrices).toBe(actorLimits.referencePricesMax);
  });
});
