/**
 * The delivery windows of one shard's actors together hold at most
 * `recordsMax` signals.
 *
 * Each window is bounded (actor.deliveryWindowMax), but a shard serves any
 * number of subscriptions, and a window full of signals costs 1.6 to 2.4
 * MiB of heap (400 to 600 bytes a signal: 25 full windows took 40 to 60 MiB
 * in two memory soaks, bench/RESULTS.md), idle or not: a thousand
 * subscriptions would hold two gigabytes. A window is only
 * a cache of the journal: catch-up and duplicate checks read from the
 * journal what a window does not hold (actors/delivery-window.ts). So when
 * the shard's windows together pass the budget, the windows of the
 * subscriptions least recently active are emptied, which changes no answer,
 * only where it is read from; they fill again as their signals arrive.
 *
 * The shard (engine/shard-core.ts) calls `touched` after every event an
 * actor handles (an execution report touches no window) and every journaled
 * signal it restores; an eviction scans the actors (rare: each frees a
 * window's worth).
 */
import { clearWindow } from '../actors/delivery-window';
import type { SubscriptionActor } from '../actors/subscription-actor';

export class WindowBudget {
  private held = 0;
  private clock = 0;
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly recordsMax: number) {
    if (!(Number.isInteger(recordsMax) && recordsMax >= 1)) throw new Error(`WindowBudget: recordsMax must be an integer >= 1, got ${recordsMax}`);
  }

  /** Signals held in all windows. */
  get records(): number {
    return this.held;
  }

  /**
   * `actor` just handled something; its window held `countBefore` before.
   * Empties the least recently touched other windows while over budget.
   */
  touched(actor: SubscriptionActor, countBefore: number, actors: ReadonlyMap<string, SubscriptionActor>): void {
    this.held += actor.window.count - countBefore;
    this.lastTouched.set(actor.subscriptionId, ++this.clock);
    while (this.held > this.recordsMax) {
      const victim = this.leastRecentlyTouched(actors, actor.subscriptionId);
      if (victim === null) break; // only the actor at hand holds anything: one window is within any sane budget
      this.held -= victim.window.count;
      clearWindow(victim.window);
    }
  }

  private leastRecentlyTouched(actors: ReadonlyMap<string, SubscriptionActor>, except: string): SubscriptionActor | null {
    let victim: SubscriptionActor | null = null;
    let oldest = Infinity;
    for (const [id, a] of actors) {
      if (id === except || a.window.count === 0) continue;
      const at = this.lastTouched.get(id) ?? 0;
      if (at < oldest) {
        oldest = at;
        victim = a;
      }
    }
    return victim;
  }
}
