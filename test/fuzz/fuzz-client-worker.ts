/**
 * The fuzz clients, run in a worker thread so that generating, sending and
 * checking frames does not share the event loop with the server under test
 * (the in-process server's I/O thread is the test's main thread). Worker
 * threads load compiled JS: the test runs dist/test/fuzz/fuzz-client-worker.js
 * (`npm run build` first) and checks that it is not older than its sources.
 *
 * `runFuzzClients` also runs in-process (SIGPLANE_FUZZ_WORKERS=0).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Failures, FuzzConnection, forbiddenFor, type ConnectionStats, type ForbiddenRule } from './fuzz-connection';
import { FrameSource, type Credentials } from './frame-sources';
import { FuzzRandom } from './fuzz-random';

export interface ClientSpec {
  label: string;
  group: string;
  /** This connection's stream seed (derived from the run's seed). */
  streamSeed: number;
  url: string;
  token: string;
  role: 'master' | 'receiver';
  frameBytesMax: number;
  own: Credentials;
  others: Credentials[];
  guarded: boolean;
  sequencer: boolean;
  closingEvery: number;
  frames: number;
  windowFrames: number;
  markerEvery: number;
  oneAnswerPerFrame: boolean;
  forbidden: ForbiddenRule;
}

export interface ClientsSpec {
  /** The run's seed (printed in failures). */
  seed: number;
  deadlineMs: number;
  clients: ClientSpec[];
}

export interface ClientsReport {
  stats: (ConnectionStats & { label: string; group: string })[];
  failures: string[];
  sources: Record<string, number>;
  mutations: Record<string, number>;
  error?: string;
}

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again. */
function revive(c: Credentials): Credentials {
  return { ...c, key: Buffer.from(c.key) };
}

function merge(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export async function runFuzzClients(spec: ClientsSpec): Promise<ClientsReport> {
  const failures = new Failures();
  const runs = spec.clients.map((c) => {
    const source = new FrameSource(new FuzzRandom(c.streamSeed), {
      role: c.role,
      frameBytesMax: c.frameBytesMax,
      own: revive(c.own),
      others: c.others.map(revive),
      guarded: c.guarded,
      sequencer: c.sequencer,
      closingEvery: c.closingEvery,
    });
    const connection = new FuzzConnection({
      label: c.label,
      url: c.url,
      token: c.token,
      frameBytesMax: c.frameBytesMax,
      source,
      frames: c.frames,
      deadlineMs: spec.deadlineMs,
      windowFrames: c.windowFrames,
      markerEvery: c.markerEvery,
      oneAnswerPerFrame: c.oneAnswerPerFrame,
      forbidden: forbiddenFor(c.forbidden),
      failures,
      seed: spec.seed,
    });
    return { c, source, connection };
  });
  const stats = await Promise.all(runs.map((r) => r.connection.run()));
  const sources: Record<string, number> = {};
  const mutations: Record<string, number> = {};
  for (const r of runs) {
    merge(sources, r.source.counts);
    merge(mutations, r.source.mutator.counts);
  }
  return {
    stats: stats.map((s, i) => ({ ...s, label: runs[i]!.c.label, group: runs[i]!.c.group })),
    failures: failures.messages,
    sources,
    mutations,
  };
}

if (!isMainThread && parentPort !== null && (workerData as { fuzzClients?: ClientsSpec } | null)?.fuzzClients !== undefined) {
  const port = parentPort;
  runFuzzClients((workerData as { fuzzClients: ClientsSpec }).fuzzClients).then(
    (report) => port.postMessage(report),
    (error: Error) => port.postMessage({ stats: [], failures: [], sources: {}, mutations: {}, error: error.stack ?? String(error) }),
  );
}
