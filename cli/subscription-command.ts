/**
 * `sigplane subscription <action>`: create a subscription (its master token
 * and MAC key shown once); isolate, lift and rotate-credentials for incident
 * response (cli/incident-command.ts).
 */
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext } from './context';
import { incidentActions } from './incident-command';
import { subscriptionAdminActions } from './subscription-admin-command';
import { ownAction } from './admin-context';

const spec: CommandSpec = {
  usage: 'sigplane subscription create --name NAME [options]',
  summary: 'Create a subscription. Prints its id, the master token and the v2 MAC key id and secret ONCE: only hashes and ciphertext are stored.',
  options: {
    name: { type: 'string', help: 'a name for operators' },
    'owner-email': { type: 'string', help: "the provider's email (creates the user if new)" },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const actionNames = ['create', ...Object.keys(incidentActions), ...Object.keys(subscriptionAdminActions)];
const actionsHelp = `usage: sigplane subscription <action> [options]\n\nActions: ${actionNames.join(', ')}. Try: sigplane subscription create --help\n`;

export async function subscriptionCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(actionsHelp);
    return;
  }
  if (action === undefined) throw new UsageError('an action is required; try: sigplane subscription create --help');
  const incident = ownAction(incidentActions, action) ?? ownAction(subscriptionAdminActions, action);
  if (incident !== undefined) return incident.run(rest);
  if (action !== 'create') throw new UsageError(`unknown action "${action}"; actions: ${actionNames.join(', ')}`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const name = required(values, 'name', spec);
  const context = await openContext(values.data as string);
  try {
    const created = await context.store.createSubscription({ name, ownerEmail: values['owner-email'] as string | undefined, audit: cliAuditContext() });
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(created)}\n`);
    } else {
      process.stdout.write(
        [
          `subscription_id: ${created.subscriptionId}`,
          `master_token:    ${created.masterToken}`,
          `mac_key_id:      ${created.macKeyId}`,
          `mac_secret:      ${created.macSecretHex}`,
          '',
          'IMPORTANT: the master token and MAC secret are shown only now. Store them securely.',
          'Receivers connect only from allowed addresses: sigplane ip allow --help',
          '',
        ].join('\n'),
      );
    }
  } finally {
    await context.close();
  }
}
