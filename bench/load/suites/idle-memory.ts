/**
 * Memory per idle receiver connection: the server's RSS with N receivers
 * connected and subscribed (and settled), minus its RSS before, over N.
 * Needs N file descriptors in this process and in the server: checked
 * against the soft limit first, with a clear message (raise it with
 * `ulimit -n` in the shell that runs the bench).
 */
import fs from 'node:fs';
import { progress } from '../progress';
import { ReceiverPool } from '../receiver-pool';
import { serverMemoryBytes } from '../process-stats';
import type { SystemAdapter } from '../system';
import type { SystemName } from '../workload';

export interface IdleMemoryResult {
  system: SystemName;
  receivers: number;
  serverRssBeforeBytes: number | null;
  serverRssAfterBytes: number | null;
  bytesPerConnection: number | null;
  /** The load process's own growth per connection (client side, for scale). */
  loadBytesPerConnection: number;
  connectSeconds: number;
}

/** Descriptors beyond the connections themselves (files, pipes, Postgres, listeners). */
const fdHeadroom = 500;
const settleMs = 2_000;

function openFilesSoftLimit(): number | null {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (match === null) return null;
    return match[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return null;
  }
}

function checkOpenFilesFor(connections: number): void {
  const limit = openFilesSoftLimit();
  if (limit !== null && limit < connections + fdHeadroom) {
    throw new Error(
      `${connections} connections need ${connections + fdHeadroom} open files, the limit is ${limit}: run \`ulimit -n ${connections * 2}\` first (the server inherits it)`,
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureIdleMemory(adapter: SystemAdapter, receivers: number, threads: number): Promise<IdleMemoryResult> {
  checkOpenFilesFor(receivers);
  const targets = await adapter.prepareRun(1, receivers);
  const memory = (): number | null => (adapter.serverPid === null ? null : serverMemoryBytes(adapter.serverProcessIds()));
  global.gc?.();
  const loadBefore = process.memoryUsage().rss;
  const before = memory();
  progress(`idle connections: ${adapter.name}: connecting ${receivers.toLocaleString('en')} receivers…`);
  const startMs = Date.now();
  const pool = new ReceiverPool(adapter.name, targets.receivers, threads);
  try {
    await pool.ready();
    const connectSeconds = (Date.now() - startMs) / 1000;
    await sleep(settleMs);
    const after = memory();
    const loadAfter = process.memoryUsage().rss;
    const result: IdleMemoryResult = {
      system: adapter.name,
      receivers,
      serverRssBeforeBytes: before,
      serverRssAfterBytes: after,
      bytesPerConnection: before === null || after === null ? null : (after - before) / receivers,
      loadBytesPerConnection: (loadAfter - loadBefore) / receivers,
      connectSeconds,
    };
    progress(
      `  ${adapter.name}: ${result.bytesPerConnection === null ? '?' : (result.bytesPerConnection / 1024).toFixed(1)} KiB per idle receiver ` +
        `(server RSS ${((before ?? 0) / 2 ** 20).toFixed(0)} -> ${((after ?? 0) / 2 ** 20).toFixed(0)} MiB; connected in ${connectSeconds.toFixed(1)} s)`,
    );
    await pool.close();
    return result;
  } finally {
    await pool.terminate();
  }
}
