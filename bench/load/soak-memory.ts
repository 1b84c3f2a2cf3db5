/**
 * `npm run bench:soak`: does the server's memory level off under steady
 * load? `sigplane serve` in its own process (bench/load/adapters/sigplane.ts)
 * takes signed signals at a steady rate over a few subscriptions with
 * receivers for `--minutes`, while the bench samples its memory (RSS from
 * /proc; per thread V8 heap used, external and arrayBuffers from
 * /metrics). Then it is killed with SIGKILL and restarted `--restarts`
 * times under the same load, and last `--full-subscriptions` idle
 * subscriptions are filled past their delivery window to measure what one
 * costs. Prints the result as Markdown (the dated subsection in
 * bench/RESULTS.md is pasted from it) and can save the samples as JSON.
 *
 *   npm run bench:soak                        10 minutes at 900 signals/s, 3 restarts (about 15 min)
 *   npm run bench:soak -- --minutes 2 --restarts 1 --full-subscriptions 10
 *   npm run bench:soak -- --help
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommand, UsageError, type CommandSpec } from '../../cli/args';
import { actor as actorLimits } from '@sigplane/protocol';
import { SigplaneAdapter } from './adapters/sigplane';
import { machineInfo } from './machine-info';
import { progress } from './progress';
import { floorOf, sampleServerMemory, type ServerMemorySample } from './server-memory';
import { soakMarkdown, type SoakPhaseSample, type SoakResult } from './soak-report';
import { SoakMaster, SoakReceiver } from './soak-stream';

const spec: CommandSpec = {
  usage: 'npm run bench:soak -- [options]',
  summary: "Memory soak: sigplane serve under steady load for minutes, then kill -9 restarts; samples the server's memory and says whether it levels off.",
  options: {
    minutes: { type: 'string', help: 'length of the steady phase', default: '10' },
    rate: { type: 'string', help: 'signals per second, all subscriptions together', default: '900' },
    subscriptions: { type: 'string', help: 'subscriptions under load', default: '3' },
    'receivers-per-subscription': { type: 'string', help: 'receivers of each', default: '3' },
    'receiver-ack-every': { type: 'string', help: 'receivers send DeliveryAck after this many deliveries', default: '100' },
    'sample-seconds': { type: 'string', help: 'seconds between samples', default: '5' },
    'rest-seconds': { type: 'string', help: 'seconds sampled at rest (started, nothing connected) first', default: '20' },
    restarts: { type: 'string', help: 'kill -9 restarts after the steady phase, under the same load', default: '3' },
    'restart-every-seconds': { type: 'string', help: 'seconds of load after each restart', default: '60' },
    'full-subscriptions': { type: 'string', help: 'idle subscriptions filled past their delivery window at the end (0: none); keep their windows within deliveryWindowRecordsPerShardMax', default: '25' },
    'database-url': { type: 'string', help: "Postgres server for sigplane's bench database", default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'journal-sync': { type: 'string', help: "sigplane's journal sync", default: 'full' },
    shards: { type: 'string', help: 'sigplane shard worker threads', default: '1' },
    json: { type: 'string', help: 'also write the result (every sample) to this file' },
    out: { type: 'string', help: 'write the Markdown to this file instead of stdout' },
  },
};

const pumpIntervalMs = 10;
/** Before each per-subscription reading: samples a second apart, the floor of each figure kept. */
const settleSamples = 15;
/** Signals per subscription in the last phase: its delivery window full, and then some. */
const fullSubscriptionSignals = actorLimits.deliveryWindowMax + 100;
const fullFillRatePerSecond = 4_000;

