/**
 * Security headers on every HTTP answer sigplane gives (upgrade refusals,
 * health, metrics). HSTS only makes sense under TLS, so it is added when
 * the server runs on SSLApp.
 */
import type { HttpResponse } from 'uWebSockets.js';

let tls = false;

export function setTlsEnabled(enabled: boolean): void {
  tls = enabled;
}

export function writeSecurityHeaders(res: HttpResponse): void {
  res.writeHeader('x-content-type-options', 'nosniff');
  res.writeHeader('cache-control', 'no-store');
  res.writeHeader('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  res.writeHeader('x-frame-options', 'DENY');
  res.writeHeader('referrer-policy', 'no-referrer');
  if (tls) res.writeHeader('strict-transport-security', 'max-age=31536000; includeSubDomains');
}
