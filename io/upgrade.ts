/**
 * The WebSocket upgrade: the only place a connection is let in. The
 * credential travels in `Authorization: Bearer ...` (never in the URL); the
 * token, its role, its expiry and revocation, and the subscription's IP
 * allowlist are all checked BEFORE the 101 answer. A refusal is an HTTP
 * status with a stable code in a small JSON body, and a security event.
 * Before anything else the source address's upgrade rate is checked (per
 * node, or cluster-wide through Redis: io/rate-limit/). Each upgrade gets a
 * request id that its log lines carry, and its connection id once let in.
 */
import type { AsyncUpgradeGuard } from './async-upgrade-guard';
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { wire, UpgradeRefusalCode, type SecurityEvent, TokenBucket } from '@sigplane/protocol';
import type { AuthResult } from '../persistence/pg/config-store';
import { noMacKeys, type ConnectionData, type MacKey, type Role, type SocketData } from './connections';
import { writeSecurityHeaders } from './http-headers';
import { queryRefusal } from './upgrade-query';

/** What the upgrade needs from the configuration store (Postgres). */
export interface Authenticator {
  authenticate(tokenHash: string, remoteIp: string, role: Role): Promise<AuthResult>;
  /** The keys valid now; notAfterMs (null: current) bounds a rotated-out key's overlap; legacyV1: an imported v1-only secret. */
  loadMacKeys(subscriptionId: string): Promise<{ keyId: string; secret: Buffer; notAfterMs?: number | null; legacyV1?: boolean }[]>;
}

export interface UpgradeDeps {
  authenticator: Authenticator;
  /** Token string -> its SHA-256 hash, or null when the format or checksum is wrong. */
  tokenHash: (token: string) => string | null;
  allocateConnId: () => number;
  recordSecurityEvent: (event: SecurityEvent) => void;
  onRefused: (reason: UpgradeRefusalCode) => void;
  /** Is this source address within its upgrade rate? (false: 429 RATE_LIMITED) */
  admitUpgrade: (remoteAddress: string) => Promise<boolean>;
  log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** Served over TLS (HSTS on refusals). */
  tls: boolean;
  /** How long this token must still wait after a session of it was closed for flooding (io/flood-cooldown.ts); 0: not waiting. */
  floodCooldownMs?: (tokenId: string) => number;
  /** Corks the upgrade unless uWS's cork bug was seen (io/async-upgrade-guard.ts). */
  upgradeGuard: AsyncUpgradeGuard;
}

/** Each refusal's HTTP status, and the security event's detail (ours, never the client's bytes). */
export const refusals: Record<UpgradeRefusalCode, { status: string; detail: string }> = {
  QUERY_NOT_ALLOWED: { status: '400 Bad Request', detail: 'a query string on a WebSocket path (not kept)' },
  CREDENTIAL_IN_URL: { status: '400 Bad Request', detail: 'a credential-shaped value or name in the query string (not kept): treat it as leaked' },
  NOT_A_WEBSOCKET_UPGRADE: { status: '400 Bad Request', detail: 'not a WebSocket upgrade (method, Upgrade or Sec-WebSocket-Key)' },
  UNSUPPORTED_WEBSOCKET_VERSION: { status: '426 Upgrade Required', detail: 'Sec-WebSocket-Version is not 13' },
  AUTHORIZATION_TOO_LARGE: { status: '431 Request Header Fields Too Large', detail: 'Authorization header too large' },
  HEADERS_TOO_LARGE: { status: '431 Request Header Fields Too Large', detail: 'headers too large' },
  MISSING_TOKEN: { status: '401 Unauthorized', detail: 'no Bearer token' },
  MALFORMED_TOKEN: { status: '401 Unauthorized', detail: 'token format or checksum wrong' },
  UNKNOWN_TOKEN: { status: '401 Unauthorized', detail: 'no such token' },
  EXPIRED: { status: '401 Unauthorized', detail: 'token expired' },
  REVOKED: { status: '401 Unauthorized', detail: 'token revoked' },
  WRONG_ROLE: { status: '403 Forbidden', detail: 'token of the other role' },
  IP_NOT_ALLOWED: { status: '403 Forbidden', detail: 'source address not in the allowlist' },
  SUBSCRIPTION_ISOLATED: { status: '403 Forbidden', detail: 'subscription isolated' },
  UNAVAILABLE: { status: '503 Service Unavailable', detail: 'configuration store unavailable' },
  RATE_LIMITED: { status: '429 Too Many Requests', detail: 'too many upgrades from this address' },
};

