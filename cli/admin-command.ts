/**
 * `sigplane admin <action>`: the admin API's own credentials.
 *
 *   sigplane admin create-user --email E --role admin|operator|auditor   (token printed ONCE)
 *   sigplane admin list-users
 *   sigplane admin revoke-credential --credential-id ID
 *
 * Roles: auditor reads, operator also changes subscriptions, credentials,
 * allowlists and isolations, admin also runs GDPR export and erasure
 * (docs/admin-api.md).
 */
import { admin } from '@sigplane/protocol';
import { adminRoleRank, isAdminRole } from '../persistence/pg/admin-store';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, uuidOption } from './context';
import { integerOption, printJson, runAction, withAdminContext, type ActionTable } from './admin-context';

const roles = Object.keys(adminRoleRank).join(', ');

const createSpec: CommandSpec = {
  usage: 'sigplane admin create-user --email EMAIL --role ROLE [options]',
  summary: `Create an admin user (or a new credential for an existing one) for the admin HTTP API. Roles: ${roles}. The token (spa_...) is printed ONCE; only its SHA-256 is stored.`,
  options: {
    email: { type: 'string', help: "the admin's email (who the audit log names)" },
    role: { type: 'string', help: `one of ${roles}` },
    'ttl-days': { type: 'string', help: 'days until the credential expires', default: String(admin.credentialTtlDaysDefault) },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const listSpec: CommandSpec = {
  usage: 'sigplane admin list-users [options]',
  summary: 'List admin credentials (user, role, token prefix, expiry, revocation, last use) as JSON. Never a token.',
  options: { data: dataOption },
};

const revokeSpec: CommandSpec = {
  usage: 'sigplane admin revoke-credential --credential-id ID [options]',
  summary: 'Revoke an admin credential: its next request is refused (401). Audited.',
  options: { 'credential-id': { type: 'string', help: 'admin credential id (from list-users)' }, data: dataOption },
};

const actions: ActionTable = {
  'create-user': { spec: createSpec, run: createUser },
  'list-users': { spec: listSpec, run: listUsers },
  'revoke-credential': { spec: revokeSpec, run: revokeCredential },
};

export function adminCommand(argv: string[]): Promise<void> {
  return runAction('admin', actions, argv);
}

async function createUser(argv: string[]): Promise<void> {
  const values = parseCommand(createSpec, argv);
  if (values === null) return;
  const email = required(values, 'email', createSpec);
  const role = required(values, 'role', createSpec);
  if (!isAdminRole(role)) throw new UsageError(`--role must be one of ${roles}, got ${role}`);
  const ttlDays = integerOption(values['ttl-days'], 'ttl-days', 1, admin.credentialTtlDaysMax);
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const created = await adminStore.createAdminUser({ email, role, ttlDays, audit: cliAuditContext() });
    if (values.json === true) return printJson(created);
    process.stdout.write(
      [
        `admin_token:   ${created.token}`,
        `user_id:       ${created.userId}`,
        `credential_id: ${created.credentialId}`,
        `role:          ${created.role}`,
        `expires_at:    ${created.expiresAt.toISOString()}`,
        '',
        'IMPORTANT: Store this securely. It will not be shown again.',
        'Use it as "Authorization: Bearer <admin_token>" on the admin port (sigplane serve --admin-port).',
        '',
      ].join('\n'),
    );
  });
}

async function listUsers(argv: string[]): Promise<void> {
  const values = parseCommand(listSpec, argv);
  if (values === null) return;
  await withAdminContext(values.data as string, async ({ adminStore }) => printJson(await adminStore.listAdminCredentials()));
}

async function revokeCredential(argv: string[]): Promise<void> {
  const values = parseCommand(revokeSpec, argv);
  if (values === null) return;
  const id = uuidOption(required(values, 'credential-id', revokeSpec), 'credential-id');
  await withAdminContext(values.data as string, async ({ adminStore }) => {
    const revoked = await adminStore.revokeAdminCredential(id, { audit: cliAuditContext() });
    process.stdout.write(revoked ? `admin credential ${id} revoked\n` : `admin credential ${id} was already revoked: nothing to do\n`);
  });
}
