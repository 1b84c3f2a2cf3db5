/**
 * bench/RESULTS.md as text: a header (machine, Node, date, commit, load)
 * and, per suite, benny's cases as a table plus what the suite measured
 * beyond benny (latency percentiles, sizes). Pure: bench/run.ts gathers.
 */
import type { CaseResult } from 'benny/lib/internal/common-types';

export interface MachineInfo {
  cpuModel: string;
  nproc: number;
  memoryBytesTotal: number;
  nodeVersion: string;
  platform: string;
  dateIso: string;
  gitCommit: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  elapsedSeconds: number;
  /** CPU other processes (and hypervisor steal) used during the run, in cores; null: unknown. */
  otherProcessesCores: number | null;
}

export interface SuiteReport {
  title: string;
  what: string;
  elapsedSeconds: number;
  /** 1-minute load average when the suite started. */
  loadAverageAtStart: number;
  otherProcessesCores: number | null;
  cases: CaseResult[];
  /** Markdown lines after the table (extra tables, printed percentiles). */
  extraLines: string[];
  error: string | null;
}

/** 3 significant digits, no exponent: 0.0123, 1.23, 123, 12,346. */
export function significant(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en');
  return Number(value.toPrecision(3)).toString();
}

function cores(value: number | null): string {
  return value === null ? 'unknown' : `${value.toFixed(2)} cores`;
}

function loads(values: number[]): string {
  return values.map((v) => v.toFixed(2)).join(' / ');
}

export function header(m: MachineInfo): string[] {
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts); regenerate rather than edit.',
    '',
    '| | |',
    '| --- | --- |',
    `| machine | ${m.cpuModel}, nproc ${m.nproc}, ${(m.memoryBytesTotal / 2 ** 30).toFixed(1)} GiB RAM, ${m.platform} |`,
    `| Node.js | ${m.nodeVersion} |`,
    `| date | ${m.dateIso} |`,
    `| commit | ${m.gitCommit} |`,
    `| load average (1 / 5 / 15 min) | at start ${loads(m.loadAverageAtStart)}; at end ${loads(m.loadAverageAtEnd)} |`,
    `| CPU used by other processes during the run | ${cores(m.otherProcessesCores)} (average; includes hypervisor steal) |`,
    `| whole run | ${m.elapsedSeconds.toFixed(0)} s |`,
    '',
    'ops/s and ±% (relative margin of error, 95%) are benny / Benchmark.js;',
    'mean µs/op is 1e6 / ops/s of the same samples. Percentiles come from',
    'hdr-histogram-js inside the suites. The load average counts the bench',
    'itself (one core, two in the cross-thread runs, plus fsync waits); the CPU',
    'used by other processes is the machine\'s busy time minus this process\'s.',
    '',
  ];
}

export function suiteSection(s: SuiteReport): string[] {
  const lines = [
    `## ${s.title}`,
    '',
    `${s.what}.`,
    `${s.elapsedSeconds.toFixed(0)} s; load average ${s.loadAverageAtStart.toFixed(2)} at its start; ` +
      `other processes used ${cores(s.otherProcessesCores)} meanwhile.`,
    '',
  ];
  if (s.error !== null) return [...lines, `**Failed:** \`${s.error}\``, ''];
  lines.push('| case | ops/s | ±% | mean µs/op |', '| --- | ---: | ---: | ---: |');
  for (const c of s.cases) {
    lines.push(`| ${c.name} | ${Math.round(c.ops).toLocaleString('en')} | ${c.margin.toFixed(2)} | ${significant(c.details.mean * 1e6)} |`);
  }
  lines.push('');
  if (s.extraLines.length > 0) lines.push(...s.extraLines, '');
  return lines;
}

export function resultsMarkdown(machine: MachineInfo, suites: SuiteReport[]): string {
  return [...header(machine), ...suites.flatMap(suiteSection)].join('\n');
}
