/**
 * Incident response on the I/O thread: what the control channel's messages
 * do to live connections and actors.
 *
 * ISOLATE  the subscription's actor gets an `isolate` event (state ISOLATED,
 *          journaled, StateChange to every connection); right after that
 *          StateChange went out, or isolateCloseWaitMs at the latest, every
 *          connection of the subscription is closed with 4003 ISOLATED.
 *          Upgrades are refused by the store (SUBSCRIPTION_ISOLATED); one
 *          authenticated just before and opened just after is closed on open.
 * LIFT     the actor gets a `lift` event; connections are let in again.
 * REVOKE   every session the token authenticated is closed with 4004
 *          REVOKED at once; the token is remembered for
 *          revokedTokenRememberMs so a session already past authentication
 *          is closed on open.
 *
 * After the first resync the `isolated` set mirrors subscriptions.state =
 * ISOLATED, and actors follow it: an actor that reports ISOLATED (recovered
 * from its journal) for a subscription no longer isolated is lifted.
 */
import { control, SubscriptionState } from '@sigplane/protocol';
import type { ShardInbound } from '../engine/shard-protocol';
import type { ControlMessage, EndedSessions, LiveSession } from '../persistence/pg/control-channel';
import type { ConnectionData, ConnectionRegistry, Socket } from './connections';
import type { ControlTarget } from './control-listener';

/** Close codes of operator actions (see CloseCode in io/close-codes.ts). */
export const IncidentCloseCode = {
  ISOLATED: 4003,
  REVOKED: 4004,
  /** The session's token passed its expires_at while connected. */
  EXPIRED: 4005,
  /** The session's address is no longer on its subscription's allowlist (removed, or its entry expired). */
  IP_NOT_ALLOWED: 4006,
} as const;

/** What the actor is told (and journals, and sends in StateChange): never the operator's own reason. */
const isolateReason = 'isolated by an operator';
const liftReason = 'isolation lifted by an operator';

export interface IncidentDeps {
  connections: ConnectionRegistry;
  closeSocket(ws: Socket, code: number, reason: string): void;
  toShard(subscriptionId: string, message: ShardInbound): boolean;
  /** States the actors reported (recovered or changed) since start. */
  reportedStates(): Iterable<[string, SubscriptionState]>;
  reportedState(subscriptionId: string): SubscriptionState | undefined;
  onClosed(reason: 'ISOLATED' | 'REVOKED' | 'EXPIRED' | 'IP_NOT_ALLOWED', count: number): void;
  /** A receiver license's copy settings changed: resend them to its sessions. */
  onReceiverSettingsChanged?(tokenId: string): void;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  nowMs(): number;
}

export class IncidentControl implements ControlTarget {
  private readonly isolated = new Set<string>();
  /** Isolated subscriptions whose connections are still open: closed after the StateChange, or by the timer. */
  private readonly closeTimers = new Map<string, NodeJS.Timeout>();
  /** Subscriptions whose connections close once the frames of the current batch are written. */
  private readonly closeAfterFlush = new Set<string>();
  /** tokenId -> when it was revoked (insertion order = age). */
  private readonly revokedRecently = new Map<string, number>();
  /** Lifts that met a full ring, retried until told (an actor left ISOLATED would refuse every signal). */
  private readonly liftRetries = new Map<string, NodeJS.Timeout>();
  private synced = false;

  constructor(private readonly deps: IncidentDeps) {}

  isIsolated(subscriptionId: string): boolean {
    return this.isolated.has(subscriptionId);
  }

  // ---- ControlTarget ----

  apply(message: ControlMessage): void {
    switch (message.kind) {
      case 'ISOLATE':
        return this.isolate(message.subscriptionId);
      case 'LIFT':
        return this.lift(message.subscriptionId);
      case 'REVOKE':
        return this.revoke(message.tokenId);
      case 'RECEIVER_SETTINGS':
        return this.deps.onReceiverSettingsChanged?.(message.tokenId);
      case 'ALLOWLIST':
        return; // the listener re-checks the live sessions (endSessions)
    }
  }

