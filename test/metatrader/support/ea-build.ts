/**
 * The C++ build of the EAs (mql5/cpp/build.sh), compiled once per version
 * of its sources: the binaries live in the system's temporary folder under
 * a hash of every source file, the compiler's version and the build
 * script, so repeated runs reuse them and any change rebuilds. Test files
 * running in parallel wait for one another's build (a lock directory,
 * test/support/dir-lock.ts, broken at once when its owner is gone).
 * A missing g++ or missing headers fail loudly: scripts/ci-system-packages.sh
 * installs them (npm test runs it first).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withDirLock } from '../../support/dir-lock';

export const mql5Root = path.resolve(__dirname, '../../../mql5');

/** A first build takes tens of seconds on a busy 2-core machine: the hooks that may run it wait this long. */
export const eaBuildTimeoutMs = 300_000;

export interface EaBinaries {
  dir: string;
  selftest: string;
  master: string;
  receiver: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(mqh|mq5|hpp|cpp|sh)$/.test(entry.name)) out.push(full);
  }
  return out;
}

function compilerVersion(): string {
  try {
    return execFileSync('g++', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    throw new Error('g++ is missing: run `sh scripts/ci-system-packages.sh` (npm test does) to install g++, libssl-dev and libsqlite3-dev');
  }
}

/** A hash of everything that goes into the binaries. */
function buildHash(): string {
  const hash = crypto.createHash('sha256');
  hash.update(compilerVersion());
  for (const file of sourceFiles(mql5Root)) {
    hash.update(path.relative(mql5Root, file));
    hash.update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

let cached: EaBinaries | null = null;

/** The binaries for the current sources, compiled now if this version was never built. */
export function eaBinaries(): EaBinaries {
  if (cached !== null) return cached;
  const base = path.join(os.tmpdir(), 'sigplane-ea-build');
  const dir = path.join(base, buildHash());
  const binaries: EaBinaries = {
    dir,
    selftest: path.join(dir, 'sigplane-ea-selftest'),
    master: path.join(dir, 'sigplane-master-ea'),
    receiver: path.join(dir, 'sigplane-receiver-ea'),
  };
  const done = path.join(dir, 'BUILT');
  fs.mkdirSync(base, { recursive: true });
  const lock = `${dir}.lock`;
  if (!fs.existsSync(done)) {
    // Another test file may be building this version: wait for it, then use its build.
    withDirLock(lock, eaBuildTimeoutMs, () => {
      if (fs.existsSync(done)) return;
      fs.rmSync(dir, { recursive: true, force: true });
      try {
        execFileSync('sh', [path.join(mql5Root, 'cpp', 'build.sh'), dir], { stdio: 'pipe', encoding: 'utf8' });
      } catch (error) {
        const e = error as { stderr?: string; stdout?: string };
        throw new Error(
          `the C++ build of the EAs failed (needs g++, libssl-dev, libsqlite3-dev: scripts/ci-system-packages.sh):\n${e.stderr ?? ''}${e.stdout ?? ''}`,
        );
      }
      fs.writeFileSync(done, new Date().toISOString());
    });
  }
  cached = binaries;
  return binaries;
}
