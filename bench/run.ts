/**
 * Runs every bench suite in turn and writes its section of bench/RESULTS.md
 * (the load section, written by `npm run bench:load`, is left as it was).
 *
 *   npm run bench        (builds, then node dist/bench/run.js; ~2 minutes)
 *
 * Progress goes to stderr; benny's live output and what the suites print go
 * to stdout as well as into RESULTS.md (the lines a suite prints are kept
 * where it returns no structured percentiles). A suite that throws is
 * reported as failed and the run goes on; the exit code is then 1.
 * The journal suite writes into a fresh temp folder (SIGPLANE_BENCH_DIR or
 * the OS temp folder) and removes it.
 */
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import type { CaseResult, Summary } from 'benny/lib/internal/common-types';
import * as actorStep from './actors/actor-step.bench';
import * as macVerify from './engine/mac-verify.bench';
import * as ringBuffer from './engine/ring-buffer.bench';
import * as shardCore from './engine/shard-core.bench';
import * as copyBatch from './persistence/copy-batch.bench';
import * as journalAppend from './persistence/journal-append.bench';
import * as shipOutage from './persistence/ship-outage.bench';
import * as frameCodec from './proto/frame-codec.bench';
import * as masterSignal from './io/master-signal.bench';
import { machineInfo } from './load/machine-info';
import { cpuMark, fsTypeOf, otherProcessesCores } from './machine';
import { resultsMarkdown, significant, writeSection, type MachineInfo, type SuiteReport } from './results-markdown';

/** What a suite's run() gives: benny's cases (none for a scenario that is not a benny suite), and whatever else it measured. */
type SuiteResult = Pick<Summary, 'results'>;

interface SuiteSpec<R extends SuiteResult> {
  title: string;
  what: string;
  run: () => Promise<R>;
  /** Markdown after the table, from the suite's result and the lines it printed. */
  extra: (result: R, printedLines: string[]) => string[];
}

/** A suite with its result type erased: its cases and how to describe the rest. */
interface RunnableSuite {
  title: string;
  what: string;
  run: () => Promise<{ cases: CaseResult[]; extra: (printedLines: string[]) => string[] }>;
}

function runnable<R extends SuiteResult>(spec: SuiteSpec<R>): RunnableSuite {
  return {
    title: spec.title,
    what: spec.what,
    run: async () => {
      const result = await spec.run();
      return { cases: result.results, extra: (printedLines) => spec.extra(result, printedLines) };
    },
  };
}

const noExtra = (): string[] => [];

function ringExtra(result: Awaited<ReturnType<typeof ringBuffer.run>>): string[] {
  const lines = [
    'Across threads (64 B records; latency one-way, µs, HDR):',
    '',
    '| scenario | records/s | MB/s | p50 | p90 | p99 | p99.9 | max | consumer sleeps |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of result.crossThread) {
    const l = r.latencyUs;
    lines.push(
      `| ${r.name} | ${r.recordsPerSecond.toLocaleString('en')} | ${r.megabytesPerSecond === 0 ? '< 1' : r.megabytesPerSecond} | ${significant(l.p50)} | ` +
        `${significant(l.p90)} | ${significant(l.p99)} | ${significant(l.p999)} | ${significant(l.max)} | ${r.consumerSleeps} |`,
    );
  }
  return lines;
}

function frameCodecExtra(result: Awaited<ReturnType<typeof frameCodec.run>>): string[] {
  const s = result.sizes;
  return [
    `Sizes: v1 frame ${s.v1FrameBytes} B, v2 Signed frame ${s.v2FrameBytes} B (body ${s.v2BodyBytes} B), ` +
      `delivery frame ${s.deliveryFrameBytes} B, ring record of a signal ${s.inboundRecordBytes} B.`,
  ];
}

function outageExtra(result: Awaited<ReturnType<typeof shipOutage.run>>): string[] {
  const o = result.outage;
  const seconds = (value: number | null, none: string): string => (value === null ? none : `${value.toFixed(2)} s`);
  return [
    `A master sends ${o.ratePerSecond.toLocaleString('en')} signals/s for ${(o.signalsSent / o.ratePerSecond).toFixed(0)} s; Postgres is down for ${o.outageSeconds} s of it.`,
    '',
    '| signals sent | acked | refused | acked while Postgres was down | delivered (while down) | backlog when Postgres came back | shipping resumed after | backlog shipped after | rows in Postgres | lost | duplicated |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${o.signalsSent.toLocaleString('en')} | ${o.acked.toLocaleString('en')} | ${o.refused} | ${o.ackedDuringOutage.toLocaleString('en')} | ` +
      `${o.delivered.toLocaleString('en')} (${o.deliveredDuringOutage.toLocaleString('en')}) | ${o.backlogAtRestart.toLocaleString('en')} rows | ` +
      `${seconds(o.resumeSeconds, 'never')} | ${seconds(o.drainSeconds, 'not drained')} | ` +
      `${o.rowsInPostgres.toLocaleString('en')} | ${o.lost} | ${o.duplicated} |`,
    '',
    'Times are from Postgres accepting connections again, while the load goes on; "backlog shipped" is when every signal acked by then was in Postgres. ' +
      'Shipping resumes on the shipper\'s reconnect backoff (shipRetryInitialMs doubling to shipReconnectMaxMs). ' +
      '"lost" counts acked signals missing from Postgres at the end; "duplicated" rows beyond one per sequence.',
  ];
}

