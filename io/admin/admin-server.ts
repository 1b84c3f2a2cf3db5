/**
 * The admin HTTP API on its own uWebSockets.js app and port (127.0.0.1 by
 * default), so the public endpoint port never serves an admin route.
 *
 * Every request: body read up to requestBodyBytesMax (a longer one is
 * refused 413 before it is read), bearer credential checked (401), route
 * found (404, or 405 with Allow), role checked (403), input checked (400),
 * handler run, one audit_log row written, then a JSON answer with the
 * security headers (no-store among them). An address whose requests were
 * refused before authentication too often is answered 429 for a while,
 * unaudited but counted, a well-formed admin token still looked up
 * (io/admin/unauthenticated-throttle.ts). Each answer closes its
 * connection: the API is low-volume, and stop() leaves nothing open.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { admin, auditLog } from '@sigplane/protocol';
import { adminRoleRank, type AdminPrincipal, type AdminStore } from '../../persistence/pg/admin-store';
import { adminTokenHash } from '../../persistence/pg/admin-tokens';
import type { ConfigStore } from '../../persistence/pg/config-store';
import { normaliseIp } from '../../persistence/pg/ip-address';
import { writeSecurityHeaders } from '../http-headers';
import { adminListener, listenExclusive } from '../listen-exclusive';
import { loadNativeUws } from '../uws-native';
import { AdminErrorCode, AdminHttpError, asHttpError, statusLines } from './admin-errors';
import { requestAuditEntry } from './admin-request-audit';
import { forbidden, matchRoute } from './admin-routes';
import type { AdminRoute } from './admin-types';
import { UnauthenticatedThrottle } from './unauthenticated-throttle';

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port (see `port` after start). */
  port: number;
  store: ConfigStore;
  adminStore: AdminStore;
  tls?: { certFile: string; keyFile: string; passphrase?: string };
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** ms since the epoch for the unauthenticated throttle's buckets (default Date.now; tests move it by hand). */
  clock?: () => number;
}

