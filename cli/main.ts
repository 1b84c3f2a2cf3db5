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

const commands: Record<string, { summary: string; run: (argv: string[]) => Promise<void> }> = {
  serve: { summary: 'run the server (embedded Postgres when DATABASE_URL is unset)', run: serveCommand },
  subscription: { summary: 'create a subscription; isolate, lift, rotate-credentials (incident response)', run: subscriptionCommand },
  token: { summary: 'issue a receiver license token (printed once); revoke a token (its sessions are closed)', run: tokenCommand },
  ip: { summary: 'allow a source address or network for a subscription', run: ipCommand },
  migrate: { summary: 'apply database migrations', run: migrateCommand },
  demo: { summary: 'start a server, a master and three receivers, and show signals flowing', run: demoCommand },
};

function topHelp(): string {
  const lines = ['usage: sigplane <command> [options]', '', 'commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(14)}${command.summary}`);
  lines.push('', 'Each command takes --help. Environment: DATABASE_URL, SIGPLANE_DATA_DIR, SIGPLANE_KEK or SIGPLANE_KEK_FILE.');
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

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  log('error', (error as Error).message);
  process.exit(1);
});
