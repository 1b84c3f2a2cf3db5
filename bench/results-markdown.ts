/**
 * bench/RESULTS.md as text. The file has two sections between markers, each
 * written by its own command and replaced only by it (replaceSection):
 * the micro benchmarks (bench/run.ts: a header with machine, Node, date,
 * commit, load and, per suite, benny's cases as a table plus what the suite
 * measured beyond benny) and the end-to-end load (bench/load/main.ts,
 * bench/load/results-section.ts). Pure: the runners gather.
 */
import fs from 'node:fs';
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
  // Rounded first: 999.7 rounds up to 1000, which is then grouped like any value from 1,000 up.
  const rounded = Math.abs(value) >= 1000 ? Math.round(value) : Number(value.toPrecision(3));
  return Math.abs(rounded) >= 1000 ? rounded.toLocaleString('en') : rounded.toString();
}

function cores(value: number | null): string {
  return value === null ? 'unknown' : `${value.toFixed(2)} cores`;
}

function loads(values: number[]): string {
  return values.map((v) => v.toFixed(2)).join(' / ');
}

/** The machine and the run, as a two-column table (shared by both sections). */
export function machineTable(m: MachineInfo): string[] {
  return [
    '| | |',
    '| --- | --- |',
    `| machine | ${m.cpuModel}, nproc ${m.nproc}, ${(m.memoryBytesTotal / 2 ** 30).toFixed(1)} GiB RAM, ${m.platform} |`,
    `| Node.js | ${m.nodeVersion} |`,
    `| date | ${m.dateIso} |`,
    `| commit | ${m.gitCommit} |`,
    `| load average (1 / 5 / 15 min) | at start ${loads(m.loadAverageAtStart)}; at end ${loads(m.loadAverageAtEnd)} |`,
    `| CPU used by other processes during the run | ${cores(m.otherProcessesCores)} (average; includes hypervisor steal) |`,
    `| whole run | ${m.elapsedSeconds.toFixed(0)} s |`,
  ];
}

function header(m: MachineInfo): string[] {
  return [
    '## Micro benchmarks',
    '',
    'Written by `npm run bench` (bench/run.ts).',
    '',
    ...machineTable(m),
    '',
    'ops/s and ±% (relative margin of error, 95%) are benny / Benchmark.js;',
    'mean µs/op is 1e6 / ops/s of the same samples. Percentiles come from',
    'hdr-histogram-js inside the suites. The load average counts the bench',
    'itself (one core, two in the cross-thread runs, plus fsync waits); the CPU',
    'used by other processes is the machine\'s busy time minus this process\'s.',
    '',
  ];
}

function suiteSection(s: SuiteReport): string[] {
  const lines = [
    `### ${s.title}`,
    '',
    `${s.what}.`,
    `${s.elapsedSeconds.toFixed(0)} s; load average ${s.loadAverageAtStart.toFixed(2)} at its start; ` +
      `other processes used ${cores(s.otherProcessesCores)} meanwhile.`,
    '',
  ];
  if (s.error !== null) return [...lines, `**Failed:** \`${s.error}\``, ''];
  if (s.cases.length > 0) {
    lines.push('| case | ops/s | ±% | mean µs/op |', '| --- | ---: | ---: | ---: |');
    for (const c of s.cases) {
      lines.push(`| ${c.name} | ${Math.round(c.ops).toLocaleString('en')} | ${c.margin.toFixed(2)} | ${significant(c.details.mean * 1e6)} |`);
    }
    lines.push('');
  }
  if (s.extraLines.length > 0) lines.push(...s.extraLines, '');
  return lines;
}

/** The micro benchmarks' section of RESULTS.md (see replaceSection). */
export function resultsMarkdown(machine: MachineInfo, suites: SuiteReport[]): string {
  return [...header(machine), ...suites.flatMap(suiteSection)].join('\n');
}

export type SectionName = 'micro' | 'load';
const sectionOrder: readonly SectionName[] = ['micro', 'load'];
const beginMarker = (name: SectionName): string => `<!-- BEGIN ${name} section: written by the bench, regenerate rather than edit -->`;
const endMarker = (name: SectionName): string => `<!-- END ${name} section -->`;

const fileTitle = [
  '# Benchmark results',
  '',
  'Two sections, each written by its own command and replaced only by it:',
  '[micro benchmarks](#micro-benchmarks) (`npm run bench`) and',
  '[end-to-end load](#end-to-end-load) (`npm run bench:load`). What follows',
  'them is written by hand (analysis from profiles, each figure with its',
  'date) and kept as it is when a section is rewritten.',
  '',
].join('\n');

/** What follows the last section's end marker: written by hand, kept across rewrites. */
function handWrittenTail(text: string): string {
  let end = -1;
  for (const name of sectionOrder) {
    const at = text.lastIndexOf(endMarker(name));
    if (at >= 0) end = Math.max(end, at + endMarker(name).length);
  }
  return end < 0 ? '' : text.slice(end).trim();
}

/** The body of each section found in `text` (a file written before the markers existed is all micro). */
function sectionsOf(text: string): Partial<Record<SectionName, string>> {
  const found: Partial<Record<SectionName, string>> = {};
  for (const name of sectionOrder) {
    const begin = text.indexOf(beginMarker(name));
    const end = text.indexOf(endMarker(name));
    if (begin >= 0 && end > begin) found[name] = text.slice(begin + beginMarker(name).length, end).trim();
  }
  if (Object.keys(found).length === 0 && text.startsWith('# Benchmark results')) {
    found.micro = text.replace(/^# Benchmark results\n/, '## Micro benchmarks\n').trim();
  }
  return found;
}

/** RESULTS.md with section `name` set to `body`, every other section and the hand-written tail as they were in `existing`. */
export function replaceSection(existing: string | null, name: SectionName, body: string): string {
  const sections = sectionsOf(existing ?? '');
  sections[name] = body.trim();
  const parts = [fileTitle];
  for (const n of sectionOrder) {
    const text = sections[n];
    if (text !== undefined) parts.push(beginMarker(n), '', text, '', endMarker(n), '');
  }
  const tail = handWrittenTail(existing ?? '');
  if (tail !== '') parts.push(tail, '');
  return parts.join('\n');
}

/** Rewrite section `name` of the results file at `file` (created when missing). */
export function writeSection(file: string, name: SectionName, body: string): void {
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  fs.writeFileSync(file, replaceSection(existing, name, body));
}
