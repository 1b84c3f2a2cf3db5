/**
 * The status page's routes on the public listener. Default deny: without a
 * configured status token every /status path answers 404, as if absent.
 * With one, the page's static files are served to anyone (they hold no
 * data) and the snapshot only to `Authorization: Bearer <status token>`,
 * compared in constant time. The token is read-only by construction: these
 * routes only read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { statusCss, statusHtml, statusJs } from './status-assets';
import type { StatusBoard } from './status-board';

export interface StatusRouteDeps {
  /** null: the page is off. */
  token: string | null;
  board: StatusBoard;
  answer: (res: HttpResponse, status: string, contentType: string, body: string, csp?: string) => void;
}

/** The page loads its own script, style and JSON, nothing else. */
export const statusPageCsp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Bearer check in constant time (both sides hashed to the same length first). */
export function bearerMatches(authorization: string, token: string): boolean {
  const match = /^Bearer (\S+)$/.exec(authorization);
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

export function registerStatusRoutes(app: TemplatedApp, deps: StatusRouteDeps): void {
  const notFound = (res: HttpResponse): void => deps.answer(res, '404 Not Found', 'application/json', '{"code":"NOT_FOUND"}');
  const token = deps.token;
  if (token === null) {
    app.any('/status', notFound);
    app.any('/status/*', notFound);
    return;
  }
  app.get('/status', (res) => deps.answer(res, '200 OK', 'text/html; charset=utf-8', statusHtml, statusPageCsp));
  app.get('/status/app.js', (res) => deps.answer(res, '200 OK', 'text/javascript; charset=utf-8', statusJs, statusPageCsp));
  app.get('/status/app.css', (res) => deps.answer(res, '200 OK', 'text/css; charset=utf-8', statusCss, statusPageCsp));
  app.get('/status/snapshot.json', (res: HttpResponse, req: HttpRequest) => {
    if (!bearerMatches(req.getHeader('authorization'), token)) {
      return deps.answer(res, '401 Unauthorized', 'application/json', '{"code":"UNAUTHORIZED"}');
    }
    deps.answer(res, '200 OK', 'application/json', JSON.stringify(deps.board.snapshot()));
  });
  app.any('/status/*', notFound);
}