/** uWS gives IPv4-mapped IPv6 text on dual-stack sockets: use the IPv4 form. */
export function normalizeRemoteAddress(text: string): string {
  const lower = text.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/**
 * The provider is shown the key as hex text: v2 signs with the raw bytes, v1
 * with that text's UTF-8 bytes. An imported legacy v1 secret (`legacyV1`:
 * `secret` is its UTF-8 bytes) is the v1 key itself and no v2 key at all:
 * its v2 secret is empty, which verifyV2 answers UNKNOWN_KEY.
 */
export function macKeyFromSecret(keyId: string, secret: Buffer, notAfterMs: number | null = null, legacyV1 = false): MacKey {
  if (legacyV1) return { keyId, secret: Buffer.alloc(0), v1Secret: secret, notAfterMs };
  return { keyId, secret, v1Secret: Buffer.from(secret.toString('hex'), 'utf8'), notAfterMs };
}

/** RFC 6455: the base64 text of 16 random bytes. */
const webSocketKey = /^[A-Za-z0-9+/]{22}==$/;

/** What an upgrade request says, read at once: uWS's req is gone after the handler returns. */
interface UpgradeRequest {
  method: string;
  query: string;
  authorization: string;
  secWebSocketKey: string;
  secWebSocketProtocol: string;
  secWebSocketExtensions: string;
  upgrade: string;
  secWebSocketVersion: string;
  headerBytes: number;
}

function readRequest(req: HttpRequest): UpgradeRequest {
  let headerBytes = 0;
  req.forEach((name, value) => {
    headerBytes += name.length + value.length + 4;
  });
  return {
    method: req.getMethod(),
    query: req.getQuery() ?? '',
    authorization: req.getHeader('authorization'),
    secWebSocketKey: req.getHeader('sec-websocket-key'),
    secWebSocketProtocol: req.getHeader('sec-websocket-protocol'),
    secWebSocketExtensions: req.getHeader('sec-websocket-extensions'),
    upgrade: req.getHeader('upgrade'),
    secWebSocketVersion: req.getHeader('sec-websocket-version'),
    headerBytes,
  };
}

/** A refusal the checks that need no store decided; `detail` when the security event can say more than refusals[code].detail. */
interface EarlyRefusal {
  code: UpgradeRefusalCode;
  detail?: string;
}

/**
 * The checks that need no store, in order. The query comes before the
 * WebSocket checks: a credential in a URL is worth knowing about (and
 * recording as such, saying which: io/upgrade-query.ts) whatever else is
 * wrong with the request.
 */
function refusalBeforeAuthentication(r: UpgradeRequest): EarlyRefusal | null {
  if (r.headerBytes > wire.upgradeHeaderBytesMax) return { code: UpgradeRefusalCode.HEADERS_TOO_LARGE };
  const query = queryRefusal(r.query);
  if (query !== null) {
    if (query.found === null) return { code: query.code };
    return { code: query.code, detail: `a credential in the query string: ${query.found} (not kept): treat it as leaked` };
  }
  // RFC 6455 4.2.1.
  if (r.method !== 'get' || r.upgrade.toLowerCase() !== 'websocket' || !webSocketKey.test(r.secWebSocketKey)) {
    return { code: UpgradeRefusalCode.NOT_A_WEBSOCKET_UPGRADE };
  }
  if (r.secWebSocketVersion !== '13') return { code: UpgradeRefusalCode.UNSUPPORTED_WEBSOCKET_VERSION };
  if (r.authorization.length > wire.authorizationHeaderBytesMax) return { code: UpgradeRefusalCode.AUTHORIZATION_TOO_LARGE };
  return null;
}

/** A request on /v1/master or /v1/receiver whose handling may refuse it: its address, id, and how to refuse. */
interface Refuser {
  remoteAddress: string;
  reqId: string;
  aborted(): boolean;
  /** `detail`: the security event's, when it says more than refusals[reason].detail. */
  refuse(reason: UpgradeRefusalCode, subscriptionId?: string | null, retryAfterSeconds?: number, detail?: string): void;
}

function refuserFor(res: HttpResponse, role: Role, deps: UpgradeDeps): Refuser {
  const remoteAddress = normalizeRemoteAddress(Buffer.from(res.getRemoteAddressAsText()).toString());
  const reqId = randomUUID();
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const refuse = (reason: UpgradeRefusalCode, subscriptionId: string | null = null, retryAfterSeconds = 0, detail?: string): void => {
    deps.onRefused(reason);
    deps.log('warn', 'upgrade refused', { reqId, role, reason, remoteAddress, subscriptionId });
    deps.recordSecurityEvent({
      atMs: Date.now(),
      code: reason,
      subscriptionId,
      role,
      remoteAddress,
      sequence: null,
      detail: detail ?? (retryAfterSeconds > 0 ? `flood cooldown of this token: retry after ${retryAfterSeconds} s` : refusals[reason].detail),
    });
    if (aborted) return;
    res.cork(() => {
      res.writeStatus(refusals[reason].status);
      writeSecurityHeaders(res, { tls: deps.tls });
      if (reason === UpgradeRefusalCode.UNSUPPORTED_WEBSOCKET_VERSION) res.writeHeader('sec-websocket-version', '13');
      if (retryAfterSeconds > 0) res.writeHeader('retry-after', String(retryAfterSeconds));
      res.writeHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: reason }));
    });
  };
  return { remoteAddress, reqId, aborted: () => aborted, refuse };
}

