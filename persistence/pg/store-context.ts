/**
 * What the configuration stores (subscription-store.ts, license-token-store.ts,
 * allowed-ip-store.ts, mac-key-store.ts, credential-rotation.ts,
 * subscription-isolation.ts, token-authentication.ts) run on: the pool,
 * the secret box that seals MAC keys, and the clock. Time comes from the
 * injectable clock, passed to SQL as a parameter, so expiry is testable and
 * every node uses one rule.
 */
import type { Pool } from 'pg';
import type { SecretBox } from './secret-box';

export interface StoreContext {
  pool: Pool;
  /** Seals and opens mac_keys secrets (the KEK never reaches Postgres). */
  box: SecretBox;
  /** The clock (ms since the epoch). */
  nowMs: () => number;
}
