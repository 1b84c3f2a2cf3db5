/**
 * test/support/dir-lock.ts, the lock the EA build takes between test files:
 * a lock whose owner is gone is broken at once, one whose owner runs is
 * waited for (and the wait ends with a clear error), and the lock is given
 * back whatever the work does.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStaleLock, withDirLock } from './support/dir-lock';

let dir: string;
let lock: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-dir-lock-'));
  lock = path.join(dir, 'build.lock');
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function heldBy(pid: number): void {
  fs.mkdirSync(lock);
  fs.writeFileSync(path.join(lock, 'owner'), String(pid));
}

describe('the directory lock', () => {
  it('breaks a lock whose owner no longer runs (killed mid-build), and runs at once', () => {
    const gone = spawnSync('true').pid!;
    heldBy(gone);
    expect(isStaleLock(lock)).toBe(true);
    // No wait allowed: only breaking the lock lets it run.
    expect(withDirLock(lock, 0, () => 'built')).toBe('built');
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('waits for an owner that runs, then says so, without running the work', () => {
    heldBy(process.pid);
    expect(isStaleLock(lock)).toBe(false);
    let ran = false;
    expect(() =>
      withDirLock(lock, 300, () => {
        ran = true;
      }),
    ).toThrow(/held by a running process/);
    expect(ran).toBe(false);
    expect(fs.readFileSync(path.join(lock, 'owner'), 'utf8')).toBe(String(process.pid));
  });

  it('treats a lock without an owner as being taken, and as stale once old', () => {
    fs.mkdirSync(lock);
    expect(isStaleLock(lock)).toBe(false);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    expect(isStaleLock(lock)).toBe(true);
    expect(withDirLock(lock, 0, () => 1)).toBe(1);
  });

  it('writes its own pid while it holds the lock and gives it back when the work throws', () => {
    expect(() =>
      withDirLock(lock, 1_000, () => {
        expect(fs.readFileSync(path.join(lock, 'owner'), 'utf8')).toBe(String(process.pid));
        throw new Error('build failed');
      }),
    ).toThrow('build failed');
    expect(fs.existsSync(lock)).toBe(false);
  });
});
