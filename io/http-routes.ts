/**
 * The plain HTTP paths of the public listener: /healthz (the process
 * answers), /readyz (io/readiness.ts), /metrics (Prometheus text), the
 * status page (io/status/, off without its token), and 404 NOT_FOUND for
 * anything else. Every answer carries the security headers
 * (io/http-headers.ts). The WebSocket paths are io/websocket-routes.ts.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { writeSecurityHeaders } from './http-headers';
import type { Metrics } from './metrics';
import { checkReadiness, type ReadinessSources } from './readiness';
import type { StatusBoard } from './status/status-board';
import { registerStatusRoutes } from './status/status-routes';

export interface HttpRouteDeps {
  /** Served over TLS (HSTS). */
  tls: boolean;
  metrics: Metrics;
  readiness: ReadinessSources;
  /** The status page's token; null: the page is off (404). */
  statusToken: string | null;
  status: StatusBoard;
}

/** One whole answer, corked, with the security headers. */
function answer(res: HttpResponse, tls: boolean, status: string, contentType: string, body: string, csp?: string): void {
  res.cork(() => {
    res.writeStatus(status);
    writeSecurityHeaders(res, { tls, csp });
    res.writeHeader('content-type', contentType);
    res.end(body);
  });
}

export function registerHttpRoutes(app: TemplatedApp, deps: HttpRouteDeps): void {
  const { tls } = deps;
  app.get('/healthz', (res) => answer(res, tls, '200 OK', 'text/plain', 'ok\n'));
  app.get('/readyz', (res) => readyz(res, deps));
  app.get('/metrics', (res) => answer(res, tls, '200 OK', 'text/plain; version=0.0.4', deps.metrics.render()));
  registerStatusRoutes(app, {
    token: deps.statusToken,
    board: deps.status,
    answer: (res, status, contentType, body, csp) => answer(res, tls, status, contentType, body, csp),
  });
  app.any('/*', (res) => answer(res, tls, '404 Not Found', 'application/json', '{"code":"NOT_FOUND"}'));
}

/** Asynchronous (the database is asked): nothing is written to a request aborted meanwhile. */
function readyz(res: HttpResponse, deps: HttpRouteDeps): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  void checkReadiness(deps.readiness).then((readiness) => {
    if (!aborted) answer(res, deps.tls, readiness.ready ? '200 OK' : '503 Service Unavailable', 'application/json', readiness.body);
  });
}
