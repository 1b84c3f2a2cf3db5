/**
 * Configuration from three places, highest first: command-line flags, the
 * environment, an optional JSON file (`--config` or SIGPLANE_CONFIG), then
 * the setting's default. Every value is validated before anything starts;
 * a bad one stops the command with exit 2 and a message naming the key and
 * where it came from. A secret setting has no default, is never accepted as
 * a flag (flags show in `ps`), and is never echoed in an error.
 */
import fs from 'node:fs';
import { UsageError, type CommandSpec, type OptionSpec } from './args';

/** Names the setting and where its value came from: `--port must ...`, `SIGPLANE_PORT (setting port) must ...`. */
export class ConfigError extends UsageError {
  constructor(
    readonly key: string,
    /** `--flag`, an environment variable, `file <path>`, or 'rule' (a rule between settings). */
    readonly source: string,
    detail: string,
  ) {
    super(source === `--${key}` ? `--${key} ${detail}` : source === 'rule' ? `setting ${key} ${detail}` : `${source} (setting ${key}) ${detail}`, 'INVALID_SETTING');
  }
}

/** Checks a raw text value and returns it parsed, or throws with what is wrong (never the value of a secret). */
export type Parse<T> = (text: string) => T;

export interface Setting<T> {
  help: string;
  /** Environment variable (none: flag and file only). */
  env?: string;
  /** Not a flag: environment or file only (credentials). */
  secret?: boolean;
  /** Text of the default; absent: the setting is optional (undefined) unless `required`. */
  default?: string;
  parse: Parse<T>;
}

export type Schema = Record<string, Setting<unknown>>;
export type Resolved<S extends Schema> = { [K in keyof S]: S[K] extends Setting<infer T> ? T | undefined : never };

/** The schema's flags for parseCommand (no defaults there: a flag given is told apart from a default). */
function configOptions(schema: Schema): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {
    config: { type: 'string', help: 'JSON file of settings (keys as the flags, without --; env SIGPLANE_CONFIG)' },
  };
  for (const [key, setting] of Object.entries(schema)) {
    if (setting.secret === true) continue;
    const env = setting.env === undefined ? '' : ` [env ${setting.env}]`;
    const fallback = setting.default === undefined ? '' : ` (default: ${setting.default})`;
    options[key] = { type: 'string', help: `${setting.help}${env}${fallback}` };
  }
  return options;
}

/** Secret settings, for the help text: where they may come from. */
function secretSettingsHelp(schema: Schema): string {
  const lines = Object.entries(schema)
    .filter(([, s]) => s.secret === true)
    .map(([key, s]) => `  ${key.padEnd(26)}${s.help}${s.env === undefined ? '' : ` [env ${s.env}]`} (file or environment only)`);
  return lines.length === 0 ? '' : `secret settings:\n${lines.join('\n')}\n`;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('config', `file ${file}`, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('config', `file ${file}`, `is not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('config', `file ${file}`, 'must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function resolveConfig<S extends Schema>(
  schema: S,
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): Resolved<S> {
  const configFile = (flags.config as string | undefined) ?? nonEmpty(env.SIGPLANE_CONFIG);
  const file = configFile === undefined ? {} : readConfigFile(configFile);
  for (const key of Object.keys(file)) {
    if (!(key in schema)) throw new ConfigError(key, `file ${configFile}`, `is not a setting (known: ${Object.keys(schema).join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(schema)) {
    let text: string | undefined;
    let source = 'default';
    const fromFile = file[key];
    if (setting.secret !== true && typeof flags[key] === 'string') {
      text = flags[key] as string;
      source = `--${key}`;
    } else if (setting.env !== undefined && nonEmpty(env[setting.env]) !== undefined) {
      text = env[setting.env];
      source = setting.env;
    } else if (fromFile !== undefined) {
      if (typeof fromFile !== 'string' && typeof fromFile !== 'number' && typeof fromFile !== 'boolean') {
        throw new ConfigError(key, `file ${configFile}`, 'must be a string, number or boolean');
      }
      text = String(fromFile);
      source = `file ${configFile}`;
    } else {
      text = setting.default;
    }
    if (text === undefined) {
      out[key] = undefined;
      continue;
    }
    try {
      out[key] = setting.parse(text);
    } catch (error) {
      throw new ConfigError(key, source, (error as Error).message);
    }
  }
  return out as Resolved<S>;
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

// ---- parsers ----

export function integer(min: number, max: number): Parse<number> {
  return (text) => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be ${min}..${max} (a whole number), got "${text}"`);
    }
    return value;
  };
}

export function positiveNumber(max: number): Parse<number> {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) throw new Error(`must be a number > 0 and <= ${max}, got "${text}"`);
    return value;
  };
}

export function oneOf<T extends string>(...values: T[]): Parse<T> {
  return (text) => {
    if (!(values as string[]).includes(text)) throw new Error(`must be ${values.length === 2 ? values.join(' or ') : `one of ${values.join(', ')}`}, got "${text}"`);
    return text as T;
  };
}

export const text: Parse<string> = (value) => {
  if (value === '') throw new Error('must not be empty');
  return value;
};

/** A file that exists and this process can read (a certificate, a key). */
export const readableFile: Parse<string> = (file) => {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!fs.statSync(file).isFile()) throw new Error(`${file} is not a file`);
  return file;
};

/** The help of a command whose options come from a schema. */
export function configSpec(usage: string, summary: string, schema: Schema): CommandSpec {
  return { usage, summary: `${summary}\n\n${secretSettingsHelp(schema)}`.trimEnd(), options: configOptions(schema) };
}
