/**
 * Where the processes of a load run may run. Pinned: every server under
 * test runs on one core (`serverCpu`, as `taskset -c 1` would put it) and
 * the load process, with all its threads, on another (`loadCpu`); unpinned:
 * everything may run anywhere. A server is started under `taskset` so that
 * it sizes itself (Go's GOMAXPROCS, Node's availableParallelism) for the
 * core it gets; a process tree that forks its workers (Postgres) is pinned
 * after it started, and its later children inherit the mask. Linux only
 * (taskset, from util-linux).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export const pinModes = ['pinned', 'unpinned'] as const;
export type PinMode = (typeof pinModes)[number];

/** The core every server under test gets when pinned. */
export const serverCpu = 1;
/** The core the load process gets when pinned. */
export const loadCpu = 0;

/** A CPU list as taskset takes it: '1', or every core ('0-1'). */
function allCpus(): string {
  return `0-${os.cpus().length - 1}`;
}

/** The CPU list for the servers in a mode (null: no pinning). */
export function serverCpusFor(mode: PinMode): string | null {
  return mode === 'pinned' ? String(serverCpu) : null;
}

/** Throws when this machine cannot run the pinned mode (fewer than two cores, or no taskset). */
export function checkPinning(): void {
  if (os.cpus().length < 2) throw new Error(`pinning needs two cores (server on ${serverCpu}, load on ${loadCpu}); this machine has ${os.cpus().length}`);
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch (error) {
    throw new Error(`pinning needs taskset (util-linux): ${(error as Error).message}`);
  }
}

/** A command and its arguments, run under `taskset -c cpus` when cpus is given. */
export function underTaskset(cpus: string | null, command: string, args: string[]): { command: string; args: string[] } {
  return cpus === null ? { command, args } : { command: 'taskset', args: ['-c', cpus, command, ...args] };
}

/** Sets the CPU mask of a running process and all its threads (taskset -a -p). */
function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** The CPU list a process may run on, as /proc says it ('1', '0-1'); null when it is gone. */
export function cpusAllowedOf(pid: number): string | null {
  try {
    return /^Cpus_allowed_list:\s+(\S+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Passes over a process tree before giving up on one that keeps forking unpinned children. */
const treePinPassesMax = 10;

/**
 * Pins every process of a tree that forks its workers (`processes()` lists
 * it afresh each pass): a child forked while the parent was being pinned
 * keeps the old mask, so passes repeat until one finds every process
 * pinned.
 */
export function pinProcessTree(processes: () => number[], cpus: string): void {
  for (let pass = 0; pass < treePinPassesMax; pass++) {
    const unpinned = processes().filter((pid) => cpusAllowedOf(pid) !== null && cpusAllowedOf(pid) !== cpus);
    if (unpinned.length === 0) return;
    for (const pid of unpinned) {
      try {
        pinProcess(pid, cpus);
      } catch {
        // exited meanwhile
      }
    }
  }
  throw new Error(`could not pin every process of the tree to CPUs ${cpus} in ${treePinPassesMax} passes`);
}

/** The load process (this one, all its threads; threads it starts later inherit the mask) for a mode. */
export function placeLoadProcess(mode: PinMode): void {
  pinProcess(process.pid, mode === 'pinned' ? String(loadCpu) : allCpus());
}
