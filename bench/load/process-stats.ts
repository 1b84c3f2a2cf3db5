/**
 * CPU and memory of a server, read from /proc (Linux): CPU seconds from
 * /proc/<pid>/stat (utime + stime, all threads, in clock ticks of 10 ms),
 * and over a window from each thread's /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds on the CPU: an idle server's 0.1% of a core is a few ticks
 * in a few seconds, too coarse for the stat fields); resident memory from
 * /proc/<pid>/status. A server may be several processes (Postgres: the
 * postmaster and its children, processTree): its CPU is their sum, and its
 * memory the sum of their proportional set sizes (PSS, /proc/<pid>/smaps_rollup),
 * which counts shared memory once rather than in every process. Peak memory
 * during a run is sampled (VmHWM counts since the process started).
 */
import fs from 'node:fs';
import { ticksPerSecond } from '../machine';

export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

function rssBytesOf(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

function pssBytesOf(pid: number): number | null {
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** `pid` and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    out.push(p);
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const task of tasks) {
      try {
        for (const child of fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(' ')) {
          if (child !== '') visit(Number(child));
        }
      } catch {
        // gone meanwhile
      }
    }
  };
  visit(pid);
  return out;
}

/** Memory of a server: RSS of its one process, or the PSS sum of several. */
export function serverMemoryBytes(pids: readonly number[]): number | null {
  if (pids.length === 1) return rssBytesOf(pids[0]);
  let total = 0;
  for (const pid of pids) total += pssBytesOf(pid) ?? 0;
  return total === 0 ? null : total;
}

/** Nanoseconds on the CPU of each thread of the processes, by `<pid>/<tid>`. */
function cpuNsByThread(pids: readonly number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      try {
        out.set(`${pid}/${tid}`, Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/**
 * CPU (cores' worth) and peak memory of a server's processes over a window.
 * A thread started in the window counts from its start; one that ended in
 * it loses its time in the window (servers keep their threads).
 */
export class ProcessWatch {
  private readonly startCpu: Map<string, number>;
  private readonly startMs = performance.now();
  private peakMemory = 0;
  private readonly timer: NodeJS.Timeout;

  /** `pids` is asked again at each sample: a process started in the window (a Postgres backend) counts from its start. */
  constructor(private readonly pids: () => number[], sampleMs = 100) {
    this.startCpu = cpuNsByThread(pids());
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleMs);
  }

  private sample(): void {
    this.peakMemory = Math.max(this.peakMemory, serverMemoryBytes(this.pids()) ?? 0);
  }

  stop(): { cores: number | null; peakRssBytes: number | null } {
    clearInterval(this.timer);
    this.sample();
    const end = cpuNsByThread(this.pids());
    const seconds = (performance.now() - this.startMs) / 1000;
    let cpuNs = 0;
    for (const [thread, ns] of end) cpuNs += ns - (this.startCpu.get(thread) ?? 0);
    const cores = this.startCpu.size === 0 || end.size === 0 || seconds <= 0 ? null : cpuNs / 1e9 / seconds;
    return { cores, peakRssBytes: this.peakMemory === 0 ? null : this.peakMemory };
  }
}
