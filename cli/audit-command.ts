/**
 * `sigplane audit query`: the audit log, newest first, filtered by user,
 * event type, IP (address or network) and time range, one page at a time
 * (pass --cursor the nextCursor of the previous page). Prints JSON.
 */
import { admin } from '@sigplane/protocol';
import { parseCommand, type CommandSpec } from './args';
import { dataOption, uuidOption } from './context';
import { integerOption, printJson, runAction, timeOption, withAdminContext, type ActionTable } from './admin-context';

const querySpec: CommandSpec = {
  usage: 'sigplane audit query [options]',
  summary: 'Query the audit log, newest first, one page (JSON with items and nextCursor).',
  options: {
    user: { type: 'string', help: 'user id (who acted)' },
    'event-type': { type: 'string', help: 'e.g. ADMIN_API, INCIDENT, CREDENTIAL, GDPR, ADMIN' },
    ip: { type: 'string', help: 'an address, or a network (rows from inside it)' },
    from: { type: 'string', help: 'ISO-8601 time: rows at or after it' },
    to: { type: 'string', help: 'ISO-8601 time: rows before it' },
    limit: { type: 'string', help: `rows per page, 1..${admin.pageSizeMax}`, default: String(admin.pageSizeDefault) },
    cursor: { type: 'string', help: 'nextCursor of the previous page' },
    data: dataOption,
  },
};

const actions: ActionTable = { query: { spec: querySpec, run: query } };

export function auditCommand(argv: string[]): Promise<void> {
  return runAction('audit', actions, argv);
}

async function query(argv: string[]): Promise<void> {
  const values = parseCommand(querySpec, argv);
  if (values === null) return;
  const filter = {
    userId: values.user === undefined ? undefined : uuidOption(values.user as string, 'user'),
    eventType: values['event-type'] as string | undefined,
    ip: values.ip as string | undefined,
    fromMs: timeOption(values.from, 'from'),
    toMs: timeOption(values.to, 'to'),
    limit: integerOption(values.limit, 'limit', 1, admin.pageSizeMax),
    cursor: values.cursor as string | undefined,
  };
  await withAdminContext(values.data as string, async ({ adminStore }) => printJson(await adminStore.queryAudit(filter)));
}
