/** `sigplane token issue`: a receiver license token (shown once, stored as SHA-256). */
import { credentials } from '../engine/limits';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { dataOption, openContext } from './context';

const spec: CommandSpec = {
  usage: 'sigplane token issue --subscription ID [options]',
  summary: 'Issue a receiver license token for a subscription. Printed ONCE; only its SHA-256 is stored.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    label: { type: 'string', help: 'who it is for (shown to operators)' },
    'ttl-days': { type: 'string', help: 'days until it expires', default: String(credentials.licenseTokenTtlDays) },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

export async function tokenCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(`usage: sigplane token issue [options]\n\nActions: issue. Try: sigplane token issue --help\n`);
    return;
  }
  if (action === undefined) throw new UsageError('an action is required; try: sigplane token issue --help');
  if (action !== 'issue') throw new UsageError(`unknown action "${action}"; try: sigplane token issue --help`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const subscriptionId = required(values, 'subscription', spec);
  const ttlDays = Number(values['ttl-days']);
  if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > 3650) throw new UsageError('--ttl-days must be a whole number from 1 to 3650');
  const context = await openContext(values.data as string);
  try {
    const issued = await context.store.issueReceiverToken(subscriptionId, { label: values.label as string | undefined, ttlDays });
    if (values.json === true) process.stdout.write(`${JSON.stringify(issued)}\n`);
    else {
      process.stdout.write(
        `license_token: ${issued.token}\ntoken_id:      ${issued.tokenId}\nexpires_at:    ${new Date(issued.expiresAt).toISOString()}\n\nIMPORTANT: Store this securely. It will not be shown again.\n`,
      );
    }
  } finally {
    await context.close();
  }
}
