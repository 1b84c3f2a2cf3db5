/**
 * The client's view of the two signing schemes, over the engine's modules
 * (one implementation of each MAC for both sides of the wire).
 */
import { signV1, type V1Fields, macV2 } from '@sigplane/protocol';

export type { V1Fields };

export type MasterSigning =
  | { version: 1; secret: string | Uint8Array }
  | { version: 2; keyId: string; key: Uint8Array };

/** v1: lowercase hex HMAC-SHA256 over the seed's payload string. */
export function signatureV1(secret: string | Uint8Array, fields: V1Fields): string {
  return signV1(secret, fields);
}

/** v2: HMAC-SHA256(key, body), 32 bytes. */
export function macOverBody(key: Uint8Array, body: Uint8Array): Uint8Array {
  return macV2(key, body);
}
