/**
 * A MAC secret a provider brings (a Master EA moving to sigplane keeps its
 * key), as the configuration store checks it and as a mac_keys row seals it
 * (mac-key-store.ts).
 *
 * Two kinds, and only these:
 * - **a key in the format sigplane generates** (64 lowercase hex
 *   characters): v2 signs with the 32 bytes it spells, v1 with the text. It
 *   is refused when its characters are plainly not random (a v2 key is
 *   never a weak one).
 * - **a legacy v1 secret**, only when the importer opts in (`legacyV1`): the
 *   seed let an EA sign v1 with any string, whose UTF-8 bytes (as MQL5's
 *   StringToCharArray gives them) are the HMAC key. Any such string of
 *   1..legacyV1BytesMax bytes with no control character. It verifies v1
 *   only: no v2 key is ever derived from it. Under the minimums of
 *   proto/limits.ts `importedMacSecret` it is reported weak (WEAK_MAC_KEY),
 *   not refused: the opt-in is the operator's informed choice, and the
 *   existing rotation replaces it.
 *
 * What a row seals (its plaintext) says which kind it is: a generated-format
 * key is its 32 bytes; a legacy v1 secret is legacyV1Marker (itself 32
 * bytes) followed by its UTF-8 bytes, so at least 33 bytes, never mistaken
 * for a v2 key. The marker is inside the authenticated ciphertext, so a
 * database writer cannot turn a v1-only secret into a v2 key, and a server
 * that predates it fails closed (no 32-byte v2 key; a v1 secret that is not
 * the EA's).
 *
 * No message here holds the secret or anything derived from it.
 */
import { credentials, importedMacSecret, SigplaneError } from '@sigplane/protocol';

export type WeakMacSecretReason = 'SHORT' | 'LOW_ENTROPY';

/** A warning in an import's answer: the secret was taken, but it is weak. Names the reasons, never the value. */
export interface MacKeyWarning {
  code: 'WEAK_MAC_KEY';
  reasons: WeakMacSecretReason[];
  message: string;
}

export interface ImportedMacSecret {
  /** What the mac_keys row seals (zero it once sealed). */
  plaintext: Buffer;
  /** True: a legacy v1 secret, v1 only. */
  legacyV1: boolean;
  /** Empty unless weak. */
  weakness: WeakMacSecretReason[];
}

/** A mac_keys row's secret once opened. */
export interface OpenedMacSecret {
  /** legacyV1 false: the 32 bytes of a v2 key (v1 signs with their hex text); true: the v1 HMAC key itself. */
  secret: Buffer;
  legacyV1: boolean;
}

/** Starts the plaintext of a sealed legacy v1 secret; 32 bytes, so such a plaintext is never a v2 key's length. */
const legacyV1Marker = Buffer.from('sigplane/mac-key/legacy-v1-only\u0000', 'utf8');
if (legacyV1Marker.length !== credentials.macKeyBytes) throw new Error('legacyV1Marker must be as long as a v2 key');

/** A MAC key as sigplane generates and shows it: credentials.macKeyBytes random bytes, lowercase hex. */
const macSecretHexPattern = new RegExp(`^[0-9a-f]{${credentials.macKeyBytes * 2}}$`);

/**
 * C0 and C1 controls (NUL, tab, line breaks, DEL, ...), unpaired UTF-16
 * surrogates (no UTF-8 form) and U+FEFF (a byte-order mark left by an
 * editor): none can be part of an EA's one-line input string as typed.
 */
const refusedInLegacySecret = /[\p{Cc}\p{Cs}\uFEFF]/u;

function invalidMacKey(message: string): never {
  throw new MacSecretError(message);
}

/** INVALID_MAC_KEY; mac-key-store.ts turns it into its ConfigError. */
export class MacSecretError extends SigplaneError<'INVALID_MAC_KEY'> {
  constructor(message: string) {
    super('INVALID_MAC_KEY', message);
  }
}

const generatedFormat = `${credentials.macKeyBytes * 2} lowercase hex characters (${credentials.macKeyBytes} bytes), the format sigplane generates`;

