/**
 * A provider's own MAC key (moving an existing Master EA to sigplane):
 *
 *   sigplane subscription import-mac-key --subscription ID --mac-key-file PATH [--legacy-v1-secret] [options]
 *   sigplane subscription create --name NAME --mac-key-file PATH [--legacy-v1-secret] [--subscription-id UUID]
 *
 * The key is read from a file, or from stdin with `-`, never from the
 * command line: flags and arguments show in `ps` and shell history, as
 * `serve` refuses its secrets as flags. It must have the format of a
 * generated key (64 lowercase hex characters), unless --legacy-v1-secret
 * says it is the EA's v1 secret in another format (any UTF-8 text, v1 only;
 * a weak one is warned about on stderr). It is sealed and audited, and
 * never printed, logged or echoed in an error.
 */
import fs from 'node:fs';
import { importedMacSecret } from '@sigplane/protocol';
import { ConfigError } from '../persistence/pg/config-errors';
import type { ImportedKeyReport } from '../persistence/pg/mac-key-store';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext, uuidOption } from './context';
import { reasonOption, type ActionTable } from './admin-context';
import { overlapMinutesOption, overlapMsOption } from './incident-command';

export const macKeyFileOption = {
  type: 'string',
  help: 'file holding the MAC key (64 lowercase hex characters, one line); - reads it from stdin. Never the key itself: arguments show in ps',
} as const;

export const legacyV1SecretOption = {
  type: 'boolean',
  help: "the file holds the EA's existing v1 secret in another format (UTF-8 text, one line, taken exactly): verified for v1 signals only, warned about when weak",
  default: false,
} as const;

const importSpec: CommandSpec = {
  usage: 'sigplane subscription import-mac-key --subscription ID --mac-key-file PATH [options]',
  summary:
    "Make the provider's own MAC key the subscription's current one (a Master EA moving to sigplane keeps its key). Checked like a generated key (or, with --legacy-v1-secret, taken as the EA's v1 secret, v1 only), encrypted at rest, audited (CREDENTIAL / IMPORT_MAC_KEY); the previous key stays valid for the overlap. Masters sign with it once they reconnect.",
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    'mac-key-file': macKeyFileOption,
    'legacy-v1-secret': legacyV1SecretOption,
    'overlap-minutes': overlapMinutesOption,
    reason: { type: 'string', help: 'why (kept in the audit log)' },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

export const macKeyActions: ActionTable = {
  'import-mac-key': { spec: importSpec, run: importMacKey },
};

async function importMacKey(argv: string[]): Promise<void> {
  const values = parseCommand(importSpec, argv);
  if (values === null) return;
  const subscriptionId = uuidOption(required(values, 'subscription', importSpec), 'subscription');
  const overlapMs = overlapMsOption(values['overlap-minutes']);
  const reason = values.reason === undefined ? undefined : reasonOption(String(values.reason));
  const macSecret = readMacKeyFile(required(values, 'mac-key-file', importSpec));
  const legacyV1 = values['legacy-v1-secret'] === true;
  const context = await openContext(values.data as string);
  try {
    const imported = await withCodeInMessage(() =>
      context.store.importMacKey(subscriptionId, { macSecret, legacyV1, overlapMs, reason, audit: cliAuditContext() }),
    );
    warnAboutImportedKey(imported);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(imported)}\n`);
      return;
    }
    process.stdout.write(
      [
        `subscription_id:        ${imported.subscriptionId}`,
        `mac_key_id:             ${imported.macKeyId}`,
        `mac_key_use:            ${macKeyUse(imported)}`,
        `previous_mac_key_until: ${imported.previousMacKeysValidUntil.toISOString()}`,
        `audit_log_id:           ${imported.auditLogId}`,
        '',
        'The imported key is now current; connected masters sign with it after they reconnect.',
        '',
      ].join('\n'),
    );
  } finally {
    await context.close();
  }
}

/** What the imported key verifies (the text output's mac_key_use line). */
export function macKeyUse(report: ImportedKeyReport): string {
  return report.legacyV1 ? 'v1 only (a legacy v1 secret)' : 'v1 and v2';
}

/** Each warning of an import (WEAK_MAC_KEY) on stderr, with its code: it names the weakness, never the key. */
export function warnAboutImportedKey(report: ImportedKeyReport): void {
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning.code}: ${warning.message}\n`);
}

/** Refuses bytes that are not UTF-8 instead of replacing them (a legacy v1 secret is its UTF-8 bytes, exactly). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The key from `path` (or stdin for `-`): one line, its line ending
 * dropped. Nothing of the content or the path is echoed when it fails.
 */
export function readMacKeyFile(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readBounded(path === '-' ? 0 : path);
  } catch (error) {
    throw new UsageError(`--mac-key-file: cannot read the ${path === '-' ? 'key from stdin' : 'file'} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (bytes.length > importedMacSecret.keyFileBytesMax) throw new UsageError(`--mac-key-file: more than ${importedMacSecret.keyFileBytesMax} bytes: not a key file`);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new Error('INVALID_MAC_KEY: the key file is not UTF-8 text');
  } finally {
    bytes.fill(0);
  }
  return text.replace(/\r?\n$/, '');
}

/** Up to one byte more than the bound, from a path or a file descriptor (stdin). */
function readBounded(source: string | number): Buffer {
  const fd = typeof source === 'number' ? source : fs.openSync(source, 'r');
  try {
    const out = Buffer.alloc(importedMacSecret.keyFileBytesMax + 1);
    let length = 0;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, out, length, out.length - length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue; // a non-blocking stdin not ready yet
        throw error;
      }
      if (n === 0 || length + n >= out.length) return out.subarray(0, length + n);
      length += n;
    }
  } finally {
    if (typeof source === 'string') fs.closeSync(fd);
  }
}

/** A store refusal with its stable code first (INVALID_MAC_KEY, SUBSCRIPTION_EXISTS, ...), as the admin API answers it. */
export async function withCodeInMessage<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConfigError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  }
}
