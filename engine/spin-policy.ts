import os from 'node:os';
import { engine } from '@sigplane/protocol';

/**
 * Whether a consumer spins before it sleeps. A spin pays only when the
 * producer runs on another core meanwhile and its next records come within
 * the spin window: with fewer than engine.ringSpinCoresMin cores the spin
 * takes the core the producer needs (the measurement is in proto/limits.ts),
 * and a consumer whose records come further apart only burns the window
 * before it sleeps anyway. So: never below ringSpinCoresMin, else only
 * while at least ringSpinHitShareMin of recent waits ended within the
 * window. A wait that slept is judged by how soon it was woken, so the
 * policy learns the gaps without spinning.
 */
export class SpinPolicy {
  private readonly allowed = os.availableParallelism() >= engine.ringSpinCoresMin;
  /** Share of recent waits a spin caught (or would have), an exponential average. */
  private hitShare = 1;

  shouldSpin(): boolean {
    return this.allowed && this.hitShare >= engine.ringSpinHitShareMin;
  }

  record(hit: boolean): void {
    this.hitShare += ((hit ? 1 : 0) - this.hitShare) * engine.ringSpinHitShareWeight;
  }
}