/** What is read from uWS's request before the handler returns (the request object dies then). */
interface Incoming {
  method: string;
  path: string;
  query: string;
  authorization: string;
  contentType: string;
  contentLength: string;
  userAgent: string | null;
  ipAddress: string | null;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export class AdminServer {
  port = 0;
  private listenSocket: us_listen_socket | null = null;
  private readonly uws = loadNativeUws();
  private readonly throttle: UnauthenticatedThrottle;

  constructor(private readonly options: AdminServerOptions) {
    this.throttle = new UnauthenticatedThrottle(options.clock);
  }

  async start(): Promise<void> {
    const tls = this.options.tls;
    const app: TemplatedApp = tls
      ? this.uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, passphrase: tls.passphrase })
      : this.uws.App();
    app.any('/*', (res, req) => this.onRequest(res, req));
    const socket = await listenExclusive(this.uws, app, { ...adminListener, host: this.options.host, port: this.options.port });
    this.listenSocket = socket;
    this.port = this.uws.us_socket_local_port(socket);
    this.log('info', 'admin API listening', { host: this.options.host, port: this.port, tls: tls !== undefined });
  }

  stop(): void {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, message, fields);
  }

  private onRequest(res: HttpResponse, req: HttpRequest): void {
    const incoming: Incoming = {
      method: req.getCaseSensitiveMethod().toUpperCase(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      authorization: req.getHeader('authorization'),
      contentType: req.getHeader('content-type'),
      contentLength: req.getHeader('content-length'),
      userAgent: req.getHeader('user-agent') || null,
      ipAddress: normaliseIp(Buffer.from(res.getRemoteAddressAsText()).toString('latin1')),
    };
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const send = (answer: Answer): void => {
      if (!aborted) this.write(res, answer);
      aborted = true;
    };
    const address = addressKey(incoming);
    if (this.throttle.throttled(address) && bearerAdminTokenHash(incoming.authorization) === null) {
      this.throttle.suppress(address);
      return send(this.rateLimited());
    }
    const declared = incoming.contentLength === '' ? 0 : Number(incoming.contentLength);
    if (!Number.isSafeInteger(declared) || declared > admin.requestBodyBytesMax) return this.refuseTooLarge(incoming, send);
    const chunks: Buffer[] = [];
    let bytes = 0;
    // False once the body is complete or refused: later chunks are ignored (the answer is being made).
    let reading = true;
    res.onData((chunk, isLast) => {
      if (!reading || aborted) return;
      bytes += chunk.byteLength;
      if (bytes > admin.requestBodyBytesMax) {
        reading = false;
        return this.refuseTooLarge(incoming, send);
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) {
        reading = false;
        void this.process(incoming, Buffer.concat(chunks), send);
      }
    });
  }

  /** 413 before the body is read and before authentication (the audit row names the route, not the user). */
  private refuseTooLarge(incoming: Incoming, send: (answer: Answer) => void): void {
    const match = matchRoute(incoming.method, incoming.path);
    const answer: Answer = {
      status: 413,
      body: { code: AdminErrorCode.PAYLOAD_TOO_LARGE, message: `request bodies are at most ${admin.requestBodyBytesMax} bytes` },
    };
    void this.finish(incoming, null, undefined, answer, send, match.route, match.route === null ? [] : match.params);
  }

  /** Authenticate, route, authorise, check, run; then audit and answer. */
  private async process(incoming: Incoming, raw: Buffer, send: (answer: Answer) => void): Promise<void> {
    let principal: AdminPrincipal | null = null;
    let route: AdminRoute | null = null;
    let params: string[] = [];
    let body: unknown;
    let answer: Answer;
    try {
      principal = await this.authenticate(incoming.authorization);
      const match = matchRoute(incoming.method, incoming.path);
      if (match.route === null) {
        if (match.allowed.length === 0) throw new AdminHttpError(404, AdminErrorCode.NOT_FOUND, 'no such admin route');
        const allow = match.allowed.join(', ');
        throw new AdminHttpError(405, AdminErrorCode.METHOD_NOT_ALLOWED, `use ${allow}`, { allow });
      }
      route = match.route;
      params = match.params;
      if (adminRoleRank[principal.role] < adminRoleRank[route.minRole]) throw forbidden(principal, route);
      body = parseBody(incoming, raw);
      const result = await route.handle(
        {
          principal,
          params,
          query: new URLSearchParams(incoming.query),
          body,
          audit: {
            userId: principal.userId,
            ipAddress: incoming.ipAddress,
            userAgent: incoming.userAgent?.slice(0, auditLog.userAgentCharsMax) ?? null,
            metadata: { via: 'admin-api', credentialId: principal.credentialId },
          },
        },
        { store: this.options.store, adminStore: this.options.adminStore },
      );
      answer = { status: result.status, body: result.body };
    } catch (error) {
      answer = this.refusal(error, incoming);
    }
    await this.finish(incoming, principal, body, answer, send, route, params);
  }

  private async authenticate(authorization: string): Promise<AdminPrincipal> {
    if (authorization === '') throw new AdminHttpError(401, AdminErrorCode.MISSING_CREDENTIAL, 'Authorization: Bearer <admin token> is required');
    const token = bearerToken(authorization);
    if (token === null) throw new AdminHttpError(401, AdminErrorCode.INVALID_CREDENTIAL, 'the admin credential is not valid');
    const principal = await this.options.adminStore.authenticate(token);
    if (principal === null) throw new AdminHttpError(401, AdminErrorCode.INVALID_CREDENTIAL, 'the admin credential is not valid');
    return principal;
  }

  private rateLimited(): Answer {
    return {
      status: 429,
      body: { code: AdminErrorCode.RATE_LIMITED, message: 'too many refused requests from this address: wait and retry' },
      headers: { 'retry-after': String(this.throttle.retryAfterSeconds) },
    };
  }

  private refusal(error: unknown, incoming: Incoming): Answer {
    const known = asHttpError(error);
    if (known === null) {
      this.log('error', 'admin request failed', { method: incoming.method, path: incoming.path.slice(0, admin.pathCharsMax), error: (error as Error).message });
      return { status: 500, body: { code: AdminErrorCode.INTERNAL, message: 'internal error (logged)' } };
    }
    const headers: Record<string, string> = { ...known.headers };
    if (known.status === 401) headers['www-authenticate'] = 'Bearer realm="sigplane-admin"';
    return { status: known.status, body: { code: known.code, message: known.message }, headers };
  }

  /** Write the request's audit row, then answer (a failed audit write is logged; the answer still goes). */
  private async finish(
    incoming: Incoming,
    principal: AdminPrincipal | null,
    body: unknown,
    answer: Answer,
    send: (answer: Answer) => void,
    route: AdminRoute | null = null,
    params: string[] = [],
  ): Promise<void> {
    const refused = answer.status >= 400 ? (answer.body as { code: string; message: string }) : null;
    // Refused before authentication: drawn from the address's bucket (checked again here: requests in flight
    // together draw on it one by one); the row says what went unaudited before it.
    let suppressedBefore = 0;
    if (principal === null && (answer.status === 401 || answer.status === 413)) {
      const address = addressKey(incoming);
      if (this.throttle.throttled(address)) {
        this.throttle.suppress(address);
        return send(this.rateLimited());
      }
      suppressedBefore = this.throttle.refused(address);
    }
    try {
      const entry = requestAuditEntry({
        method: incoming.method,
        path: incoming.path,
        route,
        params,
        principal,
        ipAddress: incoming.ipAddress,
        userAgent: incoming.userAgent,
        body,
        status: answer.status,
        errorCode: refused?.code ?? null,
        errorMessage: refused?.message ?? null,
      });
      if (suppressedBefore > 0) entry.metadata = { ...entry.metadata, suppressedBefore };
      await this.options.store.audit(entry);
    } catch (error) {
      this.log('error', 'admin request not audited', { action: route?.action ?? 'UNKNOWN_ROUTE', error: (error as Error).message });
    }
    send(answer);
  }

  private write(res: HttpResponse, answer: Answer): void {
    res.cork(() => {
      res.writeStatus(statusLines[answer.status] ?? `${answer.status} Error`);
      writeSecurityHeaders(res, { tls: this.options.tls !== undefined });
      res.writeHeader('content-type', 'application/json; charset=utf-8');
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.writeHeader(name, value);
      res.end(JSON.stringify(answer.body), true);
    });
  }
}

/** The token of `Authorization: Bearer <token>`, or null for a header of another shape or over the size limit. */
function bearerToken(authorization: string): string | null {
  if (authorization.length > admin.authorizationHeaderBytesMax) return null;
  return /^Bearer ([!-~]+)$/i.exec(authorization)?.[1] ?? null;
}

/** The hash of the admin token in `Authorization: Bearer ...` when it is well formed (prefix, checksum); else null. */
function bearerAdminTokenHash(authorization: string): string | null {
  const token = bearerToken(authorization);
  return token === null ? null : adminTokenHash(token);
}

/** The throttle's key: the source address (unknown ones share one bucket). */
function addressKey(incoming: Incoming): string {
  return incoming.ipAddress ?? 'unknown';
}

/** The JSON body, or undefined when there is none; 415 for another media type, 400 INVALID_JSON when it does not parse. */
function parseBody(incoming: Incoming, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  if (!/^application\/json\s*(;.*)?$/i.test(incoming.contentType)) {
    throw new AdminHttpError(415, AdminErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json');
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AdminHttpError(400, AdminErrorCode.INVALID_JSON, 'the body is not valid JSON');
  }
}
