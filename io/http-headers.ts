/**
 * Security headers on every HTTP answer sigplane gives (upgrade refusals,
 * health, metrics, the status page, the admin API). HSTS only makes sense
 * under TLS: each listener says whether it runs on SSLApp (`tls`), so a
 * plain and a TLS listener in one process each answer right.
 */
import type { HttpResponse } from 'uWebSockets.js';

/** What every answer that is not a page gets: nothing may load, nothing may frame it. */
export const defaultCsp = "default-src 'none'; frame-ancestors 'none'";

/** One year, subdomains included: a browser that saw sigplane over TLS never tries it in clear again. */
export const hstsValue = 'max-age=31536000; includeSubDomains';

let defaultTls = false;

/** For callers that do not pass `tls` (the last listener started says). */
export function setTlsEnabled(enabled: boolean): void {
  defaultTls = enabled;
}

export interface SecurityHeaderOptions {
  /** Is this answer going out over TLS? (HSTS) */
  tls?: boolean;
  /** A page's own policy (the status page loads its script and style); still framed by no one. */
  csp?: string;
}

export function writeSecurityHeaders(res: HttpResponse, options: SecurityHeaderOptions = {}): void {
  res.writeHeader('x-content-type-options', 'nosniff');
  res.writeHeader('cache-control', 'no-store');
  res.writeHeader('content-security-policy', options.csp ?? defaultCsp);
  res.writeHeader('x-frame-options', 'DENY');
  res.writeHeader('referrer-policy', 'no-referrer');
  if (options.tls ?? defaultTls) res.writeHeader('strict-transport-security', hstsValue);
}
