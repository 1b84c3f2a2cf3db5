/**
 * The receivers of one run, spread over worker threads of the load process
 * (round robin, so each thread gets a share of every subscription): a
 * single thread saturates long before a server does at high fan-out.
 */
import { Worker } from 'node:worker_threads';
import { clockEpoch } from './clock';
import { compiledFile } from './child-server';
import type { FromReceiverWorker, ReceiverWorkerData, ReceiverWorkerReport, ToReceiverWorker } from './receiver-protocol';
import type { ReceiverTarget } from './system';
import type { Schedule, SystemName } from './workload';

const connectConcurrencyPerThread = 50;

class ReceiverThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<FromReceiverWorker['t'], (message: FromReceiverWorker) => void>();
  private failure: Error | null = null;
  private failed: ((error: Error) => void)[] = [];

  constructor(system: SystemName, targets: ReceiverTarget[]) {
    const workerData: ReceiverWorkerData = { epoch: clockEpoch(), system, targets, connectConcurrency: connectConcurrencyPerThread };
    this.worker = new Worker(compiledFile('bench/load/receiver-worker.js'), { workerData });
    this.worker.on('message', (message: FromReceiverWorker) => {
      if (message.t === 'error') return this.fail(new Error(message.message));
      const resolve = this.waiting.get(message.t);
      this.waiting.delete(message.t);
      resolve?.(message);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`receiver thread exited with ${code}`)));
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const reject of this.failed) reject(error);
  }

  next<T extends FromReceiverWorker['t']>(t: T, send?: ToReceiverWorker): Promise<Extract<FromReceiverWorker, { t: T }>> {
    return new Promise((resolve, reject) => {
      if (this.failure !== null) return reject(this.failure);
      this.failed.push(reject);
      this.waiting.set(t, resolve as (message: FromReceiverWorker) => void);
      if (send !== undefined) this.worker.postMessage(send);
    });
  }

  async terminate(): Promise<void> {
    this.failure ??= new Error('terminated');
    await this.worker.terminate();
  }
}

export class ReceiverPool {
  private readonly threads: ReceiverThread[];

  constructor(system: SystemName, targets: ReceiverTarget[], threadCount: number) {
    const count = Math.max(1, Math.min(threadCount, targets.length));
    const shares: ReceiverTarget[][] = Array.from({ length: count }, () => []);
    targets.forEach((t, i) => shares[i % count].push(t));
    this.threads = shares.map((share) => new ReceiverThread(system, share));
  }

  get threadCount(): number {
    return this.threads.length;
  }

  /** Every receiver connected (and subscribed). */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.next('ready')));
  }

  async arm(schedule: Schedule): Promise<void> {
    await Promise.all(this.threads.map((t) => t.next('armed', { t: 'arm', schedule })));
  }

  async drain(deadlineMs: number): Promise<ReceiverWorkerReport[]> {
    const reports = await Promise.all(this.threads.map((t) => t.next('report', { t: 'drain', deadlineMs })));
    return reports.map((r) => r.report);
  }

  async close(): Promise<ReceiverWorkerReport[]> {
    const reports = await Promise.all(this.threads.map((t) => t.next('report', { t: 'close' })));
    return reports.map((r) => r.report);
  }

  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}
