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
import type { ClientBase, Pool } from 'pg';
import { control } from '../../engine/limits';

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
} as const;
export type ControlKind = (typeof ControlKind)[keyof typeof ControlKind];

export type ControlMessage =
  | { kind: 'ISOLATE'; subscriptionId: string }
  | { kind: 'LIFT'; subscriptionId: string }
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
