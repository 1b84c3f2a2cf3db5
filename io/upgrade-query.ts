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
 * The query itself is never stored, logged or echoed; only the code is.
 */
import { wire, UpgradeRefusalCode } from '@sigplane/protocol';

export type QueryRefusal = typeof UpgradeRefusalCode.CREDENTIAL_IN_URL | typeof UpgradeRefusalCode.QUERY_NOT_ALLOWED;

/** Shapes of credentials sigplane issues or accepts, anywhere in a decoded query (no word boundaries: `_` and `=` may abut). */
const credentialShapes: readonly RegExp[] = [
  // A sigplane token (spm_, spr_, spa_), whole or cut short.
  /sp[a-z]_[0-9a-f]{16,}/i,
  // An Authorization value.
  /bearer\s+\S/i,
  // A secret in hex: a token's body, a MAC key as shown to its provider, a token hash.
  /[0-9a-f]{32,}/i,
  // 32 bytes in base64: a v2 MAC key, a KEK.
  /[A-Za-z0-9+/]{43}=/,
];

/** A parameter named like a credential (`token`, `access_token`, `api-key`, `auth`, `license`...), whatever its value. */
const credentialName = /^(?:.*[_.-])?(?:token|auth|authorization|bearer|key|apikey|secret|password|passwd|license|licence|credential|signature)s?$/i;

/** The refusal an upgrade's query string (`req.getQuery()`, without the `?`) earns; null for none or an empty one. */
export function queryRefusal(query: string): QueryRefusal | null {
  if (query === '') return null;
  return decodings(query).some(holdsCredential) ? UpgradeRefusalCode.CREDENTIAL_IN_URL : UpgradeRefusalCode.QUERY_NOT_ALLOWED;
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

function holdsCredential(form: string): boolean {
  if (credentialShapes.some((shape) => shape.test(form))) return true;
  return form.split(/[&;]/).some((pair) => credentialName.test(pair.split('=', 1)[0]!.trim()));
}
