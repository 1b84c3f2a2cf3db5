#!/usr/bin/env node
/**
 * The `sigplane` command. Each subcommand has its own file and `--help`.
 */
import { UsageError } from './args';
import { log } from './log';
import { serveCommand } from './serve-command';
import { subscriptionCommand } from './subscription-command';
import { tokenCommand } from './token-command';
import { ipCommand } from './ip-command';
import { migrateCommand } from './migrate-command';
import { demoCommand } from './demo-command';
import { adminCommand } from './admin-command';
import { auditCommand } from './audit-command';
import { userCommand } from './user-command';
import { billingCommand } from './billing-command';
import { receiverSettingsCommand } from './receiver-settings-command';
import { kekCommand } from './kek-command';
import { auditLogCommand } from './audit-log-command';

const commands: Record<string, { summary: string; run: (argv: string[]) => Promise<void> }> = {
  serve: { summary: 'run the server (embedded Postgres when DATABASE_URL is unset)', run: serveCommand },
  subscription: { summary: 'create, list, show, settings; isolate, lift, rotate-credentials (incident response)', run: subscriptionCommand },
  token: { summary: 'issue a license token (printed once); list tokens; revoke a token (its sessions are closed)', run: tokenCommand },
  ip: { summary: "a subscription's allowed source addresses: allow, list, expire, remove", run: ipCommand },
  migrate: { summary: 'apply database migrations', run: migrateCommand },
  kek: { summary: 'key-encryption key: status, rotate (re-wrap the stored secrets)', run: kekCommand },
  'audit-log': { summary: 'audit log partitions: maintain (create ahead, drop past the retention)', run: auditLogCommand },
  'receiver-settings': { summary: 'show or change a receiver license\'s copy settings (lots, symbols, reverse, SL/TP, filters)', run: receiverSettingsCommand },
  admin: { summary: 'admin API credentials: create-user (token printed once), list-users, revoke-credential', run: adminCommand },
  audit: { summary: 'query the audit log by user, event type, IP and time range', run: auditCommand },
  user: { summary: 'GDPR: find a user by email, export everything held about them, erase them', run: userCommand },
  billing: { summary: "billing ledger: read (row-level security: as that user), performance fees: charge-fees, fee-rate, assign-subscriber", run: billingCommand },
  demo: { summary: 'start a server, a master and three receivers copying onto paper accounts, and show every execution', run: demoCommand },
};

function topHelp(): string {
  const lines = ['usage: sigplane <command> [options]', '', 'commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(19)}${command.summary}`);
  lines.push('', 'Each command takes --help. Environment: DATABASE_URL, SIGPLANE_DATA_DIR, SIGPLANE_KEK or SIGPLANE_KEK_FILE,', 'SIGPLANE_EMBEDDED_PG_PORT (the embedded Postgres, without DATABASE_URL).');
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}"\n\n${topHelp()}`);
  await command.run(rest);
}

/**
 * A command still running when nothing is left to wait for stopped on a
 * promise that will never settle: a start-up step that failed without
 * saying so. That is a failure, not an exit 0 with nothing said.
 */
let settled = false;
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  log('error', `sigplane ${process.argv[2] ?? ''}: stopped before it finished, with nothing left to wait for (a step that failed silently: a bug)`);
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  () => {
    settled = true;
  },
  (error: unknown) => {
    settled = true;
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    log('error', (error as Error).message);
    process.exit(1);
  },
);
