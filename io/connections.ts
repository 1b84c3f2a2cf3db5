/**
 * Who is connected, on the I/O thread: each WebSocket's data, per
 * subscription its masters and its live receivers (those caught up and
 * taking live deliveries), and per token its sessions (a revoked token's are
 * closed). Only the I/O thread reads or writes this.
 */
import { isDeepStrictEqual } from 'node:util';
import type { WebSocket } from 'uWebSockets.js';
import type { SubscriptionSettings, TokenBucket } from '@sigplane/protocol';

export type Role = 'master' | 'receiver';

/** A subscription's MAC key: v2 keys HMAC with the raw 32 bytes; v1 (the seed) with the secret's text. */
export interface MacKey {
  keyId: string;
  /** The 32 raw bytes (v2); empty for an imported legacy v1 secret, which no v2 frame can use (UNKNOWN_KEY). */
  secret: Buffer;
  /** The UTF-8 bytes of the secret as shown to the provider, 64 hex characters, or an imported legacy v1 secret's own (v1, as MQL5's StringToCharArray). */
  v1Secret: Buffer;
  /** null: the current key; otherwise a rotated-out key, valid until then (ms since the epoch). */
  notAfterMs: number | null;
}

/** A receiver's macKeys: one empty list for all of them, never changed (dropExpiredMacKeys replaces a list, never edits it). */
export const noMacKeys: readonly MacKey[] = Object.freeze([]);

/** What uWS keeps for each socket (set at upgrade). */
export interface ConnectionData {
  connId: number;
  role: Role;
  subscriptionId: string;
  /** license_tokens.token_id: identifies a receiver's cursor. */
  tokenId: string;
  remoteAddress: string;
  settings: SubscriptionSettings;
  /** Masters only: the subscription's valid MAC keys (two during a rotation); expired ones are dropped (dropExpiredMacKeys). Receivers share noMacKeys. */
  macKeys: readonly MacKey[];
  bucket: TokenBucket;
  /** Receivers: subscribed (sent `subscribe`) and caught up (`live`). */
  subscribed: boolean;
  live: boolean;
  closed: boolean;
  /** Rate-limited frames not yet recorded as a security event, and when the last event was. */
  rateLimitedUnreported: number;
  rateLimitedReportedAtMs: number;
  /** Frames answered RATE_LIMITED in the one-second window starting at rateLimitedWindowStartMs. */
  rateLimitedInWindow: number;
  rateLimitedWindowStartMs: number;
  /**
   * Masters: the lowest sequence answered BUSY and not yet taken (0: none).
   * Until it is resent and taken, every signal above it from this
   * connection is answered BUSY too: a later one reaching the shard first
   * would open a gap (DEGRADED) that the master never meant.
   */
  busyFromSequence: number;
  /** Frames answered BUSY not yet recorded as a security event, the first sequence among them (0: none), and when the last event was (io/busy-refusal-events.ts). */
  busyUnreported: number;
  busyUnreportedFromSequence: number;
  busyReportedAtMs: number;
  /** Receivers: the highest DeliveryAck held back, 0 when none; the highest forwarded to the shard, and when (io/receiver-ack-forwarding.ts). */
  ackHeld: number;
  ackForwarded: number;
  ackForwardedAtMs: number;
}

/**
 * What the socket itself carries: its ConnectionData, as one property. uWS
 * copies the upgrade's userData onto the socket object property by property
 * (getUserData() is the socket), by keyed stores, and V8 turns an object
 * given more than 12 properties that way into a dictionary of about 1.6 KiB:
 * ConnectionData's fields, one by one, cost that on every connection. One
 * property keeps the socket small and ConnectionData a plain object of one
 * shape shared by every connection.
 */
export interface SocketData {
  connection: ConnectionData;
}

export type Socket = WebSocket<SocketData>;

/** Close a connection with a code and a reason, once (a connection already closing is left as it is). */
export function closeSocket(ws: Socket, code: number, reason: string): void {
  const data = ws.getUserData().connection;
  if (data.closed) return;
  data.closed = true;
  ws.end(code, reason);
}

interface SubscriptionConnections {
  /** The one copy of the id and of the latest settings that this subscription's connections share (shareSubscriptionValues). */
  subscriptionId: string;
  settings: SubscriptionSettings | null;
  masters: Set<Socket>;
  receivers: Set<Socket>;
  liveReceivers: Set<Socket>;
}

export class ConnectionRegistry {
  private readonly byId = new Map<number, Socket>();
  private readonly bySubscription = new Map<string, SubscriptionConnections>();
  /** tokenId -> the sessions it authenticated. */
  private readonly byToken = new Map<string, Set<Socket>>();
  private nextConnId = 1;

