/**
 * The operators' control channel: Postgres LISTEN/NOTIFY on one channel,
 * `sigplane_control`. Whoever changes what a running server must act on (an
 * isolation, a lift, a revoked token) notifies in the SAME transaction as the
 * change, so the notification leaves exactly when the change is committed.
 *
 * A payload is a hint, never a credential: a kind and ids, in JSON. No
 * secret, no operator text (reasons stay in the audit log). Servers that were
 * not listening when it was sent catch up by reading the state itself after
 * every (re)connect: `readIsolatedSubscriptions`, `readRevokedTokens`.
 */
import { isIP } from 'node:net';
import type { ClientBase, Pool } from 'pg';
import { control } from '@sigplane/protocol';

/** The channel name: a constant identifier (LISTEN takes no parameter). */
export const controlChannel = 'sigplane_control';

export const ControlKind = {
  /** subscriptions.state became ISOLATED: close its connections, isolate its actor. */
  ISOLATE: 'ISOLATE',
  /** The isolation was lifted: lift the actor; connections are let in again. */
  LIFT: 'LIFT',
  /** A token was revoked: close every session it authenticated. */
  REVOKE: 'REVOKE',
  /** A receiver license's copy settings changed: resend them to its live sessions. */
  RECEIVER_SETTINGS: 'RECEIVER_SETTINGS',
  /** A subscription's allowlist shrank (an entry removed or its expiry moved): re-check the live sessions' addresses now. */
  ALLOWLIST: 'ALLOWLIST',
} as const;
export type ControlKind = (typeof ControlKind)[keyof typeof ControlKind];

export type ControlMessage =
  | { kind: 'ISOLATE'; subscriptionId: string }
  | { kind: 'LIFT'; subscriptionId: string }
  | { kind: 'ALLOWLIST'; subscriptionId: string }
  | { kind: 'REVOKE'; tokenId: string; subscriptionId: string }
  | { kind: 'RECEIVER_SETTINGS'; tokenId: string; subscriptionId: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

export function encodeControlMessage(message: ControlMessage): string {
  const payload =
    message.kind === 'REVOKE' || message.kind === 'RECEIVER_SETTINGS'
      ? JSON.stringify({ kind: message.kind, subscriptionId: message.subscriptionId, tokenId: message.tokenId })
      : JSON.stringify({ kind: message.kind, subscriptionId: message.subscriptionId });
  if (parseControlMessage(payload) === null) throw new Error(`encodeControlMessage: not a valid message: ${payload}`);
  return payload;
}

/** A payload as received, checked (kind known, ids lowercase UUIDs, size bounded), or null. */
export function parseControlMessage(payload: string | undefined): ControlMessage | null {
  if (typeof payload !== 'string' || payload.length > control.payloadBytesMax) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { kind, subscriptionId, tokenId } = parsed as Record<string, unknown>;
  if (!isUuid(subscriptionId)) return null;
  switch (kind) {
    case ControlKind.ISOLATE:
    case ControlKind.LIFT:
    case ControlKind.ALLOWLIST:
      return { kind, subscriptionId };
    case ControlKind.REVOKE:
    case ControlKind.RECEIVER_SETTINGS:
      return isUuid(tokenId) ? { kind, subscriptionId, tokenId } : null;
    default:
      return null;
  }
}

/** A pg Client, PoolClient or Pool. */
export type Queryable = ClientBase | Pool;

/** NOTIFY inside the caller's transaction: delivered on COMMIT, dropped on ROLLBACK. */
export async function notifyControl(q: Queryable, message: ControlMessage): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [controlChannel, encodeControlMessage(message)]);
}

/**
 * The subscriptions an operator isolated, at most `limit`. `complete` is
 * false when the limit was reached: then absence from the set proves nothing.
 */
export async function readIsolatedSubscriptions(
  q: Queryable,
  limit: number = control.isolatedSubscriptionsMax,
): Promise<{ subscriptionIds: Set<string>; complete: boolean }> {
  const { rows } = await q.query<{ subscription_id: string }>(
    `SELECT subscription_id FROM subscriptions WHERE state = 'ISOLATED' ORDER BY subscription_id LIMIT $1`,
    [limit + 1],
  );
  const complete = rows.length <= limit;
  return { subscriptionIds: new Set(rows.slice(0, limit).map((r) => r.subscription_id)), complete };
}

