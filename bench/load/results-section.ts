/**
 * The end-to-end load section of bench/RESULTS.md, as text. Pure: main.ts
 * gathers the report. Latency figures are microseconds from a signal's due
 * time (open loop); each comparison cell is the median of the rounds with
 * the spread (min-max) beside the headline percentiles and rates. A run
 * has one or two pin modes (pinning.ts); each has its own targets table
 * (issue 16's targets, judged on that mode's medians) and its own tables.
 */
import { machineTable, significant, type MachineInfo } from '../results-markdown';
import { backlogGrowthMaxUs, backlogGrowthUs, keepsUp, keepUpP99MaxUs, noGrowingBacklog } from './keep-up';
import type { PinMode } from './pinning';
import { serverCpu, loadCpu } from './pinning';
import { spreadOf, systemsIn, type CompareResult, type Spread } from './suites/compare';
import type { IdleCpuResult } from './suites/idle-cpu';
import type { IdleMemoryResult } from './suites/idle-memory';
import { p99TargetUs, sustainedAckedShareMin, sustainedAckP99MaxUs, type RateSearchResult } from './suites/rate-search';
import { serverCpuUsPerDelivery, unacceptedSignals, type RunResult } from './run-workload';
import type { Durability } from './system';
import { describeWorkload, type SystemName } from './workload';

/** What one pin mode of a run measured. */
export interface ModeResults {
  pin: PinMode;
  compare: CompareResult | null;
  ingest: CompareResult | null;
  /** sigplane's highest sustained ingest rate. */
  ingestSearch?: RateSearchResult | null;
  fanOut: CompareResult | null;
  rateSearch: RateSearchResult[] | null;
  idleCpu: IdleCpuResult[] | null;
}

export interface LoadReport {
  machine: MachineInfo;
  mode: 'quick' | 'full';
  command: string;
  systems: { name: SystemName; description: string; durability: Durability }[];
  signalBytes: number;
  warmupMs: number;
  durationMs: number;
  /** One per pin mode run, pinned first. */
  modes: ModeResults[];
  /** Memory per idle receiver connection (measured once, on fresh servers: memory does not depend on pinning). */
  idle: IdleMemoryResult[] | null;
  /** Chart files, relative to bench/. */
  charts: { title: string; file: string }[];
  errors: string[];
}

/** Issue 16's figures from 2026-12-07 that a target keeps: memory per idle receiver connection. */
const idleReceiverBytesMax = 6.6 * 1024;
/** Idle server CPU below this share of one core. */
const idleCoresMax = 0.01;
/** Server CPU per delivery at most this many times NATS core's. */
const cpuPerDeliveryVsNatsMax = 2;
/** Journal sync normal: p50 within this many times NATS core's. */
const syncNormalP50VsNatsMax = 1.5;

