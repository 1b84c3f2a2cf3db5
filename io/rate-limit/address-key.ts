/**
 * The key a source address is rate-limited under: an IPv4 address itself,
 * an IPv6 address by its /64 network (one subscriber line or one VPS gets a
 * whole /64, so limiting single IPv6 addresses would limit nothing).
 */

/** `remoteAddress` as normalizeRemoteAddress gives it (IPv4-mapped addresses already in IPv4 form). */
export function rateLimitKeyOfAddress(remoteAddress: string): string {
  if (!remoteAddress.includes(':')) return remoteAddress;
  const groups = expandIpv6(remoteAddress);
  return groups === null ? remoteAddress : `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address (lowercase, no leading zeros), or null when it is not one. */
function expandIpv6(text: string): string[] | null {
  const address = text.toLowerCase().split('%')[0]!; // drop a zone id
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? head.length !== 8 : missing < 1) return null;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
