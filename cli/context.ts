/**
 * What every database-using command opens: the data folder, the system of
 * record, the key-encryption key and the configuration store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigStore } from '../persistence/pg/config-store';
import { SecretBox } from '../persistence/pg/secret-box';
import { openDatabase, type Database } from './database';
import { log } from './log';
import type { OptionSpec } from './args';

export const dataOption: OptionSpec = {
  type: 'string',
  help: 'data folder: journals, embedded Postgres, generated key-encryption key',
  default: process.env.SIGPLANE_DATA_DIR ?? './data',
};

export interface CommandContext {
  dataDir: string;
  database: Database;
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
  return { dataDir, database, store, close: () => database.close() };
}
