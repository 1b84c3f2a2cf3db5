/**
 * `sigplane audit-log maintain`: create the audit log's month partitions
 * ahead and, with a retention, drop the months older than it. Run it as the
 * tables' owner (DATABASE_URL), e.g. daily from cron.
 */
import { auditLog } from '@sigplane/protocol';
import { maintainAuditLog } from '../persistence/pg/audit-retention';
import { parseCommand, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext } from './context';

const spec: CommandSpec = {
  usage: 'sigplane audit-log maintain [options]',
  summary: 'Create the audit log partitions ahead; with a retention, drop the months older than it.',
  options: {
    data: dataOption,
    'retention-days': {
      type: 'string',
      help: `keep this many days of audit log (${auditLog.retentionDaysMin}..${auditLog.retentionDaysMax}); unset: keep everything`,
      default: process.env.SIGPLANE_AUDIT_RETENTION_DAYS,
    },
    'months-ahead': { type: 'string', help: 'month partitions to create ahead', default: String(auditLog.partitionMonthsAhead) },
  },
};

function integerOption(value: string | boolean | undefined, name: string): number | null {
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value)) throw new UsageError(`--${name} must be a whole number, got ${String(value)}`);
  return Number(value);
}

export async function auditLogCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'maintain') {
    if (sub === undefined || sub === '--help') {
      parseCommand(spec, ['--help']);
      return;
    }
    throw new UsageError(`unknown audit-log command "${sub}"; try: sigplane audit-log maintain --help`);
  }
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const retentionDays = integerOption(values['retention-days'], 'retention-days');
  const monthsAhead = integerOption(values['months-ahead'], 'months-ahead') ?? auditLog.partitionMonthsAhead;
  if (retentionDays !== null && (retentionDays < auditLog.retentionDaysMin || retentionDays > auditLog.retentionDaysMax)) {
    throw new UsageError(`--retention-days must be ${auditLog.retentionDaysMin}..${auditLog.retentionDaysMax}`);
  }
  if (monthsAhead > auditLog.partitionMonthsAheadMax) throw new UsageError(`--months-ahead must be 0..${auditLog.partitionMonthsAheadMax}`);
  const context = await openContext(values.data as string);
  try {
    const result = await maintainAuditLog(context.database.pool, { retentionDays, monthsAhead });
    // Written after the drop, so the row that says who removed history is never among what was removed.
    await context.store.audit({
      eventType: 'CONFIG',
      action: 'AUDIT_LOG_MAINTAIN',
      metadata: { ...cliAuditContext().metadata, retentionDays, monthsAhead, created: result.created, dropped: result.dropped, deleted: result.deleted },
    });
    process.stdout.write(
      `audit log: ${result.created} partition(s) created, ${result.dropped} dropped, ${result.deleted} old row(s) deleted` +
        (retentionDays === null ? ' (no retention set: nothing older is dropped)' : ` (retention ${retentionDays} days)`) +
        '\n',
    );
  } finally {
    await context.close();
  }
}
