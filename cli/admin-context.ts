/**
 * What the admin-parity commands share: the command context plus the admin
 * store, a dispatcher for `sigplane <command> <action>` tables, and output
 * of records as JSON (they are nested: text columns would hide parts).
 */
import { auditLog } from '@sigplane/protocol';
import { AdminStore } from '../persistence/pg/admin-store';
import { UsageError, type CommandSpec } from './args';
import { openContext, type CommandContext } from './context';

export interface AdminCommandContext extends CommandContext {
  adminStore: AdminStore;
}

async function openAdminContext(dataOptionValue: string): Promise<AdminCommandContext> {
  const context = await openContext(dataOptionValue);
  return { ...context, adminStore: new AdminStore(context.database.pool, context.store) };
}

/** Run `fn` with an admin context that is closed afterwards, whatever happens. */
export async function withAdminContext<T>(dataOptionValue: string, fn: (context: AdminCommandContext) => Promise<T>): Promise<T> {
  const context = await openAdminContext(dataOptionValue);
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

export type ActionTable = Record<string, { spec: CommandSpec; run: (argv: string[]) => Promise<void> }>;

/** The table's own action of that name ("toString" is not an action), or undefined. */
export function ownAction(actions: ActionTable, name: string): ActionTable[string] | undefined {
  return Object.prototype.hasOwnProperty.call(actions, name) ? actions[name] : undefined;
}

/** `sigplane <command> <action> ...`: the action's run, help for --help, a UsageError otherwise. */
export async function runAction(command: string, actions: ActionTable, argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const names = Object.keys(actions).join(', ');
  if (action === '--help' || action === '-h') {
    process.stdout.write(`usage: sigplane ${command} <action> [options]\n\nActions: ${names}. Each takes --help.\n`);
    return;
  }
  if (action === undefined) throw new UsageError(`an action is required; actions: ${names}`);
  const entry = ownAction(actions, action);
  if (entry === undefined) throw new UsageError(`unknown action "${action}"; actions: ${names}`);
  await entry.run(rest);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An optional ISO-8601 option as ms since the epoch. */
export function timeOption(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be an ISO-8601 time (2026-01-31T12:00:00Z)`);
  return ms;
}

/** An optional whole-number option within bounds. */
export function integerOption(value: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

export function reasonOption(value: string, name = 'reason'): string {
  const reason = value.trim();
  if (reason.length === 0 || reason.length > auditLog.reasonCharsMax) throw new UsageError(`--${name} must be 1..${auditLog.reasonCharsMax} characters`);
  return reason;
}
