/**
 * A shard journal's files are owner-only: they hold the signals of paying
 * subscribers and the source addresses of security events.
 *
 * SQLite creates a database file 0644 (less the umask) and gives its -wal
 * and -shm companions the main file's mode. So the main file is created
 * here, empty and 0600, before SQLite opens it, and the companions follow
 * it. A file that is readable by others already (made by an earlier build,
 * or copied in) loses its group and other bits at open, companions
 * included: they can outlive a connection while another one (the shipper's
 * pruner, the shard's worker) keeps the file open. The folder, when the
 * journal is the first to make it, is 0700; an existing one is left as the
 * operator made it.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Owner read and write. */
export const journalFileMode = 0o600;
/** Owner only. */
export const journalFolderMode = 0o700;

/** The files SQLite keeps beside a database in WAL mode. */
const companionSuffixes = ['-wal', '-shm'] as const;

/** Makes the folder (0700) and the file (0600, empty) when missing; takes group and other bits off the file and its companions. */
export function prepareOwnerOnlyJournal(filePath: string): void {
  fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: journalFolderMode });
  fs.closeSync(fs.openSync(filePath, 'a', journalFileMode));
  for (const file of [filePath, ...companionSuffixes.map((suffix) => `${filePath}${suffix}`)]) tighten(file);
}

/** Group and other bits off (the owner's stay as they are); a file that does not exist is left so. */
function tighten(file: string): void {
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) !== 0) fs.chmodSync(file, mode & 0o700);
}
