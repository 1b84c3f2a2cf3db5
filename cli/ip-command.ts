/** `sigplane ip allow`: let an address or network connect to a subscription (defaults deny). */
import net from 'node:net';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext } from './context';
import { ipAdminActions } from './ip-admin-command';
import { ownAction } from './admin-context';

const spec: CommandSpec = {
  usage: 'sigplane ip allow --subscription ID --ip ADDRESS[/PREFIX] [options]',
  summary: "Allow a source address (or a CIDR network) to connect to a subscription's endpoints. With no entry, nobody connects.",
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    ip: { type: 'string', help: 'IPv4/IPv6 address or CIDR network' },
    expires: { type: 'string', help: 'ISO-8601 time after which the entry no longer counts' },
    data: dataOption,
  },
};

export async function ipCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(`usage: sigplane ip allow [options]\n\nActions: allow, list, expire, remove. Try: sigplane ip allow --help\n`);
    return;
  }
  if (action === undefined) throw new UsageError('an action is required; try: sigplane ip allow --help');
  const managed = ownAction(ipAdminActions, action);
  if (managed !== undefined) return managed.run(rest);
  if (action !== 'allow') throw new UsageError(`unknown action "${action}"; try: sigplane ip allow --help`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const subscriptionId = required(values, 'subscription', spec);
  const ip = required(values, 'ip', spec);
  const [address, prefix, ...extra] = ip.split('/');
  const family = net.isIP(address ?? '');
  const prefixMax = family === 6 ? 128 : 32;
  const badPrefix = prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > prefixMax);
  if (family === 0 || badPrefix || extra.length > 0) {
    throw new UsageError(`--ip must be an address or CIDR, got ${ip}`);
  }
  let expiresAt: Date | undefined;
  if (values.expires !== undefined) {
    expiresAt = new Date(values.expires as string);
    if (Number.isNaN(expiresAt.getTime())) throw new UsageError('--expires must be an ISO-8601 time');
  }
  const context = await openContext(values.data as string);
  try {
    await context.store.addAllowedIp(subscriptionId, ip, { expiresAt, audit: cliAuditContext() });
    process.stdout.write(`allowed ${ip} for ${subscriptionId}${expiresAt ? ` until ${expiresAt.toISOString()}` : ''}\n`);
  } finally {
    await context.close();
  }
}
