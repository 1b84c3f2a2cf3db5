/**
 * A lock between processes (and threads) on one machine: a directory,
 * created atomically by mkdir, holding the owner's pid. A lock whose owner
 * is gone (a test run killed with SIGKILL mid-build) is broken at once
 * instead of being waited out: a stale lock made every later run wait its
 * whole deadline and then fail.
 */
import fs from 'node:fs';
import path from 'node:path';
import { processAlive } from '../../cli/data-folder-lock';

/** A lock directory without an owner file yet is being taken; older than this, its taker died between the two steps. */
const ownerlessLockStaleMs = 10_000;
const retryMs = 200;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Whether the lock at `lock` was left by an owner that no longer runs. */
export function isStaleLock(lock: string): boolean {
  let ownerText: string;
  try {
    ownerText = fs.readFileSync(path.join(lock, 'owner'), 'utf8');
  } catch {
    try {
      return Date.now() - fs.statSync(lock).mtimeMs > ownerlessLockStaleMs;
    } catch {
      return false; // released meanwhile
    }
  }
  const pid = Number(ownerText);
  return Number.isSafeInteger(pid) && pid > 0 && !processAlive(pid);
}

/** Runs `fn` holding the lock at `lock`, waiting up to `waitMs` for a holder that still runs. */
export function withDirLock<T>(lock: string, waitMs: number, fn: () => T): T {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isStaleLock(lock)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`waited ${Math.round(waitMs / 1000)} s for the lock ${lock}, held by a running process`);
      sleepSync(retryMs);
    }
  }
  try {
    fs.writeFileSync(path.join(lock, 'owner'), String(process.pid));
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