function positive(values: Record<string, string | boolean | undefined>, name: string, allowZero = false): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UsageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(values[name])}`);
  return n;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const values = parseCommand(spec, process.argv.slice(2));
  if (values === null) return;
  const root = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
  const minutes = positive(values, 'minutes');
  const rate = positive(values, 'rate');
  const subscriptions = Math.round(positive(values, 'subscriptions'));
  const receiversPer = Math.round(positive(values, 'receivers-per-subscription', true));
  const ackEvery = Math.round(positive(values, 'receiver-ack-every'));
  const sampleMs = positive(values, 'sample-seconds') * 1000;
  const restMs = positive(values, 'rest-seconds', true) * 1000;
  const restarts = Math.round(positive(values, 'restarts', true));
  const restartEveryMs = positive(values, 'restart-every-seconds') * 1000;
  const fullCount = Math.round(positive(values, 'full-subscriptions', true));
  const journalSync = values['journal-sync'];
  if (journalSync !== 'full' && journalSync !== 'normal') throw new UsageError('--journal-sync must be full or normal');
  const shards = Math.round(positive(values, 'shards'));

  const startMs = Date.now();
  const loadAverageAtStart = os.loadavg();
  const adapter = new SigplaneAdapter({ databaseServerUrl: values['database-url'] as string, shards, journalSync, receiverAckEvery: ackEvery });
  const samples: SoakPhaseSample[] = [];
  const restartLog: SoakResult['restarts'] = [];
  let phase = 'rest';
  const sample = async (): Promise<ServerMemorySample | null> => {
    const pid = adapter.serverPid;
    if (pid === null) return null;
    try {
      const s = await sampleServerMemory(pid, adapter.port);
      samples.push({ ...s, phase });
      return s;
    } catch {
      return null; // restarting
    }
  };
  const sampleFor = async (ms: number): Promise<void> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sample();
      await sleep(Math.min(sampleMs, Math.max(0, until - Date.now())));
    }
  };

  progress(`soak: starting sigplane (journal sync ${journalSync}, ${shards} shard${shards === 1 ? '' : 's'})…`);
  await adapter.start();
  const masters: SoakMaster[] = [];
  const receivers: SoakReceiver[] = [];
  let pump: NodeJS.Timeout | null = null;
  let fullSubscriptions: SoakResult['fullSubscriptions'] = null;
  try {
    await sampleFor(restMs);

    const targets = await adapter.prepareRun(subscriptions, receiversPer);
    const url = (role: string): (() => string) => () => `ws://127.0.0.1:${adapter.port}/v1/${role}`;
    for (const t of targets.masters) {
      masters.push(
        new SoakMaster({
          url: url('master'),
          token: t.token as string,
          subscriptionId: t.subscriptionId as string,
          macSecretHex: t.macSecretHex as string,
          ratePerSecond: rate / subscriptions,
        }),
      );
    }
    for (const t of targets.receivers) receivers.push(new SoakReceiver(url('receiver'), t.token as string, ackEvery));
    await Promise.all(receivers.map((r) => r.start()));
    await Promise.all(masters.map((m) => m.start()));
    pump = setInterval(() => {
      const now = Date.now();
      for (const m of masters) m.pump(now);
    }, pumpIntervalMs);

    phase = 'steady';
    progress(`soak: ${rate}/s over ${subscriptions} subscriptions x ${receiversPer} receivers for ${minutes} min`);
    for (let minute = 1; minute <= minutes; minute++) {
      await sampleFor(60_000);
      const last = samples[samples.length - 1];
      progress(`  minute ${minute}: RSS ${last === undefined ? '?' : (last.rssBytes / 2 ** 20).toFixed(0)} MiB; ${describeClients(masters, receivers)}`);
    }

    for (let i = 1; i <= restarts; i++) {
      phase = `kill9-${i}`;
      progress(`soak: kill -9 and restart ${i} of ${restarts}`);
      await adapter.restartAfterKill9();
      restartLog.push({ index: i, atMs: Date.now() });
      await sampleFor(restartEveryMs);
      const last = samples[samples.length - 1];
      progress(`  after restart ${i}: RSS ${last === undefined ? '?' : (last.rssBytes / 2 ** 20).toFixed(0)} MiB; ${describeClients(masters, receivers)}`);
    }

    if (pump !== null) clearInterval(pump);
    pump = null;
    await Promise.all([...masters, ...receivers].map((c) => c.stop()));
    if (fullCount > 0) {
      phase = 'full-subscriptions';
      progress(`soak: ${fullCount} idle subscriptions filled with ${fullSubscriptionSignals} signals each…`);
      const before = await settledFloor(sample);
      await fillSubscriptions(adapter, fullCount);
      const after = await settledFloor(sample);
      fullSubscriptions = { count: fullCount, signalsEach: fullSubscriptionSignals, before, after };
    }
  } finally {
    if (pump !== null) clearInterval(pump);
    await Promise.all([...masters, ...receivers].map((c) => c.stop()));
    await adapter.stop();
  }

  const refused: Record<string, number> = {};
  for (const m of masters) for (const [code, n] of m.refused) refused[code] = (refused[code] ?? 0) + n;
  const result: SoakResult = {
    machine: machineInfo(root, startMs, loadAverageAtStart, null),
    command: `npm run bench:soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    workload: { ratePerSecond: rate, subscriptions, receiversPerSubscription: receiversPer, minutes, journalSync, shards, receiverAckEvery: ackEvery },
    samples,
    restarts: restartLog,
    fullSubscriptions,
    clients: {
      signalsAcked: masters.reduce((sum, m) => sum + m.acked, 0),
      busy: masters.reduce((sum, m) => sum + m.busy, 0),
      refused,
      deliveries: receivers.reduce((sum, r) => sum + r.deliveries, 0),
      duplicates: receivers.reduce((sum, r) => sum + r.duplicates, 0),
      gaps: receivers.reduce((sum, r) => sum + r.gaps, 0),
      snapshots: receivers.reduce((sum, r) => sum + r.snapshots, 0),
      reconnects: [...masters, ...receivers].reduce((sum, c) => sum + Math.max(0, c.connects - 1), 0),
    },
  };
  if (typeof values.json === 'string') fs.writeFileSync(values.json, JSON.stringify(result, null, 1));
  const markdown = soakMarkdown(result);
  if (typeof values.out === 'string') fs.writeFileSync(values.out, `${markdown}\n`);
  else process.stdout.write(`${markdown}\n`);
}

async function settledFloor(sample: () => Promise<ServerMemorySample | null>): Promise<ServerMemorySample> {
  const taken: ServerMemorySample[] = [];
  for (let i = 0; i < settleSamples; i++) {
    await sleep(1_000);
    const s = await sample();
    if (s !== null) taken.push(s);
  }
  return floorOf(taken);
}

function describeClients(masters: SoakMaster[], receivers: SoakReceiver[]): string {
  const acked = masters.reduce((sum, m) => sum + m.acked, 0);
  const executed = receivers.reduce((sum, r) => sum + r.executed, 0);
  const bad = receivers.reduce((sum, r) => sum + r.duplicates + r.gaps, 0);
  return `acked ${acked.toLocaleString('en')}, executed ${executed.toLocaleString('en')} (all receivers), duplicates + gaps ${bad}`;
}

/** `count` new subscriptions, each sent fullSubscriptionSignals signals, no receiver; resolves once all are acked. */
async function fillSubscriptions(adapter: SigplaneAdapter, count: number): Promise<void> {
  const targets = await adapter.prepareRun(count, 0);
  const masters = targets.masters.map(
    (t) =>
      new SoakMaster({
        url: () => `ws://127.0.0.1:${adapter.port}/v1/master`,
        token: t.token as string,
        subscriptionId: t.subscriptionId as string,
        macSecretHex: t.macSecretHex as string,
        ratePerSecond: fullFillRatePerSecond / count,
        lastSequence: fullSubscriptionSignals,
      }),
  );
  await Promise.all(masters.map((m) => m.start()));
  const deadline = Date.now() + 10 * 60_000;
  while (masters.some((m) => m.acked < fullSubscriptionSignals)) {
    if (Date.now() > deadline) throw new Error('filling the subscriptions took more than 10 minutes');
    const now = Date.now();
    for (const m of masters) m.pump(now);
    await sleep(pumpIntervalMs);
  }
  await Promise.all(masters.map((m) => m.stop()));
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
