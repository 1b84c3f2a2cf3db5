/**
 * What a load run does: its parts, and for each the rates, counts, rounds
 * and durations, in a quick and a full version. The full run is sized to
 * fit in about 25 minutes with both pin modes (docs/benchmarks.md has the
 * arithmetic); `--parts` runs pieces of it.
 */
import { UsageError } from '../../cli/args';
import type { RateSearchCase } from './suites/rate-search';
import type { SystemName } from './workload';

export const partNames = ['idle', 'idle-cpu', 'compare', 'ingest', 'fanout', 'search'] as const;
export type PartName = (typeof partNames)[number];
/** The rate search (p99 under 1 ms) is not one of issue 16's targets and takes minutes: run it with --parts search. */
export const defaultParts: readonly PartName[] = ['idle', 'idle-cpu', 'compare', 'ingest', 'fanout'];
/**
 * The parts the unpinned half of a run with both pin modes runs (of those asked for): the side-by-side
 * comparison, where unpinned differs most (a server may take both cores). The other parts in both
 * halves would take the full run from about 25 to about 32 minutes; --unpinned-parts asks for more.
 */
export const defaultUnpinnedParts: readonly PartName[] = ['compare'];

export interface Plan {
  mode: 'quick' | 'full';
  rounds: number;
  warmupMs: number;
  durationMs: number;
  /** Side by side: one subscription, this many receivers, at each rate. */
  compareReceivers: number;
  compareRates: number[];
  /** The rates at which sigplane with journal sync normal runs too (a target at 1,000/s only). */
  syncNormalRates: number[];
  ingestRate: number;
  /** Systems in the saturated ingest comparison (the others would only saturate too, at length). */
  ingestSystems: SystemName[];
  /** The sustained-ingest search (sigplane): first probe, cap, bisections. */
  ingestSearch: { startRate: number; maxRate: number; bisections: number };
  fanOutReceivers: number;
  fanOutRates: number[];
  fanOutRounds: number;
  searchCases: RateSearchCase[];
  searchMaxRate: number;
  searchBisections: number;
  /** Idle receiver connections (memory): how many, on which systems. */
  idleReceivers: number;
  idleSystems: SystemName[];
  /** Idle server CPU: receivers open (and one master), no traffic for idleMs, then lowRatePerSecond. */
  idleCpu: { receivers: number; idleMs: number; lowRatePerSecond: number };
}

export function planFor(quick: boolean, roundsFlag: string | undefined): Plan {
  const rounds = roundsFlag === undefined ? (quick ? 1 : 3) : Number(roundsFlag);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new UsageError(`--rounds must be 1..20, got ${roundsFlag}`);
  const ingestSystems: SystemName[] = ['sigplane', 'floor', 'nats', 'nats-jetstream', 'redis-streams'];
  if (quick) {
    return {
      mode: 'quick',
      rounds,
      warmupMs: 500,
      durationMs: 2_000,
      compareReceivers: 10,
      compareRates: [1_000, 5_000],
      syncNormalRates: [1_000],
      ingestRate: 20_000,
      ingestSystems,
      ingestSearch: { startRate: 2_500, maxRate: 20_000, bisections: 1 },
      fanOutReceivers: 200,
      fanOutRates: [100],
      fanOutRounds: 1,
      searchCases: [{ subscriptions: 1, receiversPerSubscription: 10 }],
      searchMaxRate: 64_000,
      searchBisections: 1,
      idleReceivers: 1_000,
      idleSystems: ['sigplane', 'floor', 'ws-relay'],
      idleCpu: { receivers: 10, idleMs: 2_000, lowRatePerSecond: 10 },
    };
  }
  return {
    mode: 'full',
    rounds,
    warmupMs: 1_000,
    durationMs: 3_000,
    compareReceivers: 10,
    compareRates: [1_000, 5_000, 10_000, 20_000],
    syncNormalRates: [1_000],
    ingestRate: 50_000,
    ingestSystems,
    ingestSearch: { startRate: 5_000, maxRate: 80_000, bisections: 3 },
    fanOutReceivers: 1_000,
    fanOutRates: [100],
    fanOutRounds: rounds,
    searchCases: [
      { subscriptions: 1, receiversPerSubscription: 1 },
      { subscriptions: 1, receiversPerSubscription: 10 },
      { subscriptions: 1, receiversPerSubscription: 100 },
      { subscriptions: 100, receiversPerSubscription: 1 },
      { subscriptions: 100, receiversPerSubscription: 10 },
      { subscriptions: 100, receiversPerSubscription: 100 },
    ],
    searchMaxRate: 128_000,
    searchBisections: 2,
    idleReceivers: 10_000,
    idleSystems: ['sigplane', 'floor', 'ws-relay', 'nats', 'redis'],
    idleCpu: { receivers: 10, idleMs: 3_000, lowRatePerSecond: 10 },
  };
}