  allocateConnId(): number {
    return this.nextConnId++;
  }

  add(ws: Socket): void {
    const data = ws.getUserData().connection;
    this.byId.set(data.connId, ws);
    const group = this.group(data.subscriptionId);
    shareSubscriptionValues(data, group);
    if (data.role === 'master') group.masters.add(ws);
    else group.receivers.add(ws);
    let sessions = this.byToken.get(data.tokenId);
    if (sessions === undefined) {
      sessions = new Set();
      this.byToken.set(data.tokenId, sessions);
    }
    sessions.add(ws);
  }

  /** False when the socket was never added (closed on open). */
  remove(ws: Socket): boolean {
    const data = ws.getUserData().connection;
    if (this.byId.get(data.connId) !== ws) return false;
    this.byId.delete(data.connId);
    const sessions = this.byToken.get(data.tokenId);
    sessions?.delete(ws);
    if (sessions?.size === 0) this.byToken.delete(data.tokenId);
    const group = this.bySubscription.get(data.subscriptionId);
    if (group === undefined) return true;
    group.masters.delete(ws);
    group.receivers.delete(ws);
    group.liveReceivers.delete(ws);
    if (group.masters.size + group.receivers.size === 0) this.bySubscription.delete(data.subscriptionId);
    return true;
  }

  get(connId: number): Socket | undefined {
    return this.byId.get(connId);
  }

  markLive(ws: Socket): void {
    ws.getUserData().connection.live = true;
    this.group(ws.getUserData().connection.subscriptionId).liveReceivers.add(ws);
  }

  masters(subscriptionId: string): ReadonlySet<Socket> {
    return this.bySubscription.get(subscriptionId)?.masters ?? emptySet;
  }

  liveReceivers(subscriptionId: string): ReadonlySet<Socket> {
    return this.bySubscription.get(subscriptionId)?.liveReceivers ?? emptySet;
  }

  /** Every connection of the subscriptions a predicate selects (e.g. a restarted shard's). */
  connectionsWhere(select: (subscriptionId: string) => boolean): Socket[] {
    const out: Socket[] = [];
    for (const [subscriptionId, group] of this.bySubscription) {
      if (!select(subscriptionId)) continue;
      out.push(...group.masters, ...group.receivers);
    }
    return out;
  }

  /** The sessions a token authenticated. */
  ofToken(tokenId: string): Socket[] {
    return [...(this.byToken.get(tokenId) ?? emptySet)];
  }

  /** Token ids of every open session. */
  tokenIds(): string[] {
    return [...this.byToken.keys()];
  }

  /** Open connections (masters and receivers) of a subscription. */
  count(subscriptionId: string): number {
    const group = this.bySubscription.get(subscriptionId);
    return group === undefined ? 0 : group.masters.size + group.receivers.size;
  }

  counts(): { masters: number; receivers: number; liveReceivers: number } {
    let masters = 0;
    let receivers = 0;
    let liveReceivers = 0;
    for (const group of this.bySubscription.values()) {
      masters += group.masters.size;
      receivers += group.receivers.size;
      liveReceivers += group.liveReceivers.size;
    }
    return { masters, receivers, liveReceivers };
  }

  private group(subscriptionId: string): SubscriptionConnections {
    let group = this.bySubscription.get(subscriptionId);
    if (group === undefined) {
      group = { subscriptionId, settings: null, masters: new Set(), receivers: new Set(), liveReceivers: new Set() };
      this.bySubscription.set(subscriptionId, group);
    }
    return group;
  }
}

const emptySet: ReadonlySet<Socket> = new Set();

/**
 * Each upgrade's answer from the store brings its own copy of the
 * subscription's id and settings: kept per connection, every receiver of a
 * subscription would hold equal copies (about 200 bytes). A connection let
 * in takes its subscription's copies instead when they are equal; settings
 * changed since become the subscription's (a connection keeps the settings
 * it was let in with, as before: none is ever changed in place).
 */
function shareSubscriptionValues(data: ConnectionData, group: SubscriptionConnections): void {
  data.subscriptionId = group.subscriptionId;
  if (isDeepStrictEqual(data.settings, group.settings)) data.settings = group.settings!;
  else group.settings = data.settings;
}

/**
 * A session outlives a rotation's overlap: the rotated-out key stops
 * verifying when its overlap ends, not when the master reconnects.
 */
export function dropExpiredMacKeys(data: ConnectionData, nowMs: number): void {
  for (const key of data.macKeys) {
    if (key.notAfterMs !== null && key.notAfterMs <= nowMs) {
      data.macKeys = data.macKeys.filter((k) => k.notAfterMs === null || k.notAfterMs > nowMs);
      return;
    }
  }
}
