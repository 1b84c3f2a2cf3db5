/**
 * What bench/RESULTS.md says about the machine: git commit, the file system
 * the journal bench writes to, and how much CPU *other* processes used while
 * a suite ran (the load average counts the bench itself and its fsync
 * waits, so it cannot tell a quiet machine from a busy one on its own).
 * Linux only where /proc is read; elsewhere the answers are 'unknown'/null.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * What the benches themselves write: a change there is the output of this
 * very run (or of `npm run bench`, just before the load run of
 * `npm run bench:all`), not a change to what is measured.
 */
const benchOutputs = ['bench/RESULTS.md', 'bench/charts'];

/** HEAD's short hash, marked when the working tree differs from it (beyond the benches' own outputs). */
export function gitCommit(root: string): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const changed = git('status', '--porcelain', '--', '.', ...benchOutputs.map((p) => `:(exclude)${p}`));
    return changed.length > 0 ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown (git failed)';
  }
}

/** The file system type of the mount holding `dir` (/proc/mounts), or 'unknown'. */
export function fsTypeOf(dir: string): string {
  try {
    const real = fs.realpathSync(dir);
    let best = { mountPoint: '', type: 'unknown' };
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mountPoint, type] = line.split(' ');
      if (mountPoint === undefined || type === undefined) continue;
      const covers = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
      if (covers && mountPoint.length > best.mountPoint.length) best = { mountPoint, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
export const ticksPerSecond = clockTicksPerSecond();

/** CPU time at one instant: the whole machine's busy time and this process's (all threads). */
export interface CpuMark {
  atMs: number;
  machineBusySeconds: number;
  ownSeconds: number;
}

export function cpuMark(): CpuMark | null {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    const own = process.cpuUsage();
    return {
      atMs: performance.now(),
      machineBusySeconds: (user + nice + system + irq + softirq + steal) / ticksPerSecond,
      ownSeconds: (own.user + own.system) / 1e6,
    };
  } catch {
    return null;
  }
}

/** Cores' worth of CPU that other processes used between two marks (0.25: a quarter of one core). */
export function otherProcessesCores(from: CpuMark | null, to: CpuMark | null): number | null {
  if (from === null || to === null || to.atMs <= from.atMs) return null;
  const others = to.machineBusySeconds - from.machineBusySeconds - (to.ownSeconds - from.ownSeconds);
  return Math.max(0, others) / ((to.atMs - from.atMs) / 1000);
}
