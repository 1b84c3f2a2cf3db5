/**
 * The receiver's optional durable cursor: the last executed sequence in a
 * small JSON file, replaced atomically (write a temporary file, fsync,
 * rename over, fsync the folder) after each executed signal.
 *
 * The window between "executed" and "cursor written" cannot be closed from
 * here: a crash inside it re-executes that one signal after a restart. An
 * application that needs better keeps its own cursor inside the same
 * transaction as its execution and passes it as `lastSequence`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ClientErrorCode, SigplaneClientError } from './errors';

export interface CursorRecord {
  version: 1;
  lastExecuted: number;
  subscriptionId: string | null;
  updatedAtMs: number;
}

/** The last executed sequence in the file; null when there is no file. Throws CURSOR_UNREADABLE on a damaged one. */
export function readCursor(file: string): CursorRecord | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SigplaneClientError(ClientErrorCode.CURSOR_UNREADABLE, `cannot read cursor file ${file}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SigplaneClientError(ClientErrorCode.CURSOR_UNREADABLE, `cursor file ${file} is not JSON`, { cause: err });
  }
  const record = parsed as Partial<CursorRecord> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    record.version !== 1 ||
    typeof record.lastExecuted !== 'number' ||
    !Number.isSafeInteger(record.lastExecuted) ||
    record.lastExecuted < 0
  ) {
    throw new SigplaneClientError(ClientErrorCode.CURSOR_UNREADABLE, `cursor file ${file} has no valid lastExecuted`);
  }
  return {
    version: 1,
    lastExecuted: record.lastExecuted,
    subscriptionId: typeof record.subscriptionId === 'string' ? record.subscriptionId : null,
    updatedAtMs: typeof record.updatedAtMs === 'number' ? record.updatedAtMs : 0,
  };
}

/** Replace the cursor file atomically and durably. */
export async function writeCursor(file: string, record: CursorRecord): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(record) + '\n');
}

/** Replace `file` with `text` atomically and durably (also used by the copier's position map). */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  const handle = await fs.promises.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temporary, file);
  try {
    const folder = await fs.promises.open(path.dirname(path.resolve(file)), 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename itself is still atomic.
  }
}
