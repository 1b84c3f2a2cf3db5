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
import { wire } from '../engine/limits';
import type { SecurityEvent } from '../engine/records';
import type { AuthResult } from '../persistence/pg/config-store';
import { TokenBucket } from '../engine/token-bucket';
import type { ConnectionData, MacKey, Role } from './connections';
import { writeSecurityHeaders } from './http-headers';

/** What the upgrade needs from the configuration store (Postgres). */
export interface Authenticator {
  authenticate(tokenHash: string, remoteIp: string, role: Role): Promise<AuthResult>;
  /** The keys valid now; notAfterMs (null: current) bounds a rotated-out key's overlap. */
  loadMacKeys(subscriptionId: string): Promise<{ keyId: string; secret: Buffer; notAfterMs?: number | null }[]>;
}

export interface UpgradeDeps {
  authenticator: Authenticator;
  /** Token string -> its SHA-256 hash, or null when the format or checksum is wrong. */
  tokenHash: (token: string) => string | null;
  allocateConnId: () => number;
  recordSecurityEvent: (event: SecurityEvent) => void;
  onRefused: (reason: string) => void;
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

const refusalStatus: Record<string, string> = {
  CREDENTIAL_IN_URL: '400 Bad Request',
  AUTHORIZATION_TOO_LARGE: '431 Request Header Fields Too Large',
  HEADERS_TOO_LARGE: '431 Request Header Fields Too Large',
  NOT_A_WEBSOCKET_UPGRADE: '400 Bad Request',
  UNSUPPORTED_WEBSOCKET_VERSION: '426 Upgrade Required',
  MISSING_TOKEN: '401 Unauthorized',
  MALFORMED_TOKEN: '401 Unauthorized',
  UNKNOWN_TOKEN: '401 Unauthorized',
  EXPIRED: '401 Unauthorized',
  REVOKED: '401 Unauthorized',
  WRONG_ROLE: '403 Forbidden',
  IP_NOT_ALLOWED: '403 Forbidden',
  SUBSCRIPTION_ISOLATED: '403 Forbidden',
  UNAVAILABLE: '503 Service Unavailable',
  RATE_LIMITED: '429 Too Many Requests',
};

/** uWS gives IPv4-mapped IPv6 text on dual-stack sockets: use the IPv4 form. */
export function normalizeRemoteAddress(text: string): string {
  const lower = text.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/** The provider is shown the key as hex text: v2 signs with the raw bytes, v1 with that text's UTF-8 bytes. */
export function macKeyFromSecret(keyId: string, secret: Buffer, notAfterMs: number | null = null): MacKey {
  return { keyId, secret, v1Secret: Buffer.from(secret.toString('hex'), 'utf8'), notAfterMs };
}

/** RFC 6455: the base64 text of 16 random bytes. */
const webSocketKey = /^[A-Za-z0-9+/]{22}==$/;

const credentialInQuery = /(^|&)(token|access_token|auth|authorization|key|secret|bearer)=/i;

export function handleUpgrade(
  res: HttpResponse,
  req: HttpRequest,
  context: us_socket_context_t,
  role: Role,
  deps: UpgradeDeps,
): void {
  // Everything from req must be read now: it is gone after this function returns.
  const query = req.getQuery() ?? '';
  const authorization = req.getHeader('authorization');
  const secWebSocketKey = req.getHeader('sec-websocket-key');
  const secWebSocketProtocol = req.getHeader('sec-websocket-protocol');
  const secWebSocketExtensions = req.getHeader('sec-websocket-extensions');
  const upgradeHeader = req.getHeader('upgrade');
  const secWebSocketVersion = req.getHeader('sec-websocket-version');
  let headerBytes = 0;
  req.forEach((name, value) => {
    headerBytes += name.length + value.length + 4;
  });
  const remoteAddress = normalizeRemoteAddress(Buffer.from(res.getRemoteAddressAsText()).toString());
  const reqId = randomUUID();
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });

