/**
 * The query string of a WebSocket upgrade. Neither /v1/master nor
 * /v1/receiver takes one, so any query is refused:
 *
 *   CREDENTIAL_IN_URL  it holds something shaped like a credential, or a
 *                      parameter named like one. Its owner should treat
 *                      the credential as leaked: URLs end up in proxy logs,
 *                      browser history and Referer headers.
 *   QUERY_NOT_ALLOWED  anything else.
 *
 * Shapes are looked for in the query as it came and in each of its
 * percent-decodings, with `+` read as a space (forms) and as a plus (URIs),
 * for up to wire.upgradeQueryDecodingRoundsMax rounds: wherever a server or
 * a proxy that decodes the URL would find a credential, this finds it too.
 * The query itself is never stored, logged or echoed; only the code is, and
 * for CREDENTIAL_IN_URL what was found, in words from the lists below (the
 * parameter's name as listed, the kind of value): a parameter's own name
 * can be a credential too (`?spr_...=1`), so neither names nor values are
 * ever copied.
 */
import { wire, UpgradeRefusalCode } from '@sigplane/protocol';

export interface QueryRefusal {
  code: typeof UpgradeRefusalCode.CREDENTIAL_IN_URL | typeof UpgradeRefusalCode.QUERY_NOT_ALLOWED;
  /**
   * CREDENTIAL_IN_URL: what was found, in our words (`parameter "token"`,
   * `a receiver token`, both joined by ", " when both were); null otherwise.
   */
  found: string | null;
}

/**
 * Shapes of credentials sigplane issues or accepts, anywhere in a decoded
 * query (no word boundaries: `_` and `=` may abut), each with what it is;
 * the first that any form holds names it (the most specific first: a
 * token's body is hex too).
 */
const credentialShapes: readonly { shape: RegExp; what: string }[] = [
  // A sigplane token, whole or cut short.
  { shape: /spm_[0-9a-f]{16,}/i, what: 'a master token' },
  { shape: /spr_[0-9a-f]{16,}/i, what: 'a receiver token' },
  { shape: /spa_[0-9a-f]{16,}/i, what: 'an admin token' },
  { shape: /sp[a-z]_[0-9a-f]{16,}/i, what: 'a token-shaped value' },
  // An Authorization value.
  { shape: /bearer\s+\S/i, what: 'a Bearer value' },
  // A secret in hex: a token's body, a MAC key as shown to its provider, a token hash.
  { shape: /[0-9a-f]{32,}/i, what: 'a hex secret (a token body, MAC key or hash)' },
  // 32 bytes in base64: a v2 MAC key, a KEK.
  { shape: /[A-Za-z0-9+/]{43}=/, what: 'a base64 key (a MAC key or KEK)' },
];

/** A parameter named like a credential (`token`, `access_token`, `api-key`, `auth`, `license`, `mac`...), whatever its value; group 1 is the listed word. */
const credentialName = /^(?:.*[_.-])?(token|auth|authorization|bearer|key|apikey|secret|password|passwd|license|licence|credential|signature|mac|hmac)s?$/i;

/** The refusal an upgrade's query string (`req.getQuery()`, without the `?`) earns; null for none or an empty one. */
export function queryRefusal(query: string): QueryRefusal | null {
  if (query === '') return null;
  const forms = decodings(query);
  const name = credentialParameter(forms);
  const shape = credentialShapes.find(({ shape }) => forms.some((form) => shape.test(form)))?.what ?? null;
  if (name === null && shape === null) return { code: UpgradeRefusalCode.QUERY_NOT_ALLOWED, found: null };
  const found = [name === null ? null : `parameter "${name}"`, shape].filter((part) => part !== null);
  return { code: UpgradeRefusalCode.CREDENTIAL_IN_URL, found: found.join(', ') };
}

/** The listed word (lower case, singular) the first credential-named parameter of any form is named for, or null. */
function credentialParameter(forms: string[]): string | null {
  for (const form of forms) {
    for (const pair of form.split(/[&;]/)) {
      const match = credentialName.exec(pair.split('=', 1)[0]!.trim());
      if (match !== null) return match[1]!.toLowerCase();
    }
  }
  return null;
}

/** The query as it came and every distinct form it decodes to (at most 2^(rounds+1) - 1 of them). */
function decodings(query: string): string[] {
  const seen = new Set([query]);
  let frontier = [query];
  for (let round = 0; round < wire.upgradeQueryDecodingRoundsMax && frontier.length > 0; round++) {
    const next: string[] = [];
    for (const form of frontier) {
      for (const decoded of [percentDecoded(form), percentDecoded(form.replaceAll('+', ' '))]) {
        if (seen.has(decoded)) continue;
        seen.add(decoded);
        next.push(decoded);
      }
    }
    frontier = next;
  }
  return [...seen];
}

/** Every %XX replaced by its byte (read as Latin-1, so no sequence is invalid); a stray `%` stays as it is. */
function percentDecoded(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_all, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

