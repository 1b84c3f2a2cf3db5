/**
 * The admin API's allowlist actions, from the command line (`ip allow` is
 * in cli/ip-command.ts):
 *
 *   sigplane ip list --subscription ID
 *   sigplane ip expire --subscription ID --ip ADDRESS[/PREFIX] [--at ISO]   (default: now)
 *   sigplane ip remove --subscription ID --ip ADDRESS[/PREFIX]
 *
 * An entry that stops counting refuses new upgrades from that address; live
 * sessions stay (isolate the subscription to cut them).
 */
import { parseCommand, required, type CommandSpec } from './args';
import { cliAuditContext, dataOption, uuidOption } from './context';
import { printJson, timeOption, withAdminContext, type ActionTable } from './admin-context';

const listSpec: CommandSpec = {
  usage: 'sigplane ip list --subscription ID [options]',
  summary: "A subscription's allowlist as JSON (address or network, expiry).",
  options: { subscription: { type: 'string', help: 'subscription id' }, data: dataOption },
};

const expireSpec: CommandSpec = {
  usage: 'sigplane ip expire --subscription ID --ip ADDRESS[/PREFIX] [options]',
  summary: 'Set when an allowlist entry stops counting (default: now). New upgrades from it are refused from then on.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    ip: { type: 'string', help: 'the entry: address or CIDR network' },
    at: { type: 'string', help: 'ISO-8601 time (default: now)' },
    data: dataOption,
  },
};

const removeSpec: CommandSpec = {
  usage: 'sigplane ip remove --subscription ID --ip ADDRESS[/PREFIX] [options]',
  summary: 'Remove an allowlist entry. New upgrades from it are refused.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    ip: { type: 'string', help: 'the entry: address or CIDR network' },
    data: dataOption,
  },
};

export const ipAdminActions: ActionTable = {
  list: { spec: listSpec, run: list },
  expire: { spec: expireSpec, run: expire },
  remove: { spec: removeSpec, run: remove },
};

async function list(argv: string[]): Promise<void> {
  const values = parseCommand(listSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', listSpec), 'subscription');
  await withAdminContext(values.data as string, async ({ store, adminStore }) => {
    await adminStore.getSubscription(id); // UNKNOWN_SUBSCRIPTION rather than an empty list
    printJson(await store.listAllowedIps(id));
  });
}

async function expire(argv: string[]): Promise<void> {
  const values = parseCommand(expireSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', expireSpec), 'subscription');
  const ip = required(values, 'ip', expireSpec);
  const atMs = timeOption(values.at, 'at');
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const expired = await adminStore.expireAllowedIp(id, ip, atMs, { audit: cliAuditContext() });
    process.stdout.write(`${ip} stops counting for ${id} at ${expired.expiresAt.toISOString()}\n`);
  });
}

async function remove(argv: string[]): Promise<void> {
  const values = parseCommand(removeSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', removeSpec), 'subscription');
  const ip = required(values, 'ip', removeSpec);
  await withAdminContext(values.data as string, async ({ store }) => {
    if (!(await store.removeAllowedIp(id, ip, { audit: cliAuditContext() }))) throw new Error(`${ip} is not on the allowlist of ${id}`);
    process.stdout.write(`removed ${ip} from the allowlist of ${id}\n`);
  });
}
