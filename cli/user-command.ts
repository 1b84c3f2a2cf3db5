/**
 * `sigplane user <action>`: GDPR requests about a person.
 *
 *   sigplane user find --email EMAIL
 *   sigplane user export --user ID [--out FILE]   everything held about them, as JSON
 *   sigplane user erase --user ID --reason TEXT   personal data removed; references kept
 */
import fs from 'node:fs';
import { parseCommand, required, type CommandSpec } from './args';
import { cliAuditContext, dataOption, uuidOption } from './context';
import { printJson, reasonOption, runAction, withAdminContext, type ActionTable } from './admin-context';

const findSpec: CommandSpec = {
  usage: 'sigplane user find --email EMAIL [options]',
  summary: 'The user id of an email (for export and erase).',
  options: { email: { type: 'string', help: 'the email' }, data: dataOption },
};

const exportSpec: CommandSpec = {
  usage: 'sigplane user export --user ID [options]',
  summary: 'GDPR export: everything held about a user (user row, subscriptions owned with their token metadata and allowlists, admin credentials, audit rows by or about them) as JSON. Never a secret.',
  options: {
    user: { type: 'string', help: 'user id' },
    out: { type: 'string', help: 'write to this file (created, mode 0600) instead of stdout' },
    data: dataOption,
  },
};

const eraseSpec: CommandSpec = {
  usage: 'sigplane user erase --user ID --reason TEXT [options]',
  summary:
    "GDPR erasure: the user's email and name are replaced, the IP address, user agent and request body of their audit rows cleared, their admin credentials revoked. The row stays, so subscriptions, audit log and ledger stay consistent. Audited.",
  options: { user: { type: 'string', help: 'user id' }, reason: { type: 'string', help: 'why (e.g. the request ticket)' }, data: dataOption },
};

const actions: ActionTable = {
  find: { spec: findSpec, run: find },
  export: { spec: exportSpec, run: exportUser },
  erase: { spec: eraseSpec, run: erase },
};

export function userCommand(argv: string[]): Promise<void> {
  return runAction('user', actions, argv);
}

async function find(argv: string[]): Promise<void> {
  const values = parseCommand(findSpec, argv);
  if (values === null) return;
  const email = required(values, 'email', findSpec);
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const user = await adminStore.findUserByEmail(email);
    if (user === null) throw new Error(`no user with email ${email}`);
    printJson(user);
  });
}

async function exportUser(argv: string[]): Promise<void> {
  const values = parseCommand(exportSpec, argv);
  if (values === null) return;
  const userId = uuidOption(required(values, 'user', exportSpec), 'user');
  const out = values.out as string | undefined;
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const exported = await adminStore.exportUser(userId);
    if (out === undefined) return printJson(exported);
    fs.writeFileSync(out, `${JSON.stringify(exported, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    process.stdout.write(`exported user ${userId} to ${out}\n`);
  });
}

async function erase(argv: string[]): Promise<void> {
  const values = parseCommand(eraseSpec, argv);
  if (values === null) return;
  const userId = uuidOption(required(values, 'user', eraseSpec), 'user');
  const reason = reasonOption(required(values, 'reason', eraseSpec));
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    printJson(await adminStore.eraseUser(userId, { reason, audit: cliAuditContext() }));
  });
}
