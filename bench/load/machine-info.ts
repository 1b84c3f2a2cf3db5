/** The MachineInfo header of a results section (bench/results-markdown.ts), for any bench runner. */
import os from 'node:os';
import { gitCommit } from '../machine';
import type { MachineInfo } from '../results-markdown';

export function machineInfo(root: string, startMs: number, loadAverageAtStart: number[], otherProcessesCores: number | null): MachineInfo {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    nproc: os.availableParallelism(),
    memoryBytesTotal: os.totalmem(),
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    dateIso: new Date(startMs).toISOString(),
    gitCommit: gitCommit(root),
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg(),
    elapsedSeconds: (Date.now() - startMs) / 1000,
    otherProcessesCores,
  };
}
