/**
 * A subscription's settings as Postgres keeps them: overrides of
 * proto/limits.ts `subscriptionDefaults` (subscriptions.settings, jsonb),
 * checked before they are written and merged over the defaults when read.
 */
import { fields, subscriptionDefaults, type SubscriptionSettings } from '@sigplane/protocol';
import { invalid } from './store-checks';

const settingsKeys = Object.keys(subscriptionDefaults) as (keyof SubscriptionSettings)[];
/** Settings where 0 would make every signal fail or the token bucket unusable. */
const positiveSettings: readonly string[] = ['ttlMs', 'rateLimitPerSecond', 'rateLimitBurst', 'referencePriceMaxAgeMs'];

/** Check overrides of SubscriptionSettings: known keys, finite non-negative numbers. */
export function validateSettingsOverrides(overrides: unknown): Partial<SubscriptionSettings> {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    invalid('settings overrides must be an object');
  }
  const out: Partial<SubscriptionSettings> = {};
  for (const [k, v] of Object.entries(overrides)) {
    if (!(settingsKeys as string[]).includes(k)) invalid(`unknown setting ${k}`);
    if (k === 'pipSizes') {
      out.pipSizes = validatePipSizes(v);
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) invalid(`setting ${k} must be a finite number >= 0`);
    if (positiveSettings.includes(k) && !(v >= 1)) invalid(`setting ${k} must be >= 1`);
    (out as Record<string, number>)[k] = v;
  }
  return out;
}

const pipSizeSymbolPattern = new RegExp(`^[A-Za-z0-9]{1,${fields.symbolLengthMax}}$`);

/** Pip sizes by symbol: the seed's symbol rule for keys, a positive finite size for values. */
function validatePipSizes(value: unknown): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid('pipSizes must be an object');
  const out: Record<string, number> = {};
  for (const [symbol, size] of Object.entries(value as Record<string, unknown>)) {
    if (!pipSizeSymbolPattern.test(symbol)) invalid(`pipSizes keys must be symbols ([A-Za-z0-9]{1,${fields.symbolLengthMax}})`);
    if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) invalid(`pip size of ${symbol} must be > 0`);
    out[symbol] = size;
  }
  return out;
}

/** The defaults of proto/limits.ts with a subscription's overrides on top. */
export function mergeSettings(overrides: unknown): SubscriptionSettings {
  return { ...subscriptionDefaults, ...validateSettingsOverrides(overrides ?? {}) };
}
