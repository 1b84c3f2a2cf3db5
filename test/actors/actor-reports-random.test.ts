/**
 * Seeded: the actor's execution-report decision (actors/receiver-reports.ts)
 * is the one the shard worker made when it kept a bound per receiver
 * connection outside the actor (raised by the catch-up deliveries and
 * snapshots it sent and by what a receiver claimed when it subscribed,
 * forgotten at detach). That bound is kept here as a model, fed by the
 * actor's effects the way the worker fed it, and every report, at random
 * sequences around n, from connections subscribed, detached or never seen,
 * must get the same answer from the actor as from the model.
 */
import { expect, it } from 'vitest';
import type { ActorEvent, Effect } from '../../actors/actor-types';
import { OrderType } from '@sigplane/protocol';
import { Harness, SUB, T0, report, signal, smallLimits } from './fixtures';
import { Prng } from '../support/prng';

const seeds = 200;
const steps = 300;
const connIds = [20, 21, 22, 23, 24];
const receiverIds = ['r1', 'r2', 'r3'];

/** The worker's former per-connection bound, fed by effects. */
class FormerReportBound {
  private readonly bound = new Map<number, number>();

  raise(connId: number, sequence: number): void {
    if ((this.bound.get(connId) ?? 0) < sequence) this.bound.set(connId, sequence);
  }

  /** What the worker did around one event: before it, during its effects, after it. */
  observe(h: Harness, event: ActorEvent, effects: Effect[]): void {
    if (event.kind === 'receiverDetach') this.bound.delete(event.connId);
    if (event.kind === 'receiverSubscribe') {
      const claimed = event.lastSequence ?? h.actor.cursors.get(event.receiverId) ?? 0;
      this.raise(event.connId, Math.min(claimed, h.actor.lastSequence));
    }
    for (const effect of effects) {
      if (effect.kind === 'sendDeliveries') for (const record of effect.records) this.raise(effect.connId, record.sequence);
      if (effect.kind === 'sendSnapshot' && effect.connId !== null) this.raise(effect.connId, effect.sequence);
    }
  }

  takes(h: Harness, connId: number, receiverId: string, sequence: number): boolean {
    let bound = this.bound.get(connId) ?? 0;
    if (h.actor.liveReceivers.has(connId)) bound = Math.max(bound, h.actor.lastSequence);
    bound = Math.max(bound, h.actor.cursors.get(receiverId) ?? 0);
    return sequence <= bound;
  }
}

function randomEvent(h: Harness, random: Prng): ActorEvent {
  const n = h.actor.lastSequence;
  const connId = random.pick(connIds);
  const receiverId = random.pick(receiverIds);
  const roll = random.int(1, 100);
  const next = (sequence: number): ActorEvent => ({
    kind: 'signal',
    connId: 1,
    record: signal(sequence, { orderType: sequence % 2 === 1 ? OrderType.BUY : OrderType.SELL }),
  });
  if (roll <= 35) return next(n + 1);
  if (roll <= 42) return next(n + random.int(2, 4)); // a gap, filled by later in-order signals
  if (roll <= 44) return { kind: 'masterSnapshot', connId: 1, snapshot: { subscriptionId: SUB, sequence: n + random.int(0, 3), generatedAtMs: T0, positions: [] } };
  if (roll <= 58) {
    const lastSequence = random.chance(0.2) ? null : random.int(0, n + 3);
    return { kind: 'receiverSubscribe', connId, receiverId, lastSequence };
  }
  if (roll <= 64) {
    const liveAs = h.actor.liveReceivers.get(connId);
    return { kind: 'receiverSync', connId, receiverId: liveAs ?? receiverId, fromSequence: random.int(0, n + 2), full: random.chance(0.2) };
  }
  if (roll <= 76) return { kind: 'deliveryAck', connId, receiverId, sequence: random.int(0, n + 2) };
  if (roll <= 88) return { kind: 'receiverDetach', connId };
  if (roll <= 91) return { kind: 'isolate', reason: 'operator' };
  if (roll <= 94) return { kind: 'lift', reason: 'operator' };
  return { kind: 'tick' };
}

it(`decides every report as the former per-connection bound did (${seeds} seeds of ${steps} steps)`, () => {
  for (let seed = 1; seed <= seeds; seed++) {
    const random = new Prng(seed);
    const h = new Harness(smallLimits);
    const former = new FormerReportBound();
    let reports = 0;
    let taken = 0;
    for (let step = 0; step < steps; step++) {
      h.nowMs += random.int(0, 1_500);
      const event = randomEvent(h, random);
      former.observe(h, event, h.send(event));
      for (let i = 0; i < 3; i++) {
        const connId = random.pick([...connIds, 30]);
        const receiverId = h.actor.liveReceivers.get(connId) ?? random.pick(receiverIds);
        const sequence = random.int(1, h.actor.lastSequence + 3);
        const effects = h.send({ kind: 'executionReport', connId, report: report(sequence, receiverId) });
        const took = effects.length === 2 && effects[1]!.kind === 'reportAck';
        const formerTook = former.takes(h, connId, receiverId, sequence);
        if (took !== formerTook) expect(took, `seed ${seed} step ${step}: report ${sequence} of ${receiverId} on ${connId}`).toBe(formerTook);
        reports++;
        if (took) taken++;
      }
    }
    // Both answers occur in every seed: the comparison decided something.
    expect(taken, `seed ${seed}`).toBeGreaterThan(0);
    expect(taken, `seed ${seed}`).toBeLessThan(reports);
  }
});
