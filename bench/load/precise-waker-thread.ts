/** The helper thread of precise-waker.ts: sleeps until each requested time, then wakes the main thread. */
import { workerData } from 'node:worker_threads';
import { nowNs, useClockEpoch } from './clock';
import { wakerCell } from './precise-waker';

const { cells, target, epoch } = workerData as { cells: Int32Array; target: Float64Array; epoch: string };
useClockEpoch(epoch);
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

let served = 0;
while (Atomics.load(cells, wakerCell.STOP) === 0) {
  Atomics.wait(cells, wakerCell.REQUESTS, served, 1_000);
  const requests = Atomics.load(cells, wakerCell.REQUESTS);
  if (requests === served) continue;
  served = requests;
  for (let remainingNs = target[0] - nowNs(); remainingNs > 0; remainingNs = target[0] - nowNs()) {
    Atomics.wait(sleepCell, 0, 0, remainingNs / 1e6);
  }
  Atomics.add(cells, wakerCell.WAKES, 1);
  Atomics.notify(cells, wakerCell.WAKES);
}
