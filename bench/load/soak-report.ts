/**
 * The memory soak's result as Markdown (soak-memory.ts runs it): the
 * machine, the workload, per minute the server's memory floors, whether
 * each series levels off, what kill -9 restarts did to it, and what one
 * subscription with a full delivery window costs. Pure: the runner gathers.
 */
import { machineTable, significant, type MachineInfo } from '../results-markdown';
import { floors, judgeTrend, type TrendPoint } from './memory-trend';
import type { ServerMemorySample, ThreadMemorySample } from './server-memory';

export interface SoakPhaseSample extends ServerMemorySample {
  /** rest, steady, kill9-1, ..., full-subscriptions */
  phase: string;
}

export interface SoakResult {
  machine: MachineInfo;
  command: string;
  workload: { ratePerSecond: number; subscriptions: number; receiversPerSubscription: number; minutes: number; journalSync: string; shards: number; receiverAckEvery: number };
  samples: SoakPhaseSample[];
  restarts: { index: number; atMs: number }[];
  /** Extra subscriptions each filled past its delivery window, idle, and the server's memory before and after them. */
  fullSubscriptions: { count: number; signalsEach: number; before: ServerMemorySample; after: ServerMemorySample } | null;
  clients: { signalsAcked: number; busy: number; refused: Record<string, number>; deliveries: number; duplicates: number; gaps: number; snapshots: number; reconnects: number };
}

/** A series levels off when its per-minute floors rise by at most this over the last half of the steady phase. */
export const levelOffSlopeBytesPerMinuteMax = 1024 * 1024;
const minuteMs = 60_000;

const mib = (bytes: number): string => significant(bytes / 2 ** 20);
const kib = (bytes: number): string => significant(bytes / 1024);

type Series = { name: string; value: (s: ServerMemorySample) => number | undefined };

function seriesOf(samples: readonly ServerMemorySample[]): Series[] {
  const threads = [...new Set(samples.flatMap((s) => Object.keys(s.threads)))].sort();
  const out: Series[] = [
    { name: 'RSS (process)', value: (s) => s.rssBytes },
    { name: 'RSS anonymous (process)', value: (s) => s.rssAnonBytes },
  ];
  const fields: [keyof ThreadMemorySample, string][] = [
    ['heapUsedBytes', 'heap used'],
    ['externalBytes', 'external'],
    ['arrayBuffersBytes', 'arrayBuffers'],
  ];
  for (const [field, label] of fields) {
    for (const thread of threads) out.push({ name: `${label} (${thread})`, value: (s) => s.threads[thread]?.[field] });
  }
  return out;
}

function points(samples: readonly ServerMemorySample[], series: Series): TrendPoint[] {
  return samples.flatMap((s) => {
    const value = series.value(s);
    return value === undefined ? [] : [{ atMs: s.atMs, value }];
  });
}

function minuteTable(steady: readonly SoakPhaseSample[]): string[] {
  const threads = [...new Set(steady.flatMap((s) => Object.keys(s.threads)))].sort();
  const lines = [
    `| minute | signals/s | RSS floor / peak, MiB | ${threads.map((t) => `heap used floor ${t}, MiB`).join(' | ')} | ${threads.map((t) => `external ${t}, MiB`).join(' | ')} |`,
    `| ---: | ---: | ---: | ${threads.map(() => '---:').join(' | ')} | ${threads.map(() => '---:').join(' | ')} |`,
  ];
  const startMs = steady[0]!.atMs;
  const byMinute = new Map<number, SoakPhaseSample[]>();
  for (const s of steady) {
    const minute = Math.floor((s.atMs - startMs) / minuteMs);
    byMinute.set(minute, [...(byMinute.get(minute) ?? []), s]);
  }
  for (const [minute, group] of byMinute) {
    const first = group[0]!;
    const last = group[group.length - 1]!;
    const seconds = (last.atMs - first.atMs) / 1000;
    const rate = seconds > 0 ? (last.signalsAccepted - first.signalsAccepted) / seconds : 0;
    const rss = group.map((s) => s.rssBytes);
    const heap = threads.map((t) => mib(Math.min(...group.map((s) => s.threads[t]?.heapUsedBytes ?? Infinity))));
    const external = threads.map((t) => mib(Math.min(...group.map((s) => s.threads[t]?.externalBytes ?? Infinity))));
    lines.push(`| ${minute + 1} | ${significant(rate)} | ${mib(Math.min(...rss))} / ${mib(Math.max(...rss))} | ${heap.join(' | ')} | ${external.join(' | ')} |`);
  }
  return lines;
}

