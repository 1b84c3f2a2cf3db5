/**
 * `sigplane token list --subscription ID`: a subscription's tokens as JSON
 * (id, role, prefix, label, expiry, revocation, last use; never a token or
 * its hash), the admin API's GET .../tokens.
 */
import { parseCommand, required, type CommandSpec } from './args';
import { dataOption, uuidOption } from './context';
import { printJson, withAdminContext, type ActionTable } from './admin-context';

const listSpec: CommandSpec = {
  usage: 'sigplane token list --subscription ID [options]',
  summary: "A subscription's master and receiver tokens as JSON: metadata only, never a token or its hash.",
  options: { subscription: { type: 'string', help: 'subscription id' }, data: dataOption },
};

export const tokenAdminActions: ActionTable = { list: { spec: listSpec, run: list } };

async function list(argv: string[]): Promise<void> {
  const values = parseCommand(listSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'subscription', listSpec), 'subscription');
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    await adminStore.getSubscription(id);
    printJson(await adminStore.listTokens(id));
  });
}
