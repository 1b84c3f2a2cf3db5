/**
 * `sigplane billing read --user ID`: a user's billing ledger entries,
 * newest first, one page (JSON), read under row-level security as that
 * user (persistence/pg/tenant.ts withTenant): the ledger shows them their
 * own entries only. The admin API's GET /admin/v1/billing reads as the
 * admin instead (every entry, narrowed by its filters).
 */
import { admin } from '../engine/limits';
import { parseCommand, required, type CommandSpec } from './args';
import { dataOption, uuidOption } from './context';
import { integerOption, printJson, runAction, withAdminContext, type ActionTable } from './admin-context';

const readSpec: CommandSpec = {
  usage: 'sigplane billing read --user ID [options]',
  summary: "A user's billing ledger entries, newest first, one page (JSON with items and nextCursor), read as that user under row-level security.",
  options: {
    user: { type: 'string', help: 'user id' },
    subscription: { type: 'string', help: 'only entries of this subscription' },
    limit: { type: 'string', help: `rows per page, 1..${admin.pageSizeMax}`, default: String(admin.pageSizeDefault) },
    cursor: { type: 'string', help: 'nextCursor of the previous page' },
    data: dataOption,
  },
};

const actions: ActionTable = { read: { spec: readSpec, run: read } };

export function billingCommand(argv: string[]): Promise<void> {
  return runAction('billing', actions, argv);
}

async function read(argv: string[]): Promise<void> {
  const values = parseCommand(readSpec, argv);
  if (values === null) return;
  const userId = uuidOption(required(values, 'user', readSpec), 'user');
  const subscriptionId = values.subscription === undefined ? undefined : uuidOption(values.subscription as string, 'subscription');
  const limit = integerOption(values.limit, 'limit', 1, admin.pageSizeMax);
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const role = await adminStore.userRole(userId);
    printJson(await adminStore.readBilling({ userId, role }, { userId, subscriptionId, limit, cursor: values.cursor as string | undefined }));
  });
}
