/**
 * The seeded randomness every fuzz generator draws from (xoshiro128** of
 * test/support/prng.ts: fast, 32 bits per step, 128 bits of state) with the
 * draws fuzzing needs, and the seed plumbing: a run prints its seed, and
 * SIGPLANE_FUZZ_SEED replays it exactly.
 */
import { Xoshiro128 } from '../support/prng';

export class FuzzRandom extends Xoshiro128 {
  /** Index into `weights` drawn proportionally to them. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** A length in [0, max], skewed towards small values (most fuzz inputs are short). */
  length(max: number): number {
    const r = this.next();
    if (r < 0.6) return this.int(0, Math.min(max, 64));
    if (r < 0.9) return this.int(0, Math.min(max, 512));
    return this.int(0, max);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const x = this.u32();
      out[i] = x;
      out[i + 1] = x >>> 8;
      out[i + 2] = x >>> 16;
      out[i + 3] = x >>> 24;
    }
    for (; i < n; i++) out[i] = this.u32();
    return out;
  }

  /** An independent stream for a sub-task (a connection, a phase), reproducible from this one. */
  fork(): FuzzRandom {
    return new FuzzRandom(this.u32());
  }
}

/**
 * The run's seed: SIGPLANE_FUZZ_SEED (decimal or 0x hex) when set, else a
 * fresh one. Printed either way, so every failure can be replayed.
 */
export function fuzzSeed(label: string): number {
  const fromEnv = process.env.SIGPLANE_FUZZ_SEED;
  let seed: number;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`SIGPLANE_FUZZ_SEED must be a non-negative integer, got ${fromEnv}`);
    seed = n >>> 0;
  } else {
    seed = (Date.now() ^ Math.floor(Math.random() * 4294967296)) >>> 0;
  }
  console.log(`[fuzz] ${label}: seed ${seed} (replay with SIGPLANE_FUZZ_SEED=${seed})`);
  return seed;
}

/** A positive integer from the environment, or the default. */
export function envCount(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${text}`);
  return n;
}

export function toHex(bytes: Uint8Array, maxBytes = 2048): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, maxBytes)).toString('hex');
  return bytes.length > maxBytes ? `${hex}… (${bytes.length} bytes, first ${maxBytes} shown)` : hex;
}
