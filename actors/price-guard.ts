/**
 * Price deviation guard: a signal whose price is too far from the symbol's
 * reference price is refused (PRICE_DEVIATION), so that a compromised or
 * buggy master cannot make receivers trade at an absurd price.
 *
 * The reference price of a symbol is the price of the last accepted signal
 * for that symbol with a price > 0, stamped with the time it was accepted.
 * It is used only while younger than settings.referencePriceMaxAgeMs. A
 * snapshot updates no reference. Signals with price <= 0 (a v2 MODIFY or
 * CLOSE may carry none) are not checked and set no reference.
 */
import { actor as actorLimits, type SubscriptionSettings, pipSize } from '@sigplane/protocol';

export interface ReferencePrice {
  price: number;
  atMs: number;
}

/**
 * symbol -> reference. At most actor.referencePricesMax symbols: past it
 * the least recently priced (the oldest atMs) is forgotten (its next price
 * is checked against nothing, like a first one).
 */
export type PriceGuard = Map<string, ReferencePrice>;

/** Float slack so that exactly maxDeviationPips (1.1050 vs 1.1000 at 50 pips) passes. */
const deviationPipsEpsilon = 1e-7;

export function createPriceGuard(): PriceGuard {
  return new Map();
}

/** A reason string when the price deviates too much, else null. Changes nothing. */
export function checkPrice(
  guard: PriceGuard,
  symbol: string,
  price: number,
  nowMs: number,
  settings: SubscriptionSettings,
): string | null {
  if (!(price > 0)) return null;
  const reference = guard.get(symbol);
  if (reference === undefined) return null;
  const ageMs = nowMs - reference.atMs;
  if (ageMs >= settings.referencePriceMaxAgeMs) return null;
  const pip = pipSize(symbol, settings.pipSizes);
  const deviationPips = Math.abs(price - reference.price) / pip;
  if (deviationPips > settings.maxDeviationPips + deviationPipsEpsilon) {
    return (
      `${symbol} price ${price} is ${deviationPips.toFixed(1)} pips from the reference ` +
      `${reference.price} (max ${settings.maxDeviationPips})`
    );
  }
  return null;
}

/** Remember the price of an accepted signal. Prices <= 0 are ignored. */
export function recordPrice(guard: PriceGuard, symbol: string, price: number, atMs: number, symbolsMax: number = actorLimits.referencePricesMax): void {
  if (!(price > 0)) return;
  if (!Number.isFinite(price)) throw new Error(`recordPrice: price of ${symbol} is not finite`);
  const reference = guard.get(symbol);
  if (reference !== undefined) {
    // Updated in place: this runs for every accepted signal.
    reference.price = price;
    reference.atMs = atMs;
    return;
  }
  if (guard.size >= symbolsMax) guard.delete(leastRecentlyPriced(guard));
  guard.set(symbol, { price, atMs });
}

/** The symbol priced longest ago: a scan, run only when a new symbol finds the guard full. */
function leastRecentlyPriced(guard: PriceGuard): string {
  let oldest = '';
  let oldestAtMs = Infinity;
  for (const [symbol, reference] of guard) {
    if (reference.atMs < oldestAtMs) {
      oldest = symbol;
      oldestAtMs = reference.atMs;
    }
  }
  return oldest;
}