/** A session the server holds: what its upgrade was admitted on. */
export interface LiveSession {
  tokenId: string;
  subscriptionId: string;
  remoteAddress: string;
}

export interface EndedSessions {
  /** Tokens past their expires_at: their sessions end. */
  expiredTokenIds: string[];
  /** (subscription, address) pairs no allowlist entry admits any more. */
  disallowed: { subscriptionId: string; remoteAddress: string }[];
}

/**
 * Of the given live sessions, those that the upgrade checks would refuse
 * now: an expired token, or an address without an unexpired allowlist
 * entry (the same rules as authenticate, token-authentication.ts).
 * Bounded chunks.
 */
export async function readEndedSessions(q: Queryable, sessions: readonly LiveSession[], nowMs: number): Promise<EndedSessions> {
  const tokenIds = [...new Set(sessions.map((s) => s.tokenId).filter(isUuid))];
  const expiredTokenIds: string[] = [];
  for (let i = 0; i < tokenIds.length; i += control.resyncTokenIdsPerQueryMax) {
    const { rows } = await q.query<{ token_id: string }>(
      `SELECT token_id FROM license_tokens
        WHERE token_id = ANY($1::uuid[]) AND expires_at IS NOT NULL AND expires_at <= to_timestamp($2::float8 / 1000)`,
      [tokenIds.slice(i, i + control.resyncTokenIdsPerQueryMax), nowMs],
    );
    for (const r of rows) expiredTokenIds.push(r.token_id);
  }
  const pairs = new Map<string, { subscriptionId: string; remoteAddress: string }>();
  for (const s of sessions) {
    if (isUuid(s.subscriptionId) && isIP(s.remoteAddress) !== 0) pairs.set(`${s.subscriptionId} ${s.remoteAddress}`, { subscriptionId: s.subscriptionId, remoteAddress: s.remoteAddress });
  }
  const all = [...pairs.values()];
  const disallowed: EndedSessions['disallowed'] = [];
  for (let i = 0; i < all.length; i += control.resyncTokenIdsPerQueryMax) {
    const chunk = all.slice(i, i + control.resyncTokenIdsPerQueryMax);
    const { rows } = await q.query<{ subscription_id: string; remote_address: string }>(
      `SELECT s.sub::text AS subscription_id, s.addr AS remote_address
         FROM unnest($1::uuid[], $2::text[]) AS s(sub, addr)
        WHERE NOT EXISTS (
          SELECT 1 FROM allowed_ips a
           WHERE a.subscription_id = s.sub
             AND a.ip_address >>= s.addr::inet
             AND (a.expires_at IS NULL OR a.expires_at > to_timestamp($3::float8 / 1000)))`,
      [chunk.map((p) => p.subscriptionId), chunk.map((p) => p.remoteAddress), nowMs],
    );
    for (const r of rows) disallowed.push({ subscriptionId: r.subscription_id, remoteAddress: r.remote_address });
  }
  return { expiredTokenIds, disallowed };
}

/** Of the given token ids, those revoked by now (queried in bounded chunks). */
export async function readRevokedTokens(q: Queryable, tokenIds: readonly string[], nowMs: number): Promise<string[]> {
  const ids = tokenIds.filter(isUuid);
  const revoked: string[] = [];
  for (let i = 0; i < ids.length; i += control.resyncTokenIdsPerQueryMax) {
    const chunk = ids.slice(i, i + control.resyncTokenIdsPerQueryMax);
    const { rows } = await q.query<{ token_id: string }>(
      `SELECT token_id FROM license_tokens
        WHERE token_id = ANY($1::uuid[]) AND revoked_at IS NOT NULL AND revoked_at <= to_timestamp($2::float8 / 1000)`,
      [chunk, nowMs],
    );
    for (const r of rows) revoked.push(r.token_id);
  }
  return revoked;
}
