/**
 * Admin API credentials, in the format of the license tokens
 * (persistence/pg/tokens.ts) with their own prefix, so secret scanners tell
 * a leaked admin credential from a license:
 *
 *   spa_<64 hex>_<8 hex>
 *
 * 32 random bytes; the database keeps only their SHA-256 (hex). The last part
 * is the CRC-32 of "spa_<64 hex>": a typo is refused without a database
 * round trip. The same lookup-by-hash argument as tokens.ts holds; the stored
 * hash is compared again in constant time after the lookup.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { credentials } from '@sigplane/protocol';
import { tokenChecksumHex, tokenDisplayChars, tokenSecretHash } from './tokens';

const adminTokenPrefix = 'spa_';
/** "spa_" + 64 hex + "_" + 8 hex. */
const adminTokenLength = 4 + 64 + 1 + 8;
const adminTokenPattern = /^spa_([0-9a-f]{64})_([0-9a-f]{8})$/;

export interface GeneratedAdminToken {
  /** Shown once, never stored. */
  token: string;
  tokenHash: string;
  /** "spa_1a2b3c4d": lets an operator tell credentials apart. */
  tokenPrefix: string;
}

export function generateAdminToken(): GeneratedAdminToken {
  const secret = randomBytes(credentials.tokenBytes);
  const body = adminTokenPrefix + secret.toString('hex');
  const token = `${body}_${tokenChecksumHex(body)}`;
  const tokenHash = tokenSecretHash(secret);
  secret.fill(0);
  return { token, tokenHash, tokenPrefix: token.slice(0, tokenDisplayChars) };
}

/** The SHA-256 hex to look up, or null when the format or the checksum is wrong (no database access). */
export function adminTokenHash(s: string): string | null {
  if (typeof s !== 'string' || s.length !== adminTokenLength) return null;
  const m = adminTokenPattern.exec(s);
  if (m === null || tokenChecksumHex(`${adminTokenPrefix}${m[1]}`) !== m[2]) return null;
  return tokenSecretHash(Buffer.from(m[1], 'hex'));
}

/** Two SHA-256 hex strings compared in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
