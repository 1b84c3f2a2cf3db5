/**
 * One subscription-actor step on the shard worker (actors/subscription-actor.ts):
 * `handle(actor, {kind:'signal', ...}, ctx)` for the next in-order v1 signal
 * (sequence n+1 every call): price guard, positions book (netting BUY/SELL
 * on EURUSD and XAUUSD), delivery window, invariants, and the three effects
 * persistSignal, ack ACCEPTED, deliver. No journal, no encoding: those are
 * journal-append and frame-codec.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/actors/actor-step.bench.js
 *
 * The record object is built per call (the shard decodes a fresh one per
 * signal), from 64 prepared field sets; its content bytes are shared.
 */
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import type { ActorContext, HistoryReader } from '../../actors/actor-types';
import { createActor, handle } from '../../actors/subscription-actor';
import { subscriptionDefaults, type SignalRecord } from '@sigplane/protocol';
import { benchEpochMs, benchSubscriptionId, v1Record } from '../signal-fixtures';

const templateCount = 64;
const connId = 17;
const expectedEffects = 3;

/** The in-order path never reads the journal. */
const emptyHistory: HistoryReader = { readSignals: () => [] };

export async function run(): Promise<Summary> {
  const templates = Array.from({ length: templateCount }, (_, i) => v1Record(i + 1, benchEpochMs));
  const actor = createActor(benchSubscriptionId, benchEpochMs);
  const ctx: ActorContext = { nowMs: benchEpochMs, settings: subscriptionDefaults, history: emptyHistory };
  let sequence = 0;
  let sink = 0;

  const step = (): void => {
    sequence++;
    ctx.nowMs = benchEpochMs + sequence; // 1 ms per signal: reference prices stay fresh
    const template = templates[sequence & (templateCount - 1)];
    const record: SignalRecord = { ...template, sequence, receivedAtMs: ctx.nowMs };
    const effects = handle(actor, { kind: 'signal', connId, record }, ctx);
    if (effects.length !== expectedEffects || effects[1].kind !== 'ack') {
      throw new Error(`bench signal ${sequence} not accepted: ${JSON.stringify(effects[0])}`);
    }
    sink += effects.length;
  };

  const summary = await b.suite(
    'actor-step',
    b.add('handle(signal) v1 in order, n+1 accepted (3 effects)', step),
    b.configure({ cases: { maxTime: 2, minSamples: 5 } }),
    b.cycle(),
    b.complete(),
  );
  if (sink === 0 || actor.lastSequence !== sequence) throw new Error('bench actor lost signals');
  return summary;
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