/**
 * Any other request on /v1/master or /v1/receiver: uWS hands its WebSocket
 * handler only GETs with a 24-character Sec-WebSocket-Key. A plain GET, a
 * POST, an upgrade without the key: refused as an upgrade would be
 * (rate-limited, recorded), with NOT_A_WEBSOCKET_UPGRADE unless an earlier
 * check (the query, the header size) says more.
 */
export function refuseNonUpgrade(res: HttpResponse, req: HttpRequest, role: Role, deps: UpgradeDeps): void {
  const request = readRequest(req);
  const refuser = refuserFor(res, role, deps);
  void (async () => {
    if (!(await admitted(refuser, deps))) return;
    const early = refusalBeforeAuthentication(request) ?? { code: UpgradeRefusalCode.NOT_A_WEBSOCKET_UPGRADE };
    refuser.refuse(early.code, null, 0, early.detail);
  })();
}

/** The source address's upgrade rate: false when refused (429, or 503 when the limiter cannot answer). */
async function admitted(refuser: Refuser, deps: UpgradeDeps): Promise<boolean> {
  let ok: boolean;
  try {
    ok = await deps.admitUpgrade(refuser.remoteAddress);
  } catch {
    refuser.refuse(UpgradeRefusalCode.UNAVAILABLE);
    return false;
  }
  if (!ok) refuser.refuse(UpgradeRefusalCode.RATE_LIMITED);
  return ok;
}

/**
 * An upgrade on /v1/master or /v1/receiver, in order: the source address's
 * rate, the checks that need no store, the Bearer token's form, then the
 * store (token, role, expiry, revocation, allowlist, a flood cooldown, a
 * master's MAC keys); only then the 101. Any refusal answers and records.
 */
export function handleUpgrade(
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
  role: Role,
  deps: UpgradeDeps,
): void {
  const request = readRequest(req);
  const refuser = refuserFor(res, role, deps);
  void (async () => {
    if (!(await admitted(refuser, deps))) return;
    const early = refusalBeforeAuthentication(request);
    if (early !== null) return refuser.refuse(early.code, null, 0, early.detail);
    const tokenHash = bearerTokenHash(request.authorization, refuser, deps);
    if (tokenHash === null) return;
    const data = await authenticated(tokenHash, role, refuser, deps);
    if (data === null || refuser.aborted()) return;
    upgradeTo(data, res, context, request, refuser, deps);
  })();
}

