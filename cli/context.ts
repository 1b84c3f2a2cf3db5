/**
 * What every database-using command opens: the data folder, the system of
 * record, the key-encryption key and the configuration store.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditContext } from '../persistence/pg/audit-append';
import { ConfigStore } from '../persistence/pg/config-store';
import { SecretBox } from '../persistence/pg/secret-box';
import { openDatabase, type Database } from './database';
import { log } from './log';
import { UsageError, type OptionSpec } from './args';

export const dataOption: OptionSpec = {
  type: 'string',
  help: 'data folder: journals, embedded Postgres, generated key-encryption key',
  default: process.env.SIGPLANE_DATA_DIR ?? './data',
};

export interface CommandContext {
  dataDir: string;
  database: Database;
  secretBox: SecretBox;
  store: ConfigStore;
  close(): Promise<void>;
}

export async function openContext(dataOptionValue: string): Promise<CommandContext> {
  const dataDir = path.resolve(dataOptionValue);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secretBox = SecretBox.fromEnvironment(process.env, { dataDir, allowGenerate: true });
  if (secretBox.notice) log('warn', secretBox.notice);
  const database = await openDatabase(dataDir);
  const store = new ConfigStore(database.pool, secretBox);
  return { dataDir, database, secretBox, store, close: () => database.close() };
}

/**
 * Who ran an audited command: there are no admin users yet, so the audit row
 * says it came from the CLI, and the OS user and host that ran it.
 */
export function cliAuditContext(): AuditContext {
  let osUser: string | null = null;
  try {
    osUser = os.userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): leave it out.
  }
  return { metadata: { via: 'cli', osUser, host: os.hostname() } };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id option's value, checked before anything is opened. */
export function uuidOption(value: string, name: string): string {
  if (!uuidPattern.test(value)) throw new UsageError(`--${name} must be a UUID, got ${value}`);
  return value.toLowerCase();
}