const us = (v: number): string => significant(v);
const mib = (bytes: number | null): string => (bytes === null || !Number.isFinite(bytes) ? '?' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
const coresText = (v: number | null): string => (v === null || !Number.isFinite(v) ? '?' : v.toFixed(2));
const percentText = (cores: number | null): string => (cores === null ? '?' : `${(cores * 100).toFixed(2)}%`);
const yesNo = (met: boolean): string => (met ? 'yes' : 'no');

/** The median, with (min–max) when they differ as printed. */
function spreadText(s: Spread): string {
  const [median, min, max] = [us(s.median), us(s.min), us(s.max)];
  return min === max ? median : `${median} (${min}–${max})`;
}

function spreadBy(runs: RunResult[], pick: (r: RunResult) => number): Spread {
  return spreadOf(runs.map(pick));
}

function ratio(value: number, base: number): string {
  if (!(base > 0) || !Number.isFinite(value)) return '–';
  return `${(value / base).toFixed(2)}x`;
}

/** The median of a figure over the rounds that have it (null: none has). */
function medianOf(runs: RunResult[] | undefined, pick: (r: RunResult) => number | null): number | null {
  const values = (runs ?? []).map(pick).filter((v): v is number => v !== null && Number.isFinite(v));
  return values.length === 0 ? null : spreadOf(values).median;
}

/** A system's name with what its ack means: "redis-streams (durable)". */
type Labeller = (name: SystemName) => string;

function labellerOf(r: LoadReport): Labeller {
  const durability = new Map(r.systems.map((s) => [s.name, s.durability]));
  return (name) => (durability.has(name) ? `${name} (${durability.get(name)})` : name);
}

/** "yes 3/3, +12": rounds with no growing backlog, then the median change of the p50 from the window's first second to its last (µs). */
function backlogText(runs: RunResult[]): string {
  const kept = runs.filter(noGrowingBacklog).length;
  const growth = medianOf(runs, backlogGrowthUs)!;
  return `${kept === runs.length ? 'yes' : kept === 0 ? 'no' : 'mixed'} ${kept}/${runs.length}, ${growth >= 0 ? '+' : ''}${us(growth)}`;
}

/**
 * Table of one workload across systems (median of rounds; spread on p50, p99, acked/s and deliveries/s).
 * CPU µs per delivery: server CPU over the window / deliveries in it; "vs NATS": over NATS core's in the same table.
 */
function workloadTable(byName: Record<string, RunResult[]>, names: SystemName[], label: Labeller): string[] {
  const lines = [
    '| system | delivery p50 | p90 | p99 | p99.9 | max | ack p50 | ack p99 | p50 / p99 vs sigplane | no growing backlog (rounds; p50 last s − first s, µs) | ' +
      'sent/s | acked/s | deliveries/s | lost | dup | server CPU | CPU µs / delivery | vs NATS | server peak memory | load CPU |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const base = byName.sigplane;
  const baseP50 = base === undefined ? NaN : spreadBy(base, (r) => r.delivery.p50Us).median;
  const baseP99 = base === undefined ? NaN : spreadBy(base, (r) => r.delivery.p99Us).median;
  const natsCpu = medianOf(byName.nats, serverCpuUsPerDelivery);
  for (const name of names) {
    const runs = byName[name];
    if (runs === undefined || runs.length === 0) continue;
    const med = (pick: (r: RunResult) => number): number => spreadBy(runs, pick).median;
    const p50 = spreadBy(runs, (r) => r.delivery.p50Us);
    const p99 = spreadBy(runs, (r) => r.delivery.p99Us);
    const saturated = runs.filter((r) => r.loadSaturation !== null).length;
    const mark = saturated > 0 ? ` †${saturated}/${runs.length}` : '';
    const flag = p99.median >= keepUpP99MaxUs ? ' ⚑' : '';
    const ratios = name === 'sigplane' ? '1 / 1' : `${ratio(p50.median, baseP50)} / ${ratio(p99.median, baseP99)}`;
    const cpu = medianOf(runs, serverCpuUsPerDelivery);
    lines.push(
      `| ${label(name)}${mark} | ${spreadText(p50)} | ${us(med((r) => r.delivery.p90Us))} | ${spreadText(p99)}${flag} | ${us(med((r) => r.delivery.p999Us))} | ` +
        `${us(med((r) => r.delivery.maxUs))} | ${us(med((r) => r.ack.p50Us))} | ${us(med((r) => r.ack.p99Us))} | ${ratios} | ${backlogText(runs)} | ` +
        `${significant(med((r) => r.sentPerSecond))} | ${spreadText(spreadBy(runs, (r) => r.ackedPerSecond))} | ${spreadText(spreadBy(runs, (r) => r.deliveriesPerSecond))} | ` +
        `${runs.reduce((n, r) => n + r.lost, 0)} | ${runs.reduce((n, r) => n + r.duplicates, 0)} | ` +
        `${coresText(medianOf(runs, (r) => r.serverCpuCores))} | ${cpu === null ? '?' : us(cpu)} | ${cpu === null || natsCpu === null ? '–' : ratio(cpu, natsCpu)} | ` +
        `${mib(medianOf(runs, (r) => r.serverPeakRssBytes))} | ${coresText(med((r) => r.loadCpuCores))} |`,
    );
  }
  return lines;
}

function compareSection(title: string, intro: string[], result: CompareResult, label: Labeller): string[] {
  const names = systemsIn(result);
  const lines = [`### ${title}`, '', ...intro, ''];
  if (result.failures.length > 0) lines.push('Runs that failed (left out of the medians):', '', ...result.failures.map((f) => `- ${f}`), '');
  if ((result.skipped ?? []).length > 0) lines.push('Not run:', '', ...result.skipped!.map((s) => `- ${s}`), '');
  for (const [i, w] of result.workloads.entries()) {
    lines.push(`**${describeWorkload(w)}** (${result.rounds} round${result.rounds === 1 ? '' : 's'})`, '', ...workloadTable(result.runs[i], names, label), '');
    const refused = names.flatMap((n) => (result.runs[i][n] ?? []).filter((r) => r.refused > 0).map((r) => `${n}: ${JSON.stringify(r.refusedCodes)}`));
    if (refused.length > 0) lines.push(`Refused by the system: ${refused.join('; ')}.`, '');
    const resent = names.flatMap((n) => (result.runs[i][n] ?? []).filter((r) => r.resent > 0).map((r) => `${n} ${r.resent}`));
    if (resent.length > 0) lines.push(`Signals sent again after BUSY (a full shard ring; each still counted from its first due time): ${resent.join(', ')}.`, '');
    const outOfOrder = names.flatMap((n) => (result.runs[i][n] ?? []).filter((r) => r.outOfOrder > 0).map((r) => `${n} ${r.outOfOrder}`));
    if (outOfOrder.length > 0) lines.push(`Delivered out of order: ${outOfOrder.join(', ')}.`, '');
    const reconnects = names.flatMap((n) => (result.runs[i][n] ?? []).filter((r) => r.receiverReconnects > 0).map((r) => `${n} ${r.receiverReconnects}`));
    if (reconnects.length > 0) lines.push(`Receivers the server closed (it closes a receiver too slow for its subscription with BACKPRESSURE), each resuming from its last sequence on a new connection: ${reconnects.join(', ')}.`, '');
    const why = names.flatMap((n) => (result.runs[i][n] ?? []).filter((r) => r.loadSaturation !== null).map((r) => `${n}: ${r.loadSaturation}`));
    if (why.length > 0) lines.push(`† load side may have been the bottleneck: ${[...new Set(why)].join('; ')}.`, '');
  }
  return lines;
}

function findWorkload(result: CompareResult | null, rate: number, receivers: number): Record<string, RunResult[]> | null {
  if (result === null) return null;
  const i = result.workloads.findIndex((w) => w.ratePerSecond === rate && w.receiversPerSubscription === receivers && w.subscriptions === 1);
  return i < 0 ? null : result.runs[i];
}

const p50Of = (x: RunResult): number => x.delivery.p50Us;
const p99Of = (x: RunResult): number => x.delivery.p99Us;

/**
 * Issue 16's targets, judged on the medians of one pin mode (memory per idle receiver: from `idle`, when given).
 * Beside each, the same figure of the floor (bench/load/floor/floor-server.ts: sigplane's shape with none of its
 * work) when it ran: a target the floor misses cannot be met in that shape on this machine.
 */
function targetLines(r: ModeResults, idle: IdleMemoryResult[] | null): string[] {
  const lines = ['| target | this run | the floor (sigplane\'s shape alone, same run) | met |', '| --- | --- | --- | :---: |'];
  const row = (target: string, measured: string, floor: string | null, met: boolean): void => {
    lines.push(`| ${target} | ${measured} | ${floor ?? 'not run'} | ${yesNo(met)} |`);
  };
  const at1k = findWorkload(r.compare, 1000, 10);
  const p50p99 = (runs: RunResult[] | undefined): string | null =>
    runs === undefined ? null : `${us(medianOf(runs, p50Of)!)} / ${us(medianOf(runs, p99Of)!)} µs`;
  if (at1k?.sigplane !== undefined && at1k['redis-streams'] !== undefined) {
    const [p50, p99] = [medianOf(at1k.sigplane, p50Of)!, medianOf(at1k.sigplane, p99Of)!];
    const [streamsP50, streamsP99] = [medianOf(at1k['redis-streams'], p50Of)!, medianOf(at1k['redis-streams'], p99Of)!];
    row(
      '1,000/s x 10, journal sync full: p50 and p99 at or below Redis Streams with appendfsync always',
      `sigplane ${us(p50)} / ${us(p99)} µs; Redis Streams ${us(streamsP50)} / ${us(streamsP99)} µs`,
      p50p99(at1k.floor),
      p50 <= streamsP50 && p99 <= streamsP99,
    );
  }
  if (at1k?.['sigplane-sync-normal'] !== undefined && at1k.nats !== undefined) {
    const p50 = medianOf(at1k['sigplane-sync-normal'], p50Of)!;
    const nats = medianOf(at1k.nats, p50Of)!;
    // The floor with sync normal where it ran; else the floor's sync full figure, an upper bound of it.
    const floorNormal = medianOf(at1k['floor-sync-normal'], p50Of);
    const floorFull = medianOf(at1k.floor, p50Of);
    const floor =
      floorNormal !== null
        ? `${us(floorNormal)} µs (${ratio(floorNormal, nats)}; journal sync normal)`
        : floorFull === null
          ? null
          : `${us(floorFull)} µs (${ratio(floorFull, nats)}; its journal syncs full)`;
    row(
      `1,000/s x 10, journal sync normal: p50 within ${syncNormalP50VsNatsMax}x of NATS core`,
      `sigplane (sync normal) ${us(p50)} µs; NATS ${us(nats)} µs (${ratio(p50, nats)})`,
      floor,
      p50 <= syncNormalP50VsNatsMax * nats,
    );
  }
  for (const rate of [1_000, 5_000]) {
    const at = findWorkload(r.compare, rate, 10);
    const [cpu, nats] = [medianOf(at?.sigplane, serverCpuUsPerDelivery), medianOf(at?.nats, serverCpuUsPerDelivery)];
    if (cpu === null || nats === null) continue;
    const floor = medianOf(at?.floor, serverCpuUsPerDelivery);
    row(
      `${significant(rate)}/s x 10: server CPU per delivery at or below ${cpuPerDeliveryVsNatsMax}x NATS's`,
      `sigplane ${us(cpu)} µs; NATS ${us(nats)} µs (${ratio(cpu, nats)})`,
      floor === null ? null : `${us(floor)} µs (${ratio(floor, nats)})`,
      cpu <= cpuPerDeliveryVsNatsMax * nats,
    );
  }
  const idleSigplane = r.idleCpu?.find((x) => x.system === 'sigplane');
  if (idleSigplane !== undefined && idleSigplane.idleCores !== null) {
    const nats = r.idleCpu?.find((x) => x.system === 'nats');
    const floor = r.idleCpu?.find((x) => x.system === 'floor');
    row(
      `idle server CPU below ${idleCoresMax * 100}% of a core (1 master, ${idleSigplane.receivers} receivers, no traffic)`,
      `sigplane ${percentText(idleSigplane.idleCores)} (at ${idleSigplane.lowRatePerSecond}/s ${percentText(idleSigplane.lowRateCores)}); ` +
        `NATS ${percentText(nats?.idleCores ?? null)} (${percentText(nats?.lowRateCores ?? null)})`,
      floor === undefined ? null : `${percentText(floor.idleCores)} (${percentText(floor.lowRateCores)})`,
      idleSigplane.idleCores < idleCoresMax,
    );
  }
  for (const rate of [5_000, 10_000]) {
    const at = findWorkload(r.compare, rate, 10);
    const runs = at?.sigplane;
    if (runs === undefined) continue;
    const p99 = medianOf(runs, p99Of)!;
    const growth = medianOf(runs, backlogGrowthUs)!;
    const kept = runs.filter(keepsUp).length;
    const floor = at?.floor;
    row(
      `${significant(rate)}/s x 10${r.pin === 'pinned' ? ' on one pinned core' : ''} keeps up: no growing backlog, p99 under ${us(keepUpP99MaxUs / 1000)} ms`,
      `p50 of the last second − the first ${growth >= 0 ? '+' : ''}${us(growth)} µs (limit ${us(backlogGrowthMaxUs)}); p99 ${us(p99)} µs; kept up in ${kept}/${runs.length} rounds`,
      floor === undefined ? null : `p99 ${us(medianOf(floor, p99Of)!)} µs; kept up in ${floor.filter(keepsUp).length}/${floor.length} rounds`,
      growth <= backlogGrowthMaxUs && runs.every((x) => x.lost === 0) && p99 < keepUpP99MaxUs,
    );
  }
  // Issue 16: at or above NATS's acked rate in the same run (issue 5 asked for 50,000/s).
  const natsAcked = r.ingest === null ? null : medianOf(r.ingest.runs[0]?.nats, (x) => x.ackedPerSecond);
  const ingestBar = natsAcked ?? Infinity;
  const ingest = r.ingest === null ? undefined : r.ingest.runs[0]?.sigplane;
  if (ingest !== undefined && r.ingest !== null) {
    const rate = r.ingest.workloads[0].ratePerSecond;
    const ackedSpread = spreadBy(ingest, (x) => x.ackedPerSecond);
    const acked = ackedSpread.median;
    const lost = ingest.reduce((n, x) => n + x.lost + x.duplicates + x.refused, 0);
    const unaccepted = ingest.reduce((n, x) => n + unacceptedSignals(x), 0);
    const lostOfUnaccepted = ingest.reduce((n, x) => n + unacceptedSignals(x) * x.workload.receiversPerSubscription, 0);
    const lostDeliveries = ingest.reduce((n, x) => n + x.lost, 0);
    const search = r.ingestSearch ?? null;
    const sustained = search === null ? null : search.bestRatePerSecond;
    // With the search: the highest rate sigplane keeps up with and, at saturation, nothing duplicated or
    // refused and every lost delivery one of a signal never accepted (none lost after an ack).
    // Without it (a report saved before it existed): what was acked at the offered rate.
    const met =
      search === null
        ? rate >= ingestBar && acked >= sustainedAckedShareMin * ingestBar && lost === 0
        : sustained !== null && sustained >= ingestBar && ingest.every((x) => x.duplicates === 0 && x.refused === 0) && lostDeliveries === lostOfUnaccepted;
    const sustainedText =
      search === null ? '' : `sustained ${sustained === null ? `< ${significant(search.probes[0]?.workload.ratePerSecond ?? 0)}` : significant(sustained)}/s (see below); `;
    const why =
      unaccepted === 0
        ? ''
        : lostDeliveries === lostOfUnaccepted
          ? ` (every lost delivery is of the ${unaccepted} signals never accepted by the end, held back by BUSY: none lost after an ack)`
          : ` (${unaccepted} signals were never accepted by the end, held back by BUSY)`;
    const floor = r.ingest.runs[0]?.floor;
    row(
      `sustained ingest, signed and journaled, nothing lost: at or above NATS's acked rate in the same run (${natsAcked === null ? 'NATS not run' : `${significant(natsAcked)}/s`})`,
      `${sustainedText}offered ${significant(rate)}/s, acked ${spreadText(ackedSpread)}/s${ingest.length > 1 ? ` (median of ${ingest.length} rounds, min–max)` : ''}, lost+dup+refused ${lost}${why}`,
      floor === undefined ? null : `acked ${spreadText(spreadBy(floor, (x) => x.ackedPerSecond))}/s (not signed, nothing checked)`,
      met,
    );
  }
  const fanOut = r.fanOut === null ? null : findWorkload(r.fanOut, 100, 1_000);
  if (fanOut?.sigplane !== undefined && fanOut.nats !== undefined) {
    const [p99, nats] = [medianOf(fanOut.sigplane, p99Of)!, medianOf(fanOut.nats, p99Of)!];
    const floor = medianOf(fanOut.floor, p99Of);
    row(
      "fan-out, 1,000 receivers on one subscription at 100/s: p99 at or below NATS's",
      `sigplane ${us(p99)} µs; NATS ${us(nats)} µs`,
      floor === null ? null : `${us(floor)} µs`,
      p99 <= nats,
    );
  }
  const memory = idle?.find((x) => x.system === 'sigplane');
  if (memory !== undefined && memory.bytesPerConnection !== null) {
    const floor = idle?.find((x) => x.system === 'floor')?.bytesPerConnection ?? null;
    row(
      `server memory per idle receiver connection at or below ${(idleReceiverBytesMax / 1024).toFixed(1)} KiB`,
      `${(memory.bytesPerConnection / 1024).toFixed(1)} KiB (${memory.receivers.toLocaleString('en')} receivers)`,
      floor === null ? null : `${(floor / 1024).toFixed(1)} KiB`,
      memory.bytesPerConnection <= idleReceiverBytesMax,
    );
  }
  return lines;
}

function rateSearchSection(results: RateSearchResult[]): string[] {
  const lines = [
    '### Rate search (sigplane)',
    '',
    `Highest rate (signals/s, all subscriptions together) at which delivery p99 stays under ${p99TargetUs} µs with nothing lost, duplicated or refused.`,
    'Rates double until a probe fails, then the gap is bisected; each probe is a full run with its own subscriptions.',
    '',
    '| subscriptions | receivers each | highest passing rate | its deliveries/s | its p50 / p99 (µs) | first failing probe | load side |',
    '| ---: | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const r of results) {
    const best = r.best;
    const fail = r.firstFailure;
    const failText =
      fail === null
        ? 'none up to the cap'
        : `${significant(fail.workload.ratePerSecond)}/s: p99 ${us(fail.delivery.p99Us)} µs, lost ${fail.lost}, refused ${fail.refused}`;
    const loadText = [best, fail].filter((x): x is RunResult => x !== null && x.loadSaturation !== null).map((x) => `† at ${significant(x.workload.ratePerSecond)}/s: ${x.loadSaturation}`);
    lines.push(
      `| ${r.subscriptions} | ${r.receiversPerSubscription} | ${r.bestRatePerSecond === null ? `< ${significant(r.probes[0]?.workload.ratePerSecond ?? 0)}` : significant(r.bestRatePerSecond)} | ` +
        `${best === null ? '–' : significant(best.deliveriesPerSecond)} | ${best === null ? '–' : `${us(best.delivery.p50Us)} / ${us(best.delivery.p99Us)}`} | ${failText} | ${loadText.length === 0 ? 'ok' : loadText.join('; ')} |`,
    );
  }
  return [...lines, ''];
}

/** sigplane's highest sustained ingest rate, below the saturated ingest table. */
function sustainedIngestLines(r: RateSearchResult): string[] {
  const best = r.best;
  const fail = r.firstFailure;
  const why = (x: RunResult): string =>
    `acked ${significant(x.ackedPerSecond)}/s, ack p99 ${us(x.ack.p99Us)} µs, sent again after BUSY ${x.resent}, lost ${x.lost}, refused ${x.refused}`;
  const loadText = [best, fail].filter((x): x is RunResult => x !== null && x.loadSaturation !== null).map((x) => `† at ${significant(x.workload.ratePerSecond)}/s: ${x.loadSaturation}`);
  return [
    `**Highest sustained rate (sigplane)**: the highest offered rate at which every signal is acked inside the window (at least ${sustainedAckedShareMin * 100} % of the rate), none is answered BUSY or refused, nothing is lost and the ack p99 stays under ${us(sustainedAckP99MaxUs / 1000)} ms (a server that falls behind queues more every second). ` +
      'Rates double until a probe fails, then the gap is bisected; one subscription, one receiver, each probe a full run.',
    '',
    '| highest sustained rate | its ack p50 / p99 (µs) | its delivery p99 (µs) | server CPU | load CPU | first failing probe | load side |',
    '| ---: | --- | ---: | ---: | ---: | --- | --- |',
    `| ${r.bestRatePerSecond === null ? `< ${significant(r.probes[0]?.workload.ratePerSecond ?? 0)}` : `${significant(r.bestRatePerSecond)}/s`} | ` +
      `${best === null ? '–' : `${us(best.ack.p50Us)} / ${us(best.ack.p99Us)}`} | ${best === null ? '–' : us(best.delivery.p99Us)} | ` +
      `${best === null ? '–' : coresText(best.serverCpuCores)} | ${best === null ? '–' : coresText(best.loadCpuCores)} | ` +
      `${fail === null ? 'none up to the cap' : `${significant(fail.workload.ratePerSecond)}/s: ${why(fail)}`} | ${loadText.length === 0 ? 'ok' : loadText.join('; ')} |`,
    '',
  ];
}

function idleSection(results: IdleMemoryResult[]): string[] {
  const lines = [
    '### Idle receiver connections',
    '',
    'Server memory with N receivers connected and subscribed (settled 2 s), minus its memory before they connected, over N: ' +
      'RSS of a one-process server, the PSS sum of a server of several processes. Measured once, on fresh servers, the other servers stopped.',
    '',
    '| system | receivers | server memory before -> after | per connection | load side per connection | connect time |',
    '| --- | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.system} | ${r.receivers.toLocaleString('en')} | ${mib(r.serverRssBeforeBytes)} -> ${mib(r.serverRssAfterBytes)} | ` +
        `${r.bytesPerConnection === null ? '?' : `${(r.bytesPerConnection / 1024).toFixed(1)} KiB`} | ${(r.loadBytesPerConnection / 1024).toFixed(1)} KiB | ${r.connectSeconds.toFixed(1)} s |`,
    );
  }
  return [...lines, ''];
}

function idleCpuSection(title: string, results: IdleCpuResult[], label: Labeller): string[] {
  const first = results[0];
  const lines = [
    `### ${title}`,
    '',
    `Server CPU as a percentage of one core, each system alone (the others stopped), with 1 master and ${first.receivers} receivers connected on one subscription: ` +
      `no traffic for ${first.idleSeconds} s (after 1 s to settle), then ${first.lowRatePerSecond} signals/s (a full run, warm-up excluded).`,
    '',
    `| system | idle | at ${first.lowRatePerSecond}/s | lost at ${first.lowRatePerSecond}/s |`,
    '| --- | ---: | ---: | ---: |',
  ];
  for (const x of results) {
    lines.push(`| ${label(x.system)} | ${percentText(x.idleCores)} | ${percentText(x.lowRateCores)} | ${x.lowRateRun?.lost ?? '?'} |`);
  }
  return [...lines, ''];
}

const pinTitle = (pin: PinMode): string => (pin === 'pinned' ? `servers pinned to core ${serverCpu}, load on core ${loadCpu}` : 'unpinned');

function modeSections(m: ModeResults, label: Labeller): string[] {
  const lines: string[] = [];
  const suffix = `, ${pinTitle(m.pin)}`;
  if (m.compare !== null) {
    lines.push(
      ...compareSection(
        `Side by side${suffix}`,
        [
          'The same workloads against every system, interleaved: every round runs every system, in rotating order, each alone (the other servers stopped). ' +
            'Cells: median of the rounds, with (min–max) for p50, p99, acked/s and deliveries/s. "vs sigplane": the alternative\'s figure over sigplane\'s (above 1: sigplane is faster). ' +
            `No growing backlog: in how many rounds the p50 of the signals due in the window's last second stayed within ${us(backlogGrowthMaxUs)} µs of the first second's (and nothing was lost), and the median change. ` +
            `⚑: p99 at or above ${us(keepUpP99MaxUs / 1000)} ms. CPU µs / delivery: server CPU over the window / deliveries in it; "vs NATS": over NATS core's. ` +
            '† marks systems where, in the counted rounds, the load side may have been the bottleneck (see below each table).',
        ],
        m.compare,
        label,
      ),
    );
  }
  if (m.idleCpu !== null && m.idleCpu.length > 0) lines.push(...idleCpuSection(`Idle server CPU${suffix}`, m.idleCpu, label));
  if (m.ingest !== null) {
    lines.push(
      ...compareSection(
        `Sustained ingest${suffix}`,
        [
          'One subscription, one receiver, offered more than sigplane takes: acked/s is what each system confirmed inside the measured window. ' +
            "Saturated, sigplane's figure swings with the master's BUSY backoff; the highest rate it keeps up with follows the table.",
        ],
        m.ingest,
        label,
      ),
    );
  }
  if (m.ingestSearch) lines.push(...sustainedIngestLines(m.ingestSearch));
  if (m.fanOut !== null) lines.push(...compareSection(`Fan-out${suffix}`, ['One subscription, many receivers: deliveries per second and delivery latency.'], m.fanOut, label));
  if (m.rateSearch !== null) lines.push(...rateSearchSection(m.rateSearch));
  return lines;
}

export function loadSection(r: LoadReport): string {
  const busy = r.machine.otherProcessesCores;
  const label = labellerOf(r);
  const lines = [
    '## End-to-end load',
    '',
    `Written by \`${r.command}\` (bench/load/main.ts, ${r.mode} run). How to read it and how it measures: [docs/benchmarks.md](../docs/benchmarks.md).`,
    '',
    ...machineTable(r.machine),
    '',
  ];
  if (busy !== null && busy > 0.2) {
    lines.push(
      `**This machine was shared while the bench ran**: other processes (not the load generator, not the servers under test) used ${busy.toFixed(2)} of its ${r.machine.nproc} cores on average. ` +
        'Absolute figures are pessimistic; compare systems only within this run.',
      '',
    );
  }
  for (const [i, m] of r.modes.entries()) {
    const targets = targetLines(m, i === 0 ? r.idle : null);
    if (targets.length > 2) lines.push(`### Targets (issue 16), ${pinTitle(m.pin)}`, '', 'Judged on the medians of this run\'s rounds (the tables below give the spread).', '', ...targets, '');
  }
  lines.push(
    '**sigplane does strictly more work than every alternative here**: it verifies each signal\'s HMAC, checks fields and freshness, ' +
      'sequences it (exactly once, in order), journals it to SQLite before the ack (fsynced with journal sync full), ships the journal to Postgres, ' +
      'and tracks receiver cursors. NATS core, Redis pub/sub and the ws relay only route bytes (nothing stored, nothing checked); ' +
      'Redis Streams and Postgres store each message and fsync it before the ack, and JetStream writes it before the ack and fsyncs it later, but none of them checks anything. ' +
      'The floor is sigplane\'s shape with none of its work: the same I/O thread, rings and SQLite journal (fsynced per batch before the ack), nothing checked, sequenced or shipped; ' +
      'the targets tables give its figure beside each target (docs/benchmarks.md, "The floor"). ' +
      'Each system\'s name says what its ack means: durable (fsynced before the ack), crash-safe (written before the ack, fsynced later: survives the server\'s crash, not the machine\'s) or not durable.',
    '',
    `Signals are ${r.signalBytes} B on the wire (sigplane's signed v1 master frame; the alternatives carry the same number of bytes). ` +
      `Each run: ${r.warmupMs / 1000} s warm-up (not in the figures; loss still counted over it), then ${r.durationMs / 1000} s measured. ` +
      'Latency in µs from the signal\'s scheduled send time (open loop). One master per subscription. ' +
      `Pinned: every server (all its threads or processes) on core ${serverCpu} with \`taskset\`, the load generator on core ${loadCpu}; unpinned: anywhere. ` +
      'The bench starts its own nats-server, redis-server and Postgres instances (the machine\'s services are not used) and sigplane\'s Postgres is not counted in its server CPU.',
    '',
    '| system | durability | what runs |',
    '| --- | --- | --- |',
    ...r.systems.map((s) => `| ${s.name} | ${s.durability} | ${s.description} |`),
    '',
  );
  if (r.errors.length > 0) lines.push('**Parts that failed in this run:**', '', ...r.errors.map((e) => `- ${e}`), '');
  for (const m of r.modes) lines.push(...modeSections(m, label));
  if (r.idle !== null) lines.push(...idleSection(r.idle));
  if (r.charts.length > 0) {
    lines.push('### Charts', '', 'Latency percentiles against offered rate (log-log, median of rounds).', '');
    for (const c of r.charts) lines.push(`![${c.title}](${c.file})`, '');
  }
  return lines.join('\n');
}