/** benny's own console lines (suite start and end), left out of RESULTS.md. */
const bennyLine = /^(Running ".*" suite\.\.\.|Finished \d+ cases?!|  (Fastest|Slowest): )/;

function printedExtra(_: SuiteResult, printedLines: string[]): string[] {
  const kept = printedLines.filter((line) => line.trim() !== '' && !bennyLine.test(line));
  return kept.length === 0 ? [] : ['Printed by the suite:', '', '```', ...kept, '```'];
}

function journalWhat(): string {
  const dir = process.env.SIGPLANE_BENCH_DIR ?? os.tmpdir();
  return `persistence/journal-append.bench.ts: one journal commit of N signals on real SQLite files in ${dir} (${fsTypeOf(dir)})`;
}

const suites: RunnableSuite[] = [
  runnable({
    title: 'ring-buffer',
    what: 'engine/ring-buffer.bench.ts: SharedArrayBuffer SPSC ring, one thread (benny) and across threads',
    run: ringBuffer.run,
    extra: ringExtra,
  }),
  runnable({
    title: 'mac-verify',
    what: 'engine/mac-verify.bench.ts: v1 and v2 MAC verification per signal',
    run: macVerify.run,
    extra: noExtra,
  }),
  runnable({
    title: 'frame-codec',
    what: 'proto/frame-codec.bench.ts: protobuf frames and the ring record of a signal, per signal',
    run: frameCodec.run,
    extra: frameCodecExtra,
  }),
  runnable({
    title: 'master-signal',
    what: "io/master-signal.bench.ts: a master's signal on the I/O thread, decoded frame to SignalRecord (MAC, body, field rules, freshness)",
    run: masterSignal.run,
    extra: noExtra,
  }),
  runnable({
    title: 'actor-step',
    what: 'actors/actor-step.bench.ts: one subscription-actor step for an in-order v1 signal',
    run: actorStep.run,
    extra: noExtra,
  }),
  runnable({
    title: 'shard-core',
    what: 'engine/shard-core.bench.ts: a shard\'s batch of in-order v1 signals without its thread (decode, actor, one journal commit with sync normal, outbound records encoded)',
    run: shardCore.run,
    extra: printedExtra,
  }),
  runnable({ title: 'journal-append', what: journalWhat(), run: journalAppend.run, extra: printedExtra }),
  runnable({
    title: 'copy-batch',
    what: 'persistence/copy-batch.bench.ts: one shipping transaction (binary COPY into signals, watermark) into Postgres, and the shipper draining a journal ' +
      '(Postgres is another process: its work counts as other processes\' CPU here)',
    run: copyBatch.run,
    extra: printedExtra,
  }),
  runnable({
    title: 'ship-outage',
    what:
      'persistence/ship-outage.bench.ts: `sigplane serve` under a steady signal load while its (embedded) Postgres is stopped ' +
      'and started again; then every acked signal is looked up in Postgres',
    run: shipOutage.run,
    extra: outageExtra,
  }),
];

/** Runs `fn` while keeping a copy of every console.log line. */
async function capturingConsole<T>(fn: () => Promise<T>): Promise<{ value: T; printedLines: string[] }> {
  const printedLines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]): void => {
    printedLines.push(...format(...args).split('\n'));
    original(...args);
  };
  try {
    return { value: await fn(), printedLines };
  } finally {
    console.log = original;
  }
}

async function runSuite(spec: RunnableSuite, index: number): Promise<SuiteReport> {
  process.stderr.write(`bench: ${spec.title} (${index + 1}/${suites.length})…\n`);
  const startMs = Date.now();
  const startCpu = cpuMark();
  const report: SuiteReport = {
    title: spec.title,
    what: spec.what,
    elapsedSeconds: 0,
    loadAverageAtStart: os.loadavg()[0],
    otherProcessesCores: null,
    cases: [],
    extraLines: [],
    error: null,
  };
  try {
    const { value, printedLines } = await capturingConsole(spec.run);
    report.cases = value.cases;
    report.extraLines = value.extra(printedLines);
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: ${spec.title} failed: ${report.error}\n`);
  }
  report.elapsedSeconds = (Date.now() - startMs) / 1000;
  report.otherProcessesCores = otherProcessesCores(startCpu, cpuMark());
  const others = report.otherProcessesCores === null ? 'unknown' : report.otherProcessesCores.toFixed(2);
  process.stderr.write(`bench: ${spec.title} took ${report.elapsedSeconds.toFixed(0)} s; other processes used ${others} cores\n`);
  return report;
}

async function main(): Promise<void> {
  // dist/bench/run.js when built, bench/run.ts when run from source.
  const root = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : '../..');
  const startMs = Date.now();
  const startCpu = cpuMark();
  const loadAverageAtStart = os.loadavg();
  process.stderr.write(`bench: load average ${loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}\n`);
  const reports: SuiteReport[] = [];
  for (const [index, spec] of suites.entries()) reports.push(await runSuite(spec, index));
  const machine: MachineInfo = machineInfo(root, startMs, loadAverageAtStart, otherProcessesCores(startCpu, cpuMark()));
  const resultsPath = path.join(root, 'bench', 'RESULTS.md');
  writeSection(resultsPath, 'micro', resultsMarkdown(machine, reports));
  process.stderr.write(`bench: wrote ${resultsPath} in ${machine.elapsedSeconds.toFixed(0)} s\n`);
  if (reports.some((r) => r.error !== null)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
