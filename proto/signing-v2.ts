/**
 * v2 MACs: HMAC-SHA256 over the exact body bytes the master sent (an
 * encoded SignalBody or SnapshotBody), under the raw 32-byte key named by
 * `key_id`. The server verifies before it decodes the body, so no float is
 * ever re-formatted to check a MAC. Two key ids can be valid at once during
 * a rotation: the lookup decides which ids are valid for the subscription.
 *
 * No message thrown or returned here contains a key or a MAC.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { credentials } from './limits';

/** Bytes of a v2 MAC (HMAC-SHA256). */
export const v2MacBytes = 32;

/** Valid keys of a subscription by key id: a map, or a function (undefined: no such key). */
export type V2KeyLookup = ReadonlyMap<string, Uint8Array> | ((keyId: string) => Uint8Array | undefined);

export type V2Verdict = 'ok' | 'UNKNOWN_KEY' | 'SIGNATURE_INVALID';

/** The fields of a proto `Signed` message. */
export interface V2Signed {
  body: Uint8Array;
  keyId: string;
  mac: Buffer;
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== credentials.macKeyBytes) {
    throw new RangeError(`a v2 key is ${credentials.macKeyBytes} raw bytes`);
  }
}

/** HMAC-SHA256(key, body): 32 bytes. A key that is not 32 bytes throws RangeError. */
export function macV2(key: Uint8Array, body: Uint8Array): Buffer {
  assertKey(key);
  return createHmac('sha256', key).update(body).digest();
}

/** What a master puts in a `Signed` frame for `body` under `keyId`. */
export function signV2(keyId: string, key: Uint8Array, body: Uint8Array): V2Signed {
  if (keyId.length === 0) throw new RangeError('a v2 key id must not be empty');
  return { body, keyId, mac: macV2(key, body) };
}

/**
 * 'UNKNOWN_KEY' when `keyId` names no valid key, or names one that is not
 * 32 bytes (a misconfigured key is unusable, never a weaker key);
 * 'SIGNATURE_INVALID' when the MAC is not 32 bytes or does not match
 * (constant-time comparison); 'ok' otherwise. Never throws on bad input.
 */
export function verifyV2(keys: V2KeyLookup, keyId: string, body: Uint8Array, mac: Uint8Array): V2Verdict {
  const key = typeof keys === 'function' ? keys(keyId) : keys.get(keyId);
  if (!(key instanceof Uint8Array) || key.byteLength !== credentials.macKeyBytes) return 'UNKNOWN_KEY';
  if (!(mac instanceof Uint8Array) || mac.byteLength !== v2MacBytes) return 'SIGNATURE_INVALID';
  const expected = createHmac('sha256', key).update(body).digest();
  return timingSafeEqual(expected, mac) ? 'ok' : 'SIGNATURE_INVALID';
}