/**
 * A provider's MAC secret, checked (MacSecretError: INVALID_MAC_KEY) and in
 * the form its row seals. Without `legacyV1` only a generated-format key is
 * taken; with it, any legacy v1 secret (the header's rules), v1 only.
 */
export function parseImportedMacSecret(text: unknown, opts: { legacyV1: boolean }): ImportedMacSecret {
  if (typeof text !== 'string') invalidMacKey(`a MAC key is ${generatedFormat}`);
  return opts.legacyV1 ? parseLegacyV1Secret(text) : parseGeneratedFormat(text);
}

function parseGeneratedFormat(text: string): ImportedMacSecret {
  if (!macSecretHexPattern.test(text)) {
    invalidMacKey(`a MAC key is ${generatedFormat}; an EA's existing v1 secret in another format needs the legacy v1 opt-in (v1 only)`);
  }
  if (estimatedBits(text) < importedMacSecret.strongBitsMin) {
    invalidMacKey(`a MAC key's characters must look random (under ${importedMacSecret.strongBitsMin} estimated bits): a v2 key is never a weak one; use a generated key`);
  }
  return { plaintext: Buffer.from(text, 'hex'), legacyV1: false, weakness: [] };
}

function parseLegacyV1Secret(text: string): ImportedMacSecret {
  if (refusedInLegacySecret.test(text)) {
    invalidMacKey('a legacy v1 secret must not contain control characters, unpaired surrogates or a byte-order mark');
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes < 1 || bytes > importedMacSecret.legacyV1BytesMax) invalidMacKey(`a legacy v1 secret is 1..${importedMacSecret.legacyV1BytesMax} UTF-8 bytes`);
  const weakness: WeakMacSecretReason[] = [];
  if (bytes < importedMacSecret.strongBytesMin) weakness.push('SHORT');
  if (estimatedBits(text) < importedMacSecret.strongBitsMin) weakness.push('LOW_ENTROPY');
  const plaintext = Buffer.alloc(legacyV1Marker.length + bytes);
  legacyV1Marker.copy(plaintext);
  plaintext.write(text, legacyV1Marker.length, 'utf8');
  return { plaintext, legacyV1: true, weakness };
}

/** The warning an import answers with when its secret is weak; null otherwise. */
export function weakMacKeyWarning(weakness: readonly WeakMacSecretReason[]): MacKeyWarning | null {
  if (weakness.length === 0) return null;
  const why = weakness.map((r) =>
    r === 'SHORT' ? `shorter than ${importedMacSecret.strongBytesMin} bytes` : `under ${importedMacSecret.strongBitsMin} estimated bits`,
  );
  return {
    code: 'WEAK_MAC_KEY',
    reasons: [...weakness],
    message: `the imported v1 secret is weak (${why.join(', ')}): whoever guesses it can sign this subscription's v1 signals; rotate to a generated key once the EA takes one (rotate-credentials)`,
  };
}

/** A mac_keys row's plaintext as a key (a legacy secret is copied out and the plaintext zeroed): the two forms of the header; anything else throws (no secret in the message). */
export function openedMacSecret(plaintext: Buffer): OpenedMacSecret {
  if (plaintext.length === credentials.macKeyBytes) return { secret: plaintext, legacyV1: false };
  if (plaintext.length > legacyV1Marker.length && plaintext.subarray(0, legacyV1Marker.length).equals(legacyV1Marker)) {
    const secret = Buffer.from(plaintext.subarray(legacyV1Marker.length));
    plaintext.fill(0);
    return { secret, legacyV1: true };
  }
  throw new Error(`a mac_keys secret of ${plaintext.length} bytes is neither a v2 key nor a legacy v1 secret`);
}

/**
 * An upper estimate of a secret's strength: its length in characters times
 * the Shannon entropy of its own character frequencies. Repeats and small
 * alphabets score low ("0000…" is 0, "passwordpassword…" 88); a phrase or a
 * reused password can still score high, so passing is no proof of strength.
 */
function estimatedBits(text: string): number {
  const chars = Array.from(text);
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return chars.length * perChar;
}