/** The SHA-256 hash of the Bearer token; null when there is none to look up (refused: answered). */
function bearerTokenHash(authorization: string, refuser: Refuser, deps: UpgradeDeps): string | null {
  const match = /^Bearer ([A-Za-z0-9_\-]+)$/.exec(authorization);
  if (match === null) {
    refuser.refuse(UpgradeRefusalCode.MISSING_TOKEN);
    return null;
  }
  const tokenHash = deps.tokenHash(match[1]!);
  if (tokenHash === null) refuser.refuse(UpgradeRefusalCode.MALFORMED_TOKEN);
  return tokenHash;
}

/**
 * The store's answer for the token from this address in this role, and the
 * connection's data when it lets it in; null when refused (already answered).
 */
async function authenticated(tokenHash: string, role: Role, refuser: Refuser, deps: UpgradeDeps): Promise<ConnectionData | null> {
  const { remoteAddress, refuse } = refuser;
  try {
    const result = await deps.authenticator.authenticate(tokenHash, remoteAddress, role);
    if (!result.ok) {
      refuse(result.reason);
      return null;
    }
    const coolingDownMs = deps.floodCooldownMs?.(result.tokenId) ?? 0;
    if (coolingDownMs > 0) {
      refuse(UpgradeRefusalCode.RATE_LIMITED, result.subscriptionId, Math.ceil(coolingDownMs / 1000));
      return null;
    }
    const macKeys =
      role === 'master'
        ? (await deps.authenticator.loadMacKeys(result.subscriptionId)).map((k) =>
            macKeyFromSecret(k.keyId, k.secret, k.notAfterMs ?? null, k.legacyV1 === true),
          )
        : noMacKeys;
    return connectionData(result, macKeys, role, remoteAddress, deps);
  } catch {
    // The store did not answer, or its answer is unusable: refuse, never leave the request hanging.
    refuse(UpgradeRefusalCode.UNAVAILABLE);
    return null;
  }
}

/** The 101: corked, unless uWS's cork-after-async-upgrade bug was seen (io/async-upgrade-guard.ts). */
function upgradeTo(data: ConnectionData, res: HttpResponse, context: us_socket_context_t, request: UpgradeRequest, refuser: Refuser, deps: UpgradeDeps): void {
  deps.log('info', 'upgrade accepted', {
    reqId: refuser.reqId,
    role: data.role,
    connId: data.connId,
    subscriptionId: data.subscriptionId,
    tokenId: data.tokenId,
    remoteAddress: data.remoteAddress,
  });
  deps.upgradeGuard.upgrade(
    data.connId,
    (fn) => res.cork(fn),
    () => res.upgrade({ connection: data } satisfies SocketData, request.secWebSocketKey, request.secWebSocketProtocol, request.secWebSocketExtensions, context),
  );
}

/** What uWS keeps for the connection: who it is, its subscription's settings and keys, its token bucket. */
function connectionData(result: Extract<AuthResult, { ok: true }>, macKeys: readonly MacKey[], role: Role, remoteAddress: string, deps: UpgradeDeps): ConnectionData {
  const settings = result.settings;
  return {
    connId: deps.allocateConnId(),
    role,
    subscriptionId: result.subscriptionId,
    tokenId: result.tokenId,
    remoteAddress,
    settings,
    macKeys,
    bucket: new TokenBucket(settings.rateLimitPerSecond, settings.rateLimitBurst, Date.now()),
    subscribed: false,
    live: false,
    closed: false,
    rateLimitedUnreported: 0,
    rateLimitedReportedAtMs: 0,
    rateLimitedInWindow: 0,
    rateLimitedWindowStartMs: 0,
    busyFromSequence: 0,
    busyUnreported: 0,
    busyUnreportedFromSequence: 0,
    busyReportedAtMs: 0,
    ackHeld: 0,
    ackForwarded: 0,
    ackForwardedAtMs: 0,
  };
}
