/**
 * Wake-ups at a given microsecond without spinning the main thread: Node's
 * timers have millisecond granularity, which would make every send up to
 * 1 ms late. A helper thread sleeps in Atomics.wait (a futex with a
 * nanosecond timeout) until the target time and then notifies; the main
 * thread awaits that with Atomics.waitAsync, so its event loop keeps
 * receiving acks meanwhile. The sender asks to be woken a little early and
 * spins the last few tens of microseconds (bench/load/run-workload.ts).
 *
 * Cells of the shared Int32Array: [0] requests made, [1] wake-ups done,
 * [2] stop flag. The target time (ns, see clock.ts) is a Float64 beside it.
 */
import { Worker } from 'node:worker_threads';
import { clockEpoch } from './clock';
import { compiledFile } from './child-server';

type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };
// Atomics.waitAsync is in Node 20 but in TypeScript's ES2024 lib, not ES2022 (as engine/ring-buffer.ts notes).
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export const wakerCell = { REQUESTS: 0, WAKES: 1, STOP: 2 } as const;

export class PreciseWaker {
  private readonly cells = new Int32Array(new SharedArrayBuffer(12));
  private readonly target = new Float64Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;

  constructor() {
    this.worker = new Worker(compiledFile('bench/load/precise-waker-thread.js'), {
      workerData: { cells: this.cells, target: this.target, epoch: clockEpoch() },
    });
    this.worker.unref();
  }

  /** Resolves once the clock has passed `targetNs` (plus a thread wake-up). */
  async wakeAt(targetNs: number): Promise<void> {
    this.target[0] = targetNs;
    const wakes = Atomics.load(this.cells, wakerCell.WAKES);
    Atomics.add(this.cells, wakerCell.REQUESTS, 1);
    Atomics.notify(this.cells, wakerCell.REQUESTS);
    const waiting = atomicsWaitAsync(this.cells, wakerCell.WAKES, wakes);
    if (waiting.async) await waiting.value;
  }

  async stop(): Promise<void> {
    Atomics.store(this.cells, wakerCell.STOP, 1);
    Atomics.add(this.cells, wakerCell.REQUESTS, 1);
    Atomics.notify(this.cells, wakerCell.REQUESTS);
    await this.worker.terminate();
  }
}
