/**
 * The admin API's subscription reads and settings, from the command line:
 *
 *   sigplane subscription list [--limit N] [--cursor C]
 *   sigplane subscription show --subscription ID
 *   sigplane subscription settings --subscription ID [--patch JSON]
 *
 * `settings` with --patch changes the named overrides (null restores a
 * default: '{"ttlMs":30000,"clockSkewMs":null}'); without it, prints them.
 * Connections opened after the change use the new settings.
 */
import { admin } from '@sigplane/protocol';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, uuidOption } from './context';
import { integerOption, printJson, withAdminContext, type ActionTable } from './admin-context';

const listSpec: CommandSpec = {
  usage: 'sigplane subscription list [options]',
  summary: 'List subscriptions, oldest first, one page (JSON with items and nextCursor).',
  options: {
    limit: { type: 'string', help: `rows per page, 1..${admin.pageSizeMax}`, default: String(admin.pageSizeDefault) },
    cursor: { type: 'string', help: 'nextCursor of the previous page' },
    data: dataOption,
  },
};

const showSpec: CommandSpec = {
  usage: 'sigplane subscription show --subscription ID [options]',
  summary: 'A subscription as JSON: state, owner, settings (effective and overrides), tokens (metadata only), allowlist, MAC key ids.',
  options: { subscription: { type: 'string', help: 'subscription id' }, data: dataOption },
};

const settingsSpec: CommandSpec = {
  usage: 'sigplane subscription settings --subscription ID [--patch JSON] [options]',
  summary:
    'Show or change the per-subscription settings (ttlMs, clockSkewMs, maxDeviationPips, referencePriceMaxAgeMs, rateLimitPerSecond, rateLimitBurst, pipSizes). --patch sets the named overrides; null restores a default.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    patch: { type: 'string', help: 'JSON object, e.g. {"ttlMs":30000,"clockSkewMs":null}' },
    data: dataOption,
  },
};

export const subscriptionAdminActions: ActionTable = {
  list: { spec: listSpec, run: list },
  show: { spec: showSpec, run: show },
  settings: { spec: settingsSpec, run: settings },
};

async function list(argv: string[]): Promise<void> {
  const values = parseCommand(listSpec, argv);
  if (values === null) return;
  const limit = integerOption(values.limit, 'limit', 1, admin.pageSizeMax);
  await withAdminContext(values.data as string, async ({ adminStore }) =>
    printJson(await adminStore.listSubscriptions({ limit, cursor: values.cursor as string | undefined })),
  );
}

async function show(argv: string[]): Promise<void> {
  const values = parseCommand(showSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', showSpec), 'subscription');
  await withAdminContext(values.data as string, async ({ adminStore }) => printJson(await adminStore.getSubscription(id)));
}

async function settings(argv: string[]): Promise<void> {
  const values = parseCommand(settingsSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', settingsSpec), 'subscription');
  let patch: Record<string, unknown> | undefined;
  if (values.patch !== undefined) {
    try {
      patch = JSON.parse(values.patch as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--patch must be a JSON object');
    }
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new UsageError('--patch must be a JSON object');
  }
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    if (patch !== undefined) return printJson(await adminStore.updateSettings(id, patch, { audit: cliAuditContext() }));
    const shown = await adminStore.getSubscription(id);
    printJson({ settings: shown.settings, overrides: shown.settingsOverrides });
  });
}
