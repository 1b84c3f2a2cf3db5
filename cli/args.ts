/**
 * Subcommand argument parsing on node:util's parseArgs, with `--help` on
 * every subcommand and a clear error (exit 2) for anything unknown.
 */
import { parseArgs } from 'node:util';
import { SigplaneError } from '@sigplane/protocol';
import { scrubSecrets } from './log';

export interface OptionSpec {
  type: 'string' | 'boolean';
  help: string;
  default?: string | boolean;
}

export interface CommandSpec {
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
}

/** USAGE, or INVALID_SETTING (ConfigError in config.ts): the command stops with exit 2 (main.ts). */
export type UsageErrorCode = 'USAGE' | 'INVALID_SETTING';

export class UsageError extends SigplaneError<UsageErrorCode> {
  constructor(message: string, code: UsageErrorCode = 'USAGE') {
    super(code, message);
  }
}

function helpText(spec: CommandSpec): string {
  const lines = [`usage: ${spec.usage}`, '', spec.summary, '', 'options:'];
  for (const [name, option] of Object.entries(spec.options)) {
    const value = option.type === 'string' ? ' <value>' : '';
    const fallback = option.default === undefined ? '' : ` (default: ${String(option.default)})`;
    lines.push(`  --${name}${value}`.padEnd(28) + option.help + fallback);
  }
  lines.push('  --help'.padEnd(28) + 'show this help');
  return `${lines.join('\n')}\n`;
}

/** Parsed options, or null when --help was asked (the help was printed). */
export function parseCommand(spec: CommandSpec, argv: string[]): Record<string, string | boolean | undefined> | null {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = { help: { type: 'boolean' } };
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = option.default === undefined ? { type: option.type } : { type: option.type, default: option.default };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    // parseArgs quotes a stray argument: a secret pasted there (a key, a token) is not echoed.
    throw new UsageError(`${scrubSecrets((error as Error).message)}\n\n${helpText(spec)}`);
  }
  if (values.help === true) {
    process.stdout.write(helpText(spec));
    return null;
  }
  return values;
}

export function required(values: Record<string, string | boolean | undefined>, name: string, spec: CommandSpec): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required\n\n${helpText(spec)}`);
  return value;
}
