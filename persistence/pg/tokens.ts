/**
 * License tokens, as the seed generates them (32 random bytes; stored as the
 * SHA-256 hex of those bytes, shown once), in a recognisable format:
 *
 *   spm_<64 hex>_<8 hex>   master token
 *   spr_<64 hex>_<8 hex>   receiver token
 *
 * The last part is the CRC-32 (hex, lowercase) of everything before the last
 * underscore ("spr_<64 hex>"): a typo is caught without a database round trip,
 * and secret scanners can recognise a real token with few false positives.
 *
 * Hash comparison: the hash is looked up in SQL by equality on the unique
 * token_hash index. That lookup is not a timing oracle for the token: an
 * attacker controls the token, not its SHA-256, so timing differences of the
 * comparison can reveal at most a prefix of some stored hash, and a hash
 * prefix does not help to find a token (preimage resistance).
 */

import { createHash, randomBytes } from 'node:crypto';
import { credentials } from '@sigplane/protocol';
import { crc32 } from '../crc32';

export type TokenRole = 'master' | 'receiver';

const tokenPrefixes: Readonly<Record<TokenRole, string>> = { master: 'spm_', receiver: 'spr_' };

/** Characters of a token an operator may see (prefix + 8 hex), stored as token_prefix. */
export const tokenDisplayChars = 12;

/** "spm_" + 64 hex + "_" + 8 hex. */
export const tokenLength = 4 + 64 + 1 + 8;
const tokenPattern = /^(spm|spr)_([0-9a-f]{64})_([0-9a-f]{8})$/;
export const tokenHashPattern = /^[0-9a-f]{64}$/;

export interface GeneratedToken {
  role: TokenRole;
  /** Shown once to its owner, never stored. */
  token: string;
  /** SHA-256 hex of the 32 random bytes: what the database keeps. */
  tokenHash: string;
  /** First characters, for operators ("spr_1a2b3c4d"). */
  tokenPrefix: string;
}

export interface ParsedToken {
  role: TokenRole;
  /** SHA-256 hex of the token's 32 bytes: look this up (authenticate). */
  hash: string;
  tokenPrefix: string;
}

/** The last part of a token (license or admin): CRC-32 hex of everything before it. */
export function tokenChecksumHex(body: string): string {
  return crc32(Buffer.from(body, 'ascii')).toString(16).padStart(8, '0');
}

/** What the database keeps of a token: the SHA-256 hex of its random bytes. */
export function tokenSecretHash(secret: Buffer): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function generateToken(role: TokenRole): GeneratedToken {
  const prefix = tokenPrefixes[role];
  if (prefix === undefined) throw new Error(`generateToken: unknown role ${String(role)}`);
  const secret = randomBytes(credentials.tokenBytes);
  const body = prefix + secret.toString('hex');
  const token = `${body}_${tokenChecksumHex(body)}`;
  return { role, token, tokenHash: tokenSecretHash(secret), tokenPrefix: token.slice(0, tokenDisplayChars) };
}

/** Why a string is not a token, or null if it is one (format and checksum; no database access). */
export function tokenFormatError(s: string): 'MALFORMED' | 'CHECKSUM' | null {
  if (typeof s !== 'string' || s.length !== tokenLength) return 'MALFORMED';
  const m = tokenPattern.exec(s);
  if (m === null) return 'MALFORMED';
  return tokenChecksumHex(`${m[1]}_${m[2]}`) === m[3] ? null : 'CHECKSUM';
}

/** Format and checksum check, no database access: the hash to look up, or null. */
export function parseToken(s: string): ParsedToken | null {
  if (tokenFormatError(s) !== null) return null;
  const m = tokenPattern.exec(s);
  if (m === null) return null;
  return {
    role: m[1] === 'spm' ? 'master' : 'receiver',
    hash: tokenSecretHash(Buffer.from(m[2], 'hex')),
    tokenPrefix: s.slice(0, tokenDisplayChars),
  };
}
