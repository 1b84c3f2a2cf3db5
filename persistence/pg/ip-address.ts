/**
 * IP addresses and CIDR blocks as the stores take them (allowlists, audit
 * rows, audit filters) and as a socket reports them: normalised, or refused
 * with a ConfigError INVALID_ARGUMENT.
 */
import { isIP } from 'node:net';
import { subscriptionConfig } from '@sigplane/protocol';
import { invalid } from './store-checks';

/** "::ffff:1.2.3.4" (an IPv4 client on a dual-stack socket) -> "1.2.3.4"; null if not an IP address. */
export function normaliseIp(ip: string): string | null {
  if (typeof ip !== 'string') return null;
  const s = ip.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped !== null && isIP(mapped[1]) === 4) return mapped[1];
  return isIP(s) === 0 ? null : s;
}

/** An IP address or a CIDR block ("10.0.0.0/24"), normalised, or a ConfigError. */
export function parseIpOrCidr(input: string): string {
  if (typeof input !== 'string' || input.length > subscriptionConfig.ipOrCidrCharsMax) invalid('IP address or CIDR block expected');
  const [addr, prefix, extra] = input.trim().split('/');
  if (extra !== undefined) invalid(`not an IP address or CIDR block: ${input}`);
  const ip = normaliseIp(addr);
  if (ip === null) invalid(`not an IP address or CIDR block: ${input}`);
  if (prefix === undefined) return ip;
  const bitsMax = isIP(ip) === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bitsMax) invalid(`bad prefix length in ${input}`);
  return `${ip}/${Number(prefix)}`;
}