function verdictTable(steady: readonly SoakPhaseSample[]): { lines: string[]; allLevelOff: boolean } {
  const lines = [
    '| series | first minute floor, MiB | last minute floor, MiB | slope, whole run | slope, last half | levels off |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  let allLevelOff = true;
  for (const series of seriesOf(steady)) {
    const p = points(steady, series);
    if (floors(p, minuteMs).length < 4) continue;
    const v = judgeTrend(p, minuteMs, levelOffSlopeBytesPerMinuteMax);
    allLevelOff &&= v.levelsOff;
    lines.push(
      `| ${series.name} | ${mib(v.firstFloor)} | ${mib(v.lastFloor)} | ${kib(v.wholeSlopePerMinute)} KiB/min | ${kib(v.lastHalfSlopePerMinute)} KiB/min | ${v.levelsOff ? 'yes' : '**no**'} |`,
    );
  }
  return { lines, allLevelOff };
}

function restartTable(result: SoakResult): string[] {
  const lines = ['| phase | samples | RSS first / floor / peak, MiB | heap used floor per thread, MiB |', '| --- | ---: | ---: | --- |'];
  const phases = [...new Set(result.samples.map((s) => s.phase))].filter((p) => p !== 'rest');
  for (const phase of phases) {
    const group = result.samples.filter((s) => s.phase === phase);
    const rss = group.map((s) => s.rssBytes);
    const threads = [...new Set(group.flatMap((s) => Object.keys(s.threads)))].sort();
    const heaps = threads.map((t) => `${t} ${mib(Math.min(...group.map((s) => s.threads[t]?.heapUsedBytes ?? Infinity)))}`).join(', ');
    lines.push(`| ${phase} | ${group.length} | ${mib(rss[0]!)} / ${mib(Math.min(...rss))} / ${mib(Math.max(...rss))} | ${heaps} |`);
  }
  return lines;
}

function restSummary(rest: readonly SoakPhaseSample[]): string {
  if (rest.length === 0) return 'No samples at rest.';
  const last = rest[rest.length - 1]!;
  const heaps = Object.entries(last.threads)
    .sort()
    .map(([t, m]) => `${t} heap ${mib(m.heapUsedBytes)} MiB`)
    .join(', ');
  return `At rest (started, no connection, ${rest.length} samples): RSS ${mib(Math.min(...rest.map((s) => s.rssBytes)))}–${mib(Math.max(...rest.map((s) => s.rssBytes)))} MiB; ${heaps}.`;
}

function fullSubscriptionsLines(f: NonNullable<SoakResult['fullSubscriptions']>): string[] {
  const perSub = (pick: (s: ServerMemorySample) => number): string => kib((pick(f.after) - pick(f.before)) / f.count);
  const shards = Object.keys(f.after.threads).filter((t) => t.startsWith('shard-'));
  const shardHeap = (s: ServerMemorySample): number => shards.reduce((sum, t) => sum + (s.threads[t]?.heapUsedBytes ?? 0), 0);
  return [
    `${f.count} more subscriptions, each sent ${f.signalsEach.toLocaleString('en')} signals (its delivery window full) and then left idle, no receiver`,
    `(delivery windows ${f.before.windowRecords.toLocaleString('en')} -> ${f.after.windowRecords.toLocaleString('en')} signals):`,
    `RSS ${mib(f.before.rssBytes)} -> ${mib(f.after.rssBytes)} MiB, ${perSub((s) => s.rssBytes)} KiB per subscription;`,
    `shard heap used ${mib(shardHeap(f.before))} -> ${mib(shardHeap(f.after))} MiB, ${perSub(shardHeap)} KiB per subscription`,
    '(each figure the floor of 15 samples a second apart, before and after).',
  ];
}

export function soakMarkdown(result: SoakResult): string {
  const w = result.workload;
  const steady = result.samples.filter((s) => s.phase === 'steady');
  const rest = result.samples.filter((s) => s.phase === 'rest');
  const verdict = verdictTable(steady);
  const c = result.clients;
  const lines = [
    `### Memory soak, ${result.machine.dateIso.slice(0, 10)}`,
    '',
    `Written by \`${result.command}\` (bench/load/soak-memory.ts).`,
    '',
    ...machineTable(result.machine),
    '',
    `\`sigplane serve\` in its own process (${w.shards} shard worker${w.shards === 1 ? '' : 's'}, journal sync ${w.journalSync}, shipper to Postgres on),`,
    `${significant(w.ratePerSecond)} signed v1 signals/s over ${w.subscriptions} subscriptions, ${w.receiversPerSubscription} receivers each (acking every ${w.receiverAckEvery}),`,
    `for ${w.minutes} minutes; then ${result.restarts.length} kill -9 restarts under the same load.`,
    'Memory is sampled from /proc (RSS) and the server\'s /metrics (per thread: V8 heap used, external, arrayBuffers).',
    'A heap saws with each collection: the tables give each minute\'s floor (its lowest sample).',
    '',
    restSummary(rest),
    '',
    '#### Steady load, per minute',
    '',
    ...minuteTable(steady),
    '',
    `#### Does it level off? (floors per minute; a series levels off when they rise by at most ${kib(levelOffSlopeBytesPerMinuteMax)} KiB/min over the last half)`,
    '',
    ...verdict.lines,
    '',
    verdict.lines.length === 2
      ? '**Too short for a verdict: it needs four minutes of steady load.**'
      : `**${verdict.allLevelOff ? 'Every series levels off.' : 'Not every series levels off (see "no" above).'}**`,
    '',
    '#### Phases, including the kill -9 restarts',
    '',
    ...restartTable(result),
    '',
  ];
  if (result.fullSubscriptions !== null) lines.push('#### Memory per subscription', '', ...fullSubscriptionsLines(result.fullSubscriptions), '');
  lines.push(
    '#### The clients',
    '',
    `Signals acked ${c.signalsAcked.toLocaleString('en')}, BUSY ${c.busy}, refused ${JSON.stringify(c.refused)}; ` +
      `deliveries ${c.deliveries.toLocaleString('en')}, duplicates ${c.duplicates}, gaps ${c.gaps}, snapshots ${c.snapshots}; reconnects ${c.reconnects}.`,
    '',
  );
  return lines.join('\n');
}
