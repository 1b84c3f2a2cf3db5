/**
 * The floor server's worker (bench/load/floor/floor-server.ts): drains the
 * ring from the I/O thread, journals the batch in one SQLite transaction
 * (WAL, synchronous FULL: fsynced before the commit returns; or NORMAL, as
 * sigplane's journal sync normal), and only then
 * writes the batch into the ring back. What sigplane's shard worker does,
 * less everything that makes it sigplane.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { RingConsumer, RingProducer } from '../../../engine/ring-buffer';
import { floorRecord, type FloorWorkerData } from './floor-records';

const data = workerData as FloorWorkerData;
const inbound = new RingConsumer(data.inRing);
const outbound = new RingProducer(data.outRing);
const db = new Database(data.journalPath);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${data.journalSync === 'full' ? 'FULL' : 'NORMAL'}`);
db.exec('CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY, channel INTEGER NOT NULL, frame BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO frames (channel, frame) VALUES (?, ?)');
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const batchRecordsMax = 1_024;
const batch: Buffer[] = [];

function take(bytes: Uint8Array): void {
  const copy = Buffer.from(bytes);
  const { channel, payload } = floorRecord(copy);
  insert.run(channel, payload);
  batch.push(copy);
}

for (;;) {
  if (!inbound.waitSync(1_000)) continue;
  begin.run();
  inbound.drain(batchRecordsMax, take);
  commit.run();
  for (const bytes of batch) {
    while (!outbound.tryWrite(bytes)) {
      outbound.notify();
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
  batch.length = 0;
  outbound.notify();
}
