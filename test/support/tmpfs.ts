/**
 * A small tmpfs of its own for the tests that fill a disk: mounted by the
 * test (the tests run as root), filled with a ballast file, freed by
 * deleting it, unmounted at the end. A test that cannot mount one fails,
 * saying why: nothing is skipped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Bytes an unprivileged writer may still use (statfs bavail). */
  freeBytes(): number;
  /** Writes a ballast file that leaves `leaveFreeBytes` free (about: the filesystem counts pages). */
  fill(leaveFreeBytes: number): void;
  /** Deletes the ballast: the space comes back at once. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number, prefix: string): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    fs.rmdirSync(dir);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`cannot mount a ${sizeBytes}-byte tmpfs at ${dir} (these tests need root, as in CI): ${stderr || (error as Error).message}`);
  }
  const ballast = path.join(dir, 'ballast');
  let mounted = true;
  const freeBytes = (): number => {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    freeBytes,
    fill(leaveFreeBytes: number): void {
      const bytes = freeBytes() - leaveFreeBytes;
      if (bytes <= 0) throw new Error(`tmpfs ${dir}: only ${freeBytes()} bytes free, cannot leave ${leaveFreeBytes}`);
      fs.writeFileSync(ballast, Buffer.alloc(bytes, 0x5a));
    },
    free(): void {
      fs.rmSync(ballast, { force: true });
    },
    unmount(): void {
      if (!mounted) return;
      mounted = false;
      try {
        execFileSync('umount', [dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch {
        execFileSync('umount', ['--lazy', dir]); // a process of the test still holds a file there: detach now, free when it lets go
      }
      fs.rmdirSync(dir);
    },
  };
}