  const refuse = (reason: string, subscriptionId: string | null = null, retryAfterSeconds = 0): void => {
    deps.onRefused(reason);
    deps.log('warn', 'upgrade refused', { reqId, role, reason, remoteAddress, subscriptionId });
    deps.recordSecurityEvent({
      atMs: Date.now(),
      code: reason === 'IP_NOT_ALLOWED' ? 'IP_REFUSED' : reason === 'RATE_LIMITED' ? 'RATE_LIMITED' : 'AUTH_REFUSED',
      subscriptionId,
      role,
      remoteAddress,
      sequence: null,
      detail: reason,
    });
    if (aborted) return;
    res.cork(() => {
      res.writeStatus(refusalStatus[reason] ?? '403 Forbidden');
      writeSecurityHeaders(res, { tls: deps.tls });
      if (reason === 'UNSUPPORTED_WEBSOCKET_VERSION') res.writeHeader('sec-websocket-version', '13');
      if (retryAfterSeconds > 0) res.writeHeader('retry-after', String(retryAfterSeconds));
      res.writeHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: reason }));
    });
  };

  void (async () => {
    let admitted: boolean;
    try {
      admitted = await deps.admitUpgrade(remoteAddress);
    } catch {
      return refuse('UNAVAILABLE');
    }
    if (!admitted) return refuse('RATE_LIMITED');
    if (headerBytes > wire.upgradeHeaderBytesMax) return refuse('HEADERS_TOO_LARGE');
    // RFC 6455 4.2.1: uWS hands any GET on a WebSocket path to this handler.
    if (upgradeHeader.toLowerCase() !== 'websocket' || !webSocketKey.test(secWebSocketKey)) return refuse('NOT_A_WEBSOCKET_UPGRADE');
    if (secWebSocketVersion !== '13') return refuse('UNSUPPORTED_WEBSOCKET_VERSION');
    if (credentialInQuery.test(query)) return refuse('CREDENTIAL_IN_URL');
    if (authorization.length > wire.authorizationHeaderBytesMax) return refuse('AUTHORIZATION_TOO_LARGE');
    const match = /^Bearer ([A-Za-z0-9_\-]+)$/.exec(authorization);
    if (match === null) return refuse('MISSING_TOKEN');
    const tokenHash = deps.tokenHash(match[1]!);
    if (tokenHash === null) return refuse('MALFORMED_TOKEN');

    let data: ConnectionData;
    try {
      const result = await deps.authenticator.authenticate(tokenHash, remoteAddress, role);
      if (!result.ok) return refuse(result.reason);
      const coolingDownMs = deps.floodCooldownMs?.(result.tokenId) ?? 0;
      if (coolingDownMs > 0) return refuse('RATE_LIMITED', result.subscriptionId, Math.ceil(coolingDownMs / 1000));
      const macKeys =
        role === 'master'
          ? (await deps.authenticator.loadMacKeys(result.subscriptionId)).map((k) => macKeyFromSecret(k.keyId, k.secret, k.notAfterMs ?? null))
          : [];
      data = connectionData(result, macKeys);
    } catch {
      // The store did not answer, or its answer is unusable: refuse, never leave the request hanging.
      return refuse('UNAVAILABLE');
    }
    if (aborted) return;
    deps.log('info', 'upgrade accepted', { reqId, role, connId: data.connId, subscriptionId: data.subscriptionId, tokenId: data.tokenId, remoteAddress });
    // Corked, unless uWS's cork-after-async-upgrade bug was seen (io/async-upgrade-guard.ts).
    deps.upgradeGuard.upgrade(
      data.connId,
      (fn) => res.cork(fn),
      () => res.upgrade(data, secWebSocketKey, secWebSocketProtocol, secWebSocketExtensions, context),
    );
  })();

  function connectionData(result: Extract<AuthResult, { ok: true }>, macKeys: MacKey[]): ConnectionData {
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
    };
  }
}
