/**
 * Pip size of a symbol, for the price deviation guard.
 *
 * Rules, first match wins (on the upper-cased symbol, so broker suffixes
 * such as `EURUSDm` or `XAUUSDpro` still match by prefix):
 *   1. the overrides map (exact symbol, then upper-cased symbol);
 *   2. metals: XAU* 0.1, XAG* 0.01;
 *   3. crypto: BTC* / ETH* 1.0;
 *   4. common cash indices (US30, US500, NAS100, GER40, ...) 1.0;
 *   5. any symbol containing JPY (3-digit FX) 0.01;
 *   6. everything else (5-digit FX) 0.0001.
 */

const pipSizeDefault = 0.0001;
const pipSizeJpy = 0.01;

const prefixPipSizes: ReadonlyArray<readonly [string, number]> = [
  ['XAU', 0.1],
  ['XAG', 0.01],
  ['BTC', 1.0],
  ['ETH', 1.0],
];

/** Index names as brokers commonly spell them; matched as a prefix. */
const indexPrefixes: readonly string[] = [
  'US30', 'US500', 'US100', 'USTEC', 'NAS100', 'NDX100', 'SPX500', 'SP500',
  'DJ30', 'DJI30', 'GER40', 'GER30', 'DE40', 'DE30', 'DAX40', 'UK100', 'FTSE100',
  'JP225', 'JPN225', 'NIKKEI225', 'FRA40', 'EU50', 'EUSTX50', 'STOXX50',
  'AUS200', 'HK50', 'ESP35', 'CHINA50', 'US2000',
];

export function pipSize(symbol: string, overrides?: Readonly<Record<string, number>>): number {
  if (overrides !== undefined) {
    const exact = Object.hasOwn(overrides, symbol)
      ? overrides[symbol]
      : Object.hasOwn(overrides, symbol.toUpperCase())
        ? overrides[symbol.toUpperCase()]
        : undefined;
    if (exact !== undefined) {
      if (!(Number.isFinite(exact) && exact > 0)) {
        throw new Error(`pipSize: override for ${symbol} must be a positive number, got ${exact}`);
      }
      return exact;
    }
  }
  const upper = symbol.toUpperCase();
  for (const [prefix, size] of prefixPipSizes) {
    if (upper.startsWith(prefix)) return size;
  }
  for (const prefix of indexPrefixes) {
    if (upper.startsWith(prefix)) return 1.0;
  }
  if (upper.includes('JPY')) return pipSizeJpy;
  return pipSizeDefault;
}
