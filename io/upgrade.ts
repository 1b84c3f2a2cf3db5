/**
 * The WebSocket upgrade: the only place a connection is let in. The
 * credential travels in `Authorization: Bearer ...` (never in the URL); the
 * token, its role, its expiry and revocation, and the subscription's IP
 * allowlist are all checked BEFORE the 101 answer. A refusal is an HTTP
 * status with a stable code in a small JSON body, and a security event.
 */
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
}

const refusalStatus: Record<string, string> = {
  CREDENTIAL_IN_URL: '400 Bad Request',
  AUTHORIZATION_TOO_LARGE: '431 Request Header Fields Too Large',
  MISSING_TOKEN: '401 Unauthorized',
  MALFORMED_TOKEN: '401 Unauthorized',
  UNKNOWN_TOKEN: '401 Unauthorized',
  EXPIRED: '401 Unauthorized',
  REVOKED: '401 Unauthorized',
  WRONG_ROLE: '403 Forbidden',
  IP_NOT_ALLOWED: '403 Forbidden',
  SUBSCRIPTION_ISOLATED: '403 Forbidden',
  UNAVAILABLE: '503 Service Unavailable',
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
  const remoteAddress = normalizeRemoteAddress(Buffer.from(res.getRemoteAddressAsText()).toString());
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });

  const refuse = (reason: string, subscriptionId: string | null = null): void => {
    deps.onRefused(reason);
    deps.recordSecurityEvent({
      atMs: Date.now(),
      code: reason === 'IP_NOT_ALLOWED' ? 'IP_REFUSED' : 'AUTH_REFUSED',
      subscriptionId,
      role,
      remoteAddress,
      sequence: null,
      detail: reason,
    });
    if (aborted) return;
    res.cork(() => {
      res.writeStatus(refusalStatus[reason] ?? '403 Forbidden');
      writeSecurityHeaders(res);
      res.writeHeader('content-type', 'application/json');
      res.end(JSON.stringify({ code: reason }));
    });
  };

  if (credentialInQuery.test(query)) return refuse('CREDENTIAL_IN_URL');
  if (authorization.length > wire.authorizationHeaderBytesMax) return refuse('AUTHORIZATION_TOO_LARGE');
  const match = /^Bearer ([A-Za-z0-9_\-]+)$/.exec(authorization);
  if (match === null) return refuse('MISSING_TOKEN');
  const tokenHash = deps.tokenHash(match[1]!);
  if (tokenHash === null) return refuse('MALFORMED_TOKEN');

  void (async () => {
    let data: ConnectionData;
    try {
      const result = await deps.authenticator.authenticate(tokenHash, remoteAddress, role);
      if (!result.ok) return refuse(result.reason);
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
    res.cork(() => {
      res.upgrade(data, secWebSocketKey, secWebSocketProtocol, secWebSocketExtensions, context);
    });
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
    };
  }
}
