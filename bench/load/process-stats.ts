/**
 * CPU and memory of a server process, read from /proc (Linux): CPU seconds
 * from /proc/<pid>/stat (utime + stime, all threads), resident memory from
 * /proc/<pid>/status. Peak RSS during a run is sampled (VmHWM counts since
 * the process started, and NATS and Redis were started long before).
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

export function rssBytesOf(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** The pid of the only process whose command name is `comm` (e.g. redis-server), or null. */
export function pidByCommand(comm: string): number | null {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found.length === 1 ? found[0] : null;
}

/** CPU (cores' worth) and peak RSS of one process over a window. */
export class ProcessWatch {
  private readonly startCpu: number | null;
  private readonly startMs = performance.now();
  private peakRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly pid: number, sampleMs = 100) {
    this.startCpu = cpuSecondsOf(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleMs);
  }

  private sample(): void {
    this.peakRss = Math.max(this.peakRss, rssBytesOf(this.pid) ?? 0);
  }

  stop(): { cores: number | null; peakRssBytes: number | null } {
    clearInterval(this.timer);
    this.sample();
    const endCpu = cpuSecondsOf(this.pid);
    const seconds = (performance.now() - this.startMs) / 1000;
    const cores = this.startCpu === null || endCpu === null || seconds <= 0 ? null : (endCpu - this.startCpu) / seconds;
    return { cores, peakRssBytes: this.peakRss === 0 ? null : this.peakRss };
  }
}
