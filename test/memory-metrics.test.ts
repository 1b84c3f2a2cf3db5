/**
 * /metrics says the server's memory: the process's resident set and, per
 * thread (the I/O thread, each shard worker, the journal shipper), its V8
 * heap, external memory and ArrayBuffers (io/memory-gauges.ts). The server
 * is `sigplane serve` from dist/, with two shards and its shipper.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database';
import { killHard, newKek, scrapeMetrics, startServerProcess, until, type ServerProcess } from './support/fault-server-process';

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-memory-metrics-'));
  server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: newKek(), shards: 2 });
});
afterAll(async () => {
  if (server) await killHard(server);
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

it('says the memory of the process and of each thread: io, every shard worker and the shipper', async () => {
  const threads = ['io', 'shard-0', 'shard-1', 'shipper'];
  let m = new Map<string, number>();
  // Workers report once a second, the shipper with its status.
  await until('every thread to report its memory', async () => {
    m = await scrapeMetrics(server.port);
    return threads.every((t) => m.has(`sigplane_heap_used_bytes{thread="${t}"}`));
  }, 15_000);
  const rss = m.get('sigplane_resident_memory_bytes')!;
  expect(rss).toBeGreaterThan(0);
  let heaps = 0;
  for (const thread of threads) {
    for (const name of ['sigplane_heap_used_bytes', 'sigplane_heap_total_bytes', 'sigplane_external_memory_bytes', 'sigplane_array_buffers_bytes']) {
      expect(m.get(`${name}{thread="${thread}"}`), `${name} of ${thread}`).toBeGreaterThan(0);
    }
    const used = m.get(`sigplane_heap_used_bytes{thread="${thread}"}`)!;
    expect(used).toBeLessThanOrEqual(m.get(`sigplane_heap_total_bytes{thread="${thread}"}`)!);
    heaps += m.get(`sigplane_heap_total_bytes{thread="${thread}"}`)!;
  }
  // Every heap lives in the process: together they are part of its resident set or reserved beside it.
  expect(heaps).toBeLessThan(rss * 2);
  expect([...m.keys()].filter((k) => k.startsWith('sigplane_delivery_window_records{')).sort()).toEqual([
    'sigplane_delivery_window_records{shard="0"}',
    'sigplane_delivery_window_records{shard="1"}',
  ]);
});
