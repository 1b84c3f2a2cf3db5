/**
 * `sigplane subscription <action>`: create a subscription (its master token
 * and MAC key shown once, or the provider's own key imported from a file:
 * cli/mac-key-command.ts); isolate, lift and rotate-credentials for incident
 * response (cli/incident-command.ts).
 */
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext, uuidOption } from './context';
import { incidentActions } from './incident-command';
import { subscriptionAdminActions } from './subscription-admin-command';
import { ownAction } from './admin-context';
import type { CreatedSubscription, SubscriptionWithImportedKey } from '../persistence/pg/subscription-store';
import { legacyV1SecretOption, macKeyActions, macKeyFileOption, macKeyUse, readMacKeyFile, warnAboutImportedKey, withCodeInMessage } from './mac-key-command';

const spec: CommandSpec = {
  usage: 'sigplane subscription create --name NAME [options]',
  summary:
    'Create a subscription. Prints its id, the master token and the v2 MAC key id and secret ONCE: only hashes and ciphertext are stored. ' +
    "With --mac-key-file the provider's own key is imported instead (never printed; --legacy-v1-secret: the EA's v1 secret in another format, v1 only), and --subscription-id keeps an existing Master EA's id.",
  options: {
    name: { type: 'string', help: 'a name for operators' },
    'owner-email': { type: 'string', help: "the provider's email (creates the user if new)" },
    'subscription-id': { type: 'string', help: 'the id to use (an existing Master EA\'s), instead of a new one' },
    'mac-key-file': macKeyFileOption,
    'legacy-v1-secret': legacyV1SecretOption,
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const actionNames = ['create', ...Object.keys(incidentActions), ...Object.keys(subscriptionAdminActions), ...Object.keys(macKeyActions)];
const actionsHelp = `usage: sigplane subscription <action> [options]\n\nActions: ${actionNames.join(', ')}. Try: sigplane subscription create --help\n`;

export async function subscriptionCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(actionsHelp);
    return;
  }
  if (action === undefined) throw new UsageError('an action is required; try: sigplane subscription create --help');
  const incident = ownAction(incidentActions, action) ?? ownAction(subscriptionAdminActions, action) ?? ownAction(macKeyActions, action);
  if (incident !== undefined) return incident.run(rest);
  if (action !== 'create') throw new UsageError(`unknown action "${action}"; actions: ${actionNames.join(', ')}`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const name = required(values, 'name', spec);
  const subscriptionIdOption = values['subscription-id'];
  const subscriptionId = subscriptionIdOption === undefined ? undefined : uuidOption(String(subscriptionIdOption), 'subscription-id');
  const keyFile = values['mac-key-file'];
  const legacyV1 = values['legacy-v1-secret'] === true;
  if (legacyV1 && keyFile === undefined) throw new UsageError('--legacy-v1-secret goes with --mac-key-file');
  const macSecret = keyFile === undefined ? undefined : readMacKeyFile(String(keyFile));
  const context = await openContext(values.data as string);
  try {
    const input = { name, ownerEmail: values['owner-email'] as string | undefined, subscriptionId, audit: cliAuditContext() };
    const created = await withCodeInMessage<CreatedSubscription | SubscriptionWithImportedKey>(() =>
      macSecret === undefined ? context.store.createSubscription(input) : context.store.createSubscriptionWithMacKey({ ...input, macSecret, legacyV1 }),
    );
    if ('warnings' in created) warnAboutImportedKey(created);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(created)}\n`);
    } else {
      const generated = 'macSecretHex' in created;
      process.stdout.write(
        [
          `subscription_id: ${created.subscriptionId}`,
          `master_token:    ${created.masterToken}`,
          `mac_key_id:      ${created.macKeyId}`,
          `mac_secret:      ${generated ? created.macSecretHex : '(imported from --mac-key-file, not shown)'}`,
          ...('legacyV1' in created ? [`mac_key_use:     ${macKeyUse(created)}`] : []),
          '',
          `IMPORTANT: the master token${generated ? ' and MAC secret are' : ' is'} shown only now. Store ${generated ? 'them' : 'it'} securely.`,
          'Receivers connect only from allowed addresses: sigplane ip allow --help',
          '',
        ].join('\n'),
      );
    }
  } finally {
    await context.close();
  }
}