  resync(state: { isolatedSubscriptionIds: ReadonlySet<string>; complete: boolean; revokedTokenIds: readonly string[] }): void {
    for (const subscriptionId of state.isolatedSubscriptionIds) {
      if (!this.isolated.has(subscriptionId)) this.isolate(subscriptionId);
    }
    if (state.complete) {
      const stale = new Set<string>();
      for (const subscriptionId of this.isolated) if (!state.isolatedSubscriptionIds.has(subscriptionId)) stale.add(subscriptionId);
      for (const [subscriptionId, s] of this.deps.reportedStates()) {
        if (s === SubscriptionState.ISOLATED && !state.isolatedSubscriptionIds.has(subscriptionId)) stale.add(subscriptionId);
      }
      for (const subscriptionId of stale) this.lift(subscriptionId);
      this.synced = true;
    } else {
      this.deps.log('error', 'too many ISOLATED subscriptions to resync in full: lifts missed while disconnected are not applied', {
        limit: control.isolatedSubscriptionsMax,
      });
    }
    for (const tokenId of state.revokedTokenIds) this.revoke(tokenId);
  }

  liveTokenIds(): string[] {
    return this.deps.connections.tokenIds();
  }

  liveSessions(): LiveSession[] {
    return this.deps.connections.connectionsWhere(() => true).map((ws) => {
      const data = ws.getUserData().connection;
      return { tokenId: data.tokenId, subscriptionId: data.subscriptionId, remoteAddress: data.remoteAddress };
    });
  }

  /** Close the sessions the upgrade checks would refuse now (a token expired, an address no longer allowed). */
  endSessions(ended: EndedSessions): void {
    if (ended.expiredTokenIds.length === 0 && ended.disallowed.length === 0) return;
    const expired = new Set(ended.expiredTokenIds);
    const disallowed = new Set(ended.disallowed.map((d) => `${d.subscriptionId} ${d.remoteAddress}`));
    let expiredCount = 0;
    let disallowedCount = 0;
    for (const ws of this.deps.connections.connectionsWhere(() => true)) {
      const data = ws.getUserData().connection;
      if (expired.has(data.tokenId)) {
        this.deps.closeSocket(ws, IncidentCloseCode.EXPIRED, 'EXPIRED');
        expiredCount++;
      } else if (disallowed.has(`${data.subscriptionId} ${data.remoteAddress}`)) {
        this.deps.closeSocket(ws, IncidentCloseCode.IP_NOT_ALLOWED, 'IP_NOT_ALLOWED');
        disallowedCount++;
      }
    }
    if (expiredCount > 0) this.deps.onClosed('EXPIRED', expiredCount);
    if (disallowedCount > 0) this.deps.onClosed('IP_NOT_ALLOWED', disallowedCount);
    this.deps.log('info', 'sessions ended: token expired or address no longer allowed', { expired: expiredCount, ipNotAllowed: disallowedCount });
  }

  // ---- hooks from the server ----

  /** A connection just opened: the close code and reason to end it with, or null to keep it. */
  refusalOnOpen(data: ConnectionData): { code: number; reason: string } | null {
    if (this.isolated.has(data.subscriptionId)) return { code: IncidentCloseCode.ISOLATED, reason: 'ISOLATED' };
    if (this.revokedRecently.has(data.tokenId)) return { code: IncidentCloseCode.REVOKED, reason: 'REVOKED' };
    return null;
  }

  /** An actor reported its state (a change, or what it recovered from its journal). */
  onActorState(subscriptionId: string, state: SubscriptionState): void {
    if (state !== SubscriptionState.ISOLATED) return;
    if (this.closeTimers.has(subscriptionId)) {
      // The StateChange is in this batch: close once it is written.
      clearTimeout(this.closeTimers.get(subscriptionId));
      this.closeTimers.delete(subscriptionId);
      this.closeAfterFlush.add(subscriptionId);
    } else if (this.synced && !this.isolated.has(subscriptionId)) {
      // Recovered ISOLATED, or an isolate already lifted: the database says otherwise. A lift is idempotent.
      this.liftActor(subscriptionId);
    }
  }

