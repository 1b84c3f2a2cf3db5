/**
 * The node's identity for journal watermarks: a UUID kept in the data
 * folder beside the journals (`<dataDir>/node-id`), made on first use.
 *
 * Watermarks are keyed (node_id, shard, table). Keeping the id with the
 * journals makes the two travel together: a wiped data folder gets a new id
 * (its fresh journals, whose ids start again at 1, are shipped from 0
 * instead of being skipped as "already shipped"), and a folder restored from
 * a backup keeps its id (re-shipping its rows changes nothing: ON CONFLICT).
 * A hostname would not do either.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { journalFolderMode } from '../journal-files';

const nodeIdFileName = 'node-id';
/** Characters of a node id at most. */
export const nodeIdCharsMax = 128;
/** 1..nodeIdCharsMax of [A-Za-z0-9._-], starting with a letter or digit. */
export const nodeIdPattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${nodeIdCharsMax - 1}}$`);

/** Reads `<dataDir>/node-id`, or creates it (atomically: temp file, fsync, rename). */
export function loadOrCreateNodeId(dataDir: string): string {
  const file = path.join(dataDir, nodeIdFileName);
  try {
    return checkNodeId(fs.readFileSync(file, 'utf8').trim(), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: journalFolderMode }); // the journals' folder: owner-only
  const id = randomUUID();
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${id}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file); // fails if another process made it first: theirs wins
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  return checkNodeId(fs.readFileSync(file, 'utf8').trim(), file);
}

function checkNodeId(id: string, file: string): string {
  if (!nodeIdPattern.test(id)) throw new Error(`${file} does not hold a node id (1..${nodeIdCharsMax} of [A-Za-z0-9._-])`);
  return id;
}
