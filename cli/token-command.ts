/**
 * `sigplane token issue`: a receiver license token (shown once, stored as SHA-256).
 * `sigplane token revoke`: revoke a token (master or receiver) at once; every
 * running server closes the sessions it authenticated (close code 4004).
 */
import { auditLog, credentials } from '@sigplane/protocol';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext, uuidOption } from './context';
import { tokenAdminActions } from './token-admin-command';
import { ownAction } from './admin-context';

const spec: CommandSpec = {
  usage: 'sigplane token issue --subscription ID [options]',
  summary: 'Issue a receiver license token for a subscription. Printed ONCE; only its SHA-256 is stored.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    label: { type: 'string', help: 'who it is for (shown to operators)' },
    role: { type: 'string', help: 'receiver, or master (another master token for the provider)', default: 'receiver' },
    'ttl-days': { type: 'string', help: `days until it expires (default: ${credentials.licenseTokenTtlDays}, a master token ${credentials.masterTokenTtlDays})` },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const revokeSpec: CommandSpec = {
  usage: 'sigplane token revoke --token-id ID [options]',
  summary:
    'Revoke a license or master token at once: upgrades with it are refused (401 REVOKED) and every running server closes the sessions it authenticated within a second (close code 4004). Audited.',
  options: {
    'token-id': { type: 'string', help: 'license_tokens.token_id (printed by token issue as token_id)' },
    reason: { type: 'string', help: 'why (kept in the audit log)' },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const actionsHelp = 'usage: sigplane token <action> [options]\n\nActions: issue, revoke, list. Try: sigplane token issue --help\n';

export async function tokenCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(actionsHelp);
    return;
  }
  if (action === undefined) throw new UsageError('an action is required; try: sigplane token issue --help');
  if (action === 'revoke') return revoke(rest);
  const listed = ownAction(tokenAdminActions, action);
  if (listed !== undefined) return listed.run(rest);
  if (action !== 'issue') throw new UsageError(`unknown action "${action}"; actions: issue, revoke, list`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const subscriptionId = required(values, 'subscription', spec);
  if (values.role !== 'receiver' && values.role !== 'master') throw new UsageError('--role must be receiver or master');
  const ttlDays = values['ttl-days'] === undefined ? undefined : Number(values['ttl-days']);
  if (ttlDays !== undefined && (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > credentials.tokenTtlDaysMax)) {
    throw new UsageError(`--ttl-days must be a whole number from 1 to ${credentials.tokenTtlDaysMax}`);
  }
  const context = await openContext(values.data as string);
  try {
    const issue = values.role === 'master' ? context.store.issueMasterToken : context.store.issueReceiverToken;
    const issued = await issue.call(context.store, subscriptionId, { label: values.label as string | undefined, ttlDays, audit: cliAuditContext() });
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

async function revoke(argv: string[]): Promise<void> {
  const values = parseCommand(revokeSpec, argv);
  if (values === null) return;
  const tokenId = uuidOption(required(values, 'token-id', revokeSpec), 'token-id');
  const reason = values.reason === undefined ? undefined : String(values.reason).trim();
  if (reason !== undefined && (reason.length === 0 || reason.length > auditLog.reasonCharsMax)) throw new UsageError(`--reason must be 1..${auditLog.reasonCharsMax} characters`);
  const context = await openContext(values.data as string);
  try {
    const result = await context.store.revokeTokenDetailed(tokenId, { reason, audit: cliAuditContext() });
    if (values.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (result.revoked) {
      process.stdout.write(`token ${result.tokenId} (${result.role}, subscription ${result.subscriptionId}) revoked: running servers close its sessions now\n`);
    } else {
      process.stdout.write(`token ${result.tokenId} was already revoked: nothing to do\n`);
    }
  } finally {
    await context.close();
  }
}