  /** The frames of a batch were written: close what waited for them. */
  afterFlush(): void {
    if (this.closeAfterFlush.size === 0) return;
    for (const subscriptionId of this.closeAfterFlush) this.closeSubscription(subscriptionId);
    this.closeAfterFlush.clear();
  }

  stop(): void {
    for (const timer of this.closeTimers.values()) clearTimeout(timer);
    this.closeTimers.clear();
    this.closeAfterFlush.clear();
    for (const timer of this.liftRetries.values()) clearTimeout(timer);
    this.liftRetries.clear();
  }

  // ---- the actions ----

  private isolate(subscriptionId: string): void {
    this.isolated.add(subscriptionId);
    const reported = this.deps.reportedState(subscriptionId);
    const sent = this.sendToActor(subscriptionId, 'isolate');
    this.deps.log('info', 'subscription isolated', { subscriptionId });
    // Already ISOLATED (no StateChange will come) or the actor was not told: close now.
    if (!sent || reported === SubscriptionState.ISOLATED || this.deps.connections.count(subscriptionId) === 0) {
      this.closeSubscription(subscriptionId);
      return;
    }
    if (this.closeTimers.has(subscriptionId)) return;
    const timer = setTimeout(() => {
      this.closeTimers.delete(subscriptionId);
      this.closeSubscription(subscriptionId);
    }, control.isolateCloseWaitMs);
    this.closeTimers.set(subscriptionId, timer);
  }

  private lift(subscriptionId: string): void {
    this.isolated.delete(subscriptionId);
    const timer = this.closeTimers.get(subscriptionId);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.closeTimers.delete(subscriptionId);
    }
    this.closeAfterFlush.delete(subscriptionId);
    this.liftActor(subscriptionId);
    this.deps.log('info', 'subscription isolation lifted', { subscriptionId });
  }

  private liftActor(subscriptionId: string): void {
    const retry = this.liftRetries.get(subscriptionId);
    if (retry !== undefined) clearTimeout(retry);
    this.liftRetries.delete(subscriptionId);
    if (this.isolated.has(subscriptionId) || this.sendToActor(subscriptionId, 'lift')) return;
    this.liftRetries.set(
      subscriptionId,
      setTimeout(() => this.liftActor(subscriptionId), control.liftRetryMs),
    );
  }

  private revoke(tokenId: string): void {
    this.remember(tokenId);
    const sessions = this.deps.connections.ofToken(tokenId);
    for (const ws of sessions) this.deps.closeSocket(ws, IncidentCloseCode.REVOKED, 'REVOKED');
    if (sessions.length > 0) this.deps.onClosed('REVOKED', sessions.length);
    this.deps.log('info', 'token revoked: sessions closed', { tokenId, sessions: sessions.length });
  }

  private closeSubscription(subscriptionId: string): void {
    const sockets = this.deps.connections.connectionsWhere((s) => s === subscriptionId);
    for (const ws of sockets) this.deps.closeSocket(ws, IncidentCloseCode.ISOLATED, 'ISOLATED');
    if (sockets.length > 0) this.deps.onClosed('ISOLATED', sockets.length);
  }

  private sendToActor(subscriptionId: string, kind: 'isolate' | 'lift'): boolean {
    const reason = kind === 'isolate' ? isolateReason : liftReason;
    const sent = this.deps.toShard(subscriptionId, { t: 'event', sub: subscriptionId, ev: { kind, reason } });
    if (!sent) this.deps.log('warn', `shard ring full: the actor was not told to ${kind}`, { subscriptionId });
    return sent;
  }

  private remember(tokenId: string): void {
    const nowMs = this.deps.nowMs();
    this.revokedRecently.delete(tokenId);
    this.revokedRecently.set(tokenId, nowMs);
    for (const [id, atMs] of this.revokedRecently) {
      if (this.revokedRecently.size <= control.revokedTokensRememberedMax && nowMs - atMs < control.revokedTokenRememberMs) break;
      this.revokedRecently.delete(id);
    }
  }
}
