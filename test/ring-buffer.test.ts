import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { engine } from '@sigplane/protocol';
import { createRing, RingConsumer, RingError, RingErrorCode, RingProducer } from '../engine/ring-buffer';
import {
  consumerSleepingSlot,
  readIndexSlot,
  recordSpanBytes,
  ringLayout,
  writeIndexSlot,
} from '../engine/ring-layout';
import type { RingConsumerWorkerReport } from './fixtures/ring-consumer-worker';
import type { RingEchoWorkerReport } from './fixtures/ring-echo-worker';
import type { RingProducerWorkerReport } from './fixtures/ring-producer-worker';
import { RingStream, RingStreamVerifier } from './fixtures/ring-stream';
import { Xorshift32 } from './support/prng';

function pattern(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + salt * 7 + 1) & 0xff;
  return bytes;
}

function ringPair(capacityBytes: number) {
  const sab = createRing(capacityBytes);
  return { sab, producer: new RingProducer(sab), consumer: new RingConsumer(sab) };
}

function headerOf(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, ringLayout.headerBytes >> 2);
}

/** The int32 at a data-area position: a record's length prefix or a skip marker. */
function prefixAt(sab: SharedArrayBuffer, position: number): number {
  return new Int32Array(sab, ringLayout.headerBytes)[position >> 2];
}

function setPrefixAt(sab: SharedArrayBuffer, position: number, value: number): void {
  new Int32Array(sab, ringLayout.headerBytes)[position >> 2] = value;
}

/** A ring whose free-running indices both start at `index` (to cross the int32 wrap). */
function ringPairAt(capacityBytes: number, index: number) {
  const sab = createRing(capacityBytes);
  const header = headerOf(sab);
  header[writeIndexSlot] = index;
  header[readIndexSlot] = index;
  return { sab, producer: new RingProducer(sab), consumer: new RingConsumer(sab) };
}

function expectRingError(action: () => unknown, code: RingErrorCode): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a RingError ${code}`).toBeInstanceOf(RingError);
  expect((caught as RingError).code).toBe(code);
}

/** Byte equality without a deep-equal walk (hot loops); a readable diff on failure. */
function expectBytes(got: Uint8Array | null, expected: Uint8Array): void {
  if (got === null || Buffer.compare(got, expected) !== 0) expect(got).toEqual(expected);
}

function readAll(consumer: RingConsumer): Uint8Array[] {
  const records: Uint8Array[] = [];
  for (let record = consumer.read(); record !== null; record = consumer.read()) records.push(record);
  return records;
}

describe('createRing', () => {
  it('makes an empty ring of the asked data capacity after the header', () => {
    const { sab, producer, consumer } = ringPair(1024);
    expect(sab.byteLength).toBe(ringLayout.headerBytes + 1024);
    expect(producer.capacityBytes).toBe(1024);
    expect(consumer.capacityBytes).toBe(1024);
    expect(producer.depthBytes()).toBe(0);
    expect(consumer.depthBytes()).toBe(0);
    expect(consumer.read()).toBeNull();
  });

  it('defaults to engine.ringBytes, which carries records of engine.ringRecordBytesMax', () => {
    const producer = new RingProducer(createRing());
    expect(producer.capacityBytes).toBe(engine.ringBytes);
    expect(producer.recordBytesMax).toBe(engine.ringRecordBytesMax);
  });

  it('refuses sizes that are not a power of two or out of range', () => {
    for (const ringBytes of [0, -1, 1000, 1.5, 64, 2 ** 31, Number.NaN]) {
      expectRingError(() => createRing(ringBytes), RingErrorCode.LAYOUT);
    }
  });

  it('refuses a buffer that is not a ring of this layout', () => {
    expectRingError(() => new RingConsumer(new SharedArrayBuffer(4096)), RingErrorCode.LAYOUT);
    expectRingError(() => new RingProducer(new SharedArrayBuffer(16)), RingErrorCode.LAYOUT);
    const sab = createRing(1024);
    new Int32Array(sab)[ringLayout.capacityOffsetBytes >> 2] = 2048;
    expectRingError(() => new RingProducer(sab), RingErrorCode.LAYOUT);
  });
});

describe('ring records on one thread', () => {
  it('reads back what was written, as a copy that outlives the slot', () => {
    const { producer, consumer } = ringPair(256);
    const sent = pattern(100, 1);
    expect(producer.tryWrite(sent)).toBe(true);
    const got = consumer.read();
    expect(got).toEqual(sent);
    expect(got!.buffer).toBeInstanceOf(ArrayBuffer);
    expect(producer.tryWrite(pattern(100, 2))).toBe(true); // reuses the slot
    expect(got).toEqual(sent);
    expect(consumer.read()).toEqual(pattern(100, 2));
    expect(consumer.read()).toBeNull();
  });

  it('carries every length 1..124 in order, wrapping many times', () => {
    const { producer, consumer } = ringPair(256);
    for (let round = 0; round < 5; round++) {
      for (let length = 1; length <= producer.recordBytesMax; length++) {
        expect(producer.tryWrite(pattern(length, length + round))).toBe(true);
        expect(consumer.read()).toEqual(pattern(length, length + round));
      }
      expect(consumer.depthBytes()).toBe(0);
    }
  });

  it('counts the length prefix and the 4-byte alignment in depthBytes', () => {
    const { producer, consumer } = ringPair(256);
    producer.tryWrite(pattern(1, 0));
    expect(producer.depthBytes()).toBe(8);
    producer.tryWrite(pattern(5, 0));
    expect(consumer.depthBytes()).toBe(8 + 12);
    producer.tryWrite(pattern(8, 0));
    expect(producer.depthBytes()).toBe(8 + 12 + 12);
    consumer.read();
    expect(producer.depthBytes()).toBe(24);
    expect(recordSpanBytes(1)).toBe(8);
    expect(recordSpanBytes(4)).toBe(8);
    expect(recordSpanBytes(5)).toBe(12);
  });

  it('places a record that ends exactly at the end of the area, then continues at 0 without padding', () => {
    const { sab, producer, consumer } = ringPair(512);
    for (let i = 0; i < 4; i++) producer.tryWrite(pattern(60, i)); // 0..256
    readAll(consumer);
    expect(producer.tryWrite(pattern(252, 5))).toBe(true); // 256..512 exactly
    expect(prefixAt(sab, 256)).toBe(252);
    expect(producer.depthBytes()).toBe(256);
    expect(producer.tryWrite(pattern(60, 6))).toBe(true); // 0..64, no skip marker
    expect(prefixAt(sab, 0)).toBe(60);
    expect(producer.depthBytes()).toBe(256 + 64);
    expect(readAll(consumer)).toEqual([pattern(252, 5), pattern(60, 6)]);
    expect(consumer.depthBytes()).toBe(0);
  });

  it('wraps a record that does not fit before the end behind a skip marker', () => {
    const { sab, producer, consumer } = ringPair(256);
    for (let i = 0; i < 3; i++) producer.tryWrite(pattern(60, i)); // 0..192
    readAll(consumer);
    expect(producer.tryWrite(pattern(100, 9))).toBe(true); // 104 > 64 left: pad 192..256, record 0..104
    expect(prefixAt(sab, 192)).toBe(ringLayout.skipMarker);
    expect(prefixAt(sab, 0)).toBe(100);
    expect(consumer.depthBytes()).toBe(64 + 104);
    expect(consumer.read()).toEqual(pattern(100, 9));
    expect(consumer.depthBytes()).toBe(0);
    expect(consumer.read()).toBeNull();
  });

  it('counts the padding when deciding whether a wrapping record fits', () => {
    const { producer, consumer } = ringPair(256);
    for (let i = 0; i < 3; i++) producer.tryWrite(pattern(60, i)); // 0..192
    consumer.read(); // 128 free: 64 at the end + 64 at the start
    expect(producer.tryWrite(pattern(100, 9))).toBe(false); // needs 64 padding + 104
    consumer.read(); // 192 free
    expect(producer.tryWrite(pattern(100, 9))).toBe(true);
    expect(readAll(consumer)).toEqual([pattern(60, 2), pattern(100, 9)]);
  });

  it('refuses a write to a full ring and changes nothing', () => {
    const { sab, producer, consumer } = ringPair(256);
    let written = 0;
    while (producer.tryWrite(pattern(28, written))) written += 1;
    expect(written).toBe(256 / 32);
    expect(producer.depthBytes()).toBe(256);
    const before = new Uint8Array(sab).slice();
    expect(producer.tryWrite(pattern(1, 0))).toBe(false);
    expect(producer.tryWriteParts(pattern(1, 0), pattern(1, 0))).toBe(false);
    expect(producer.notify()).toBe(false);
    expect(new Uint8Array(sab)).toEqual(before);
    expect(consumer.read()).toEqual(pattern(28, 0));
    expect(producer.tryWrite(pattern(28, 99))).toBe(true);
    const rest = readAll(consumer);
    expect(rest).toHaveLength(written);
    expect(rest[rest.length - 1]).toEqual(pattern(28, 99));
  });

  it('carries the largest record from every start position, and refuses empty or larger ones', () => {
    const capacityBytes = 256;
    const recordBytesMax = capacityBytes / 2 - ringLayout.recordPrefixBytes;
    for (let position = 0; position < capacityBytes; position += ringLayout.recordAlignBytes) {
      const { producer, consumer } = ringPairAt(capacityBytes, position);
      expect(producer.recordBytesMax).toBe(recordBytesMax);
      expect(producer.tryWrite(pattern(recordBytesMax, position))).toBe(true);
      expect(consumer.read()).toEqual(pattern(recordBytesMax, position));
    }
    const { producer, consumer } = ringPair(capacityBytes);
    expectRingError(() => producer.tryWrite(new Uint8Array(0)), RingErrorCode.RECORD_SIZE);
    expectRingError(() => producer.tryWrite(new Uint8Array(recordBytesMax + 1)), RingErrorCode.RECORD_SIZE);
    expectRingError(
      () => producer.tryWriteParts(new Uint8Array(0), new Uint8Array(0)),
      RingErrorCode.RECORD_SIZE,
    );
    expectRingError(
      () => producer.tryWriteParts(new Uint8Array(100), new Uint8Array(recordBytesMax - 99)),
      RingErrorCode.RECORD_SIZE,
    );
    expect(producer.depthBytes()).toBe(0);
    expect(consumer.read()).toBeNull();
  });

  it('carries a record of engine.ringRecordBytesMax in a ring of engine.ringBytes', () => {
    const { producer, consumer } = ringPair(engine.ringBytes);
    const record = pattern(engine.ringRecordBytesMax, 5);
    expect(producer.tryWrite(record)).toBe(true);
    expectBytes(consumer.read(), record);
    expectRingError(
      () => producer.tryWrite(new Uint8Array(engine.ringRecordBytesMax + 1)),
      RingErrorCode.RECORD_SIZE,
    );
  });

  it('writes one record from two parts', () => {
    const { producer, consumer } = ringPair(256);
    const head = pattern(3, 1);
    const tail = pattern(50, 2);
    expect(producer.tryWriteParts(head, tail)).toBe(true);
    expect(producer.tryWriteParts(new Uint8Array(0), tail)).toBe(true);
    expect(producer.tryWriteParts(head, new Uint8Array(0))).toBe(true);
    expect(readAll(consumer)).toEqual([new Uint8Array([...head, ...tail]), tail, head]);
  });

  it('keeps working when the free-running indices cross 2^31 and 2^32', () => {
    for (const startIndex of [0x7fffff00, -256]) {
      const { sab, producer, consumer } = ringPairAt(256, startIndex);
      const stream = new RingStream(7, producer.recordBytesMax);
      const verifier = new RingStreamVerifier(new RingStream(7, producer.recordBytesMax));
      for (let sequence = 0; sequence < 2000; ) {
        while (sequence < 2000 && producer.tryWrite(stream.record(sequence))) sequence += 1;
        consumer.drain(3, (bytes) => verifier.check(bytes));
      }
      for (let record = consumer.read(); record !== null; record = consumer.read()) verifier.check(record);
      expect(verifier.count).toBe(2000);
      const endIndex = headerOf(sab)[writeIndexSlot];
      expect(Math.sign(endIndex)).toBe(-Math.sign(startIndex)); // it crossed the wrap
    }
  });

  it('matches a queue model over seeded random writes, reads and drains, refusing only when out of room', () => {
    const capacityBytes = 512;
    const { sab, producer, consumer } = ringPair(capacityBytes);
    const header = headerOf(sab);
    const rng = new Xorshift32(42);
    const model: Uint8Array[] = [];
    let salt = 0;
    let refusals = 0;
    for (let step = 0; step < 50_000; step++) {
      const op = rng.u32() % 4;
      if (op <= 1) {
        const record = pattern(rng.intModulo(1, producer.recordBytesMax), salt++);
        const position = header[writeIndexSlot] & (capacityBytes - 1);
        const spanBytes = recordSpanBytes(record.length);
        const tailBytes = capacityBytes - position;
        const needBytes = spanBytes <= tailBytes ? spanBytes : tailBytes + spanBytes;
        const fits = needBytes <= capacityBytes - producer.depthBytes();
        const written =
          op === 0 ? producer.tryWrite(record) : producer.tryWriteParts(record.subarray(0, 1), record.subarray(1));
        if (written !== fits) expect({ step, written }).toEqual({ step, written: fits });
        if (written) model.push(record);
        else refusals += 1;
      } else if (op === 2) {
        const got = consumer.read();
        const expected = model.shift();
        if (expected === undefined) expect(got).toBeNull();
        else expectBytes(got, expected);
      } else {
        const max = rng.intModulo(1, 5);
        const expected = model.splice(0, max);
        const got: Uint8Array[] = [];
        expect(consumer.drain(max, (bytes) => got.push(bytes.slice()))).toBe(expected.length);
        got.forEach((bytes, i) => expectBytes(bytes, expected[i]));
      }
    }
    expect(refusals).toBeGreaterThan(0);
    expect(readAll(consumer)).toEqual(model);
  });
});

describe('drain', () => {
  it('hands up to max records as views and releases them with one store at the end', () => {
    const { producer, consumer } = ringPair(1024);
    for (let i = 0; i < 10; i++) producer.tryWrite(pattern(20, i));
    const depthBeforeBytes = producer.depthBytes();
    const got: Uint8Array[] = [];
    const handled = consumer.drain(4, (bytes) => {
      expect(bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(producer.depthBytes()).toBe(depthBeforeBytes); // nothing released yet
      got.push(bytes.slice());
    });
    expect(handled).toBe(4);
    expect(got).toEqual([0, 1, 2, 3].map((i) => pattern(20, i)));
    expect(producer.depthBytes()).toBe(depthBeforeBytes - 4 * recordSpanBytes(20));
    expect(consumer.drain(100, () => {})).toBe(6);
    expect(consumer.drain(100, () => {})).toBe(0);
    expect(producer.depthBytes()).toBe(0);
  });

  it('releases the records before a throwing callback and hands the throwing one again', () => {
    const { producer, consumer } = ringPair(1024);
    for (let i = 0; i < 3; i++) producer.tryWrite(pattern(10, i));
    let calls = 0;
    expect(() =>
      consumer.drain(10, () => {
        calls += 1;
        if (calls === 2) throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(producer.depthBytes()).toBe(2 * recordSpanBytes(10));
    expect(readAll(consumer)).toEqual([pattern(10, 1), pattern(10, 2)]);
  });

  it('refuses a read from inside its callback, and a bad max', () => {
    const { producer, consumer } = ringPair(1024);
    producer.tryWrite(pattern(10, 0));
    expectRingError(() => consumer.drain(1, () => consumer.read()), RingErrorCode.INVARIANT);
    expect(consumer.read()).toEqual(pattern(10, 0));
    expect(() => consumer.drain(0, () => {})).toThrow(RangeError);
    expect(() => consumer.drain(1.5, () => {})).toThrow(RangeError);
  });
});

describe('ring invariants', () => {
  it('throws on a corrupt record length instead of handing on bytes', () => {
    for (const badLength of [0, -5, 1 << 20, 2000]) {
      const { sab, producer, consumer } = ringPair(4096);
      producer.tryWrite(pattern(8, 0));
      setPrefixAt(sab, 0, badLength);
      expectRingError(() => consumer.read(), RingErrorCode.INVARIANT);
      expectRingError(() => consumer.drain(1, () => {}), RingErrorCode.INVARIANT);
    }
  });

  it('throws on a record that runs past the published data', () => {
    const { sab, producer, consumer } = ringPair(4096);
    producer.tryWrite(pattern(8, 0));
    setPrefixAt(sab, 0, 100);
    expectRingError(() => consumer.read(), RingErrorCode.INVARIANT);
  });

  it('throws on a skip marker with no record after it', () => {
    const { sab, producer, consumer } = ringPair(256);
    producer.tryWrite(pattern(8, 0));
    setPrefixAt(sab, 0, ringLayout.skipMarker);
    expectRingError(() => consumer.read(), RingErrorCode.INVARIANT);
  });

  it('throws on indices further apart than the capacity', () => {
    const { sab, producer, consumer } = ringPair(256);
    const header = headerOf(sab);
    header[writeIndexSlot] = 256 + 4;
    expectRingError(() => consumer.read(), RingErrorCode.INVARIANT);
    expectRingError(() => new RingConsumer(sab), RingErrorCode.INVARIANT);
    header[writeIndexSlot] = 0;
    header[readIndexSlot] = 8; // read ahead of write
    expectRingError(() => producer.depthBytes(), RingErrorCode.INVARIANT);
    expectRingError(() => new RingProducer(sab), RingErrorCode.INVARIANT);
  });

  it('throws when a second producer or consumer works the same ring', () => {
    const { sab, producer, consumer } = ringPair(256);
    const otherProducer = new RingProducer(sab);
    producer.tryWrite(pattern(8, 0));
    expectRingError(() => otherProducer.tryWrite(pattern(8, 1)), RingErrorCode.INVARIANT);
    producer.tryWrite(pattern(8, 2));
    const otherConsumer = new RingConsumer(sab);
    expect(otherConsumer.read()).toEqual(pattern(8, 0));
    expectRingError(() => consumer.read(), RingErrorCode.INVARIANT);
  });
});

describe('sleeping and waking on one thread', () => {
  it('does not call Atomics.notify while the consumer is awake', () => {
    const { sab, producer } = ringPair(256);
    producer.tryWrite(pattern(8, 0));
    expect(headerOf(sab)[consumerSleepingSlot]).toBe(0);
    expect(producer.notify()).toBe(false);
  });

  it('waitAsync announces sleep and the producer notify wakes it', async () => {
    const { sab, producer, consumer } = ringPair(256);
    const woken = consumer.waitAsync(60_000);
    expect(headerOf(sab)[consumerSleepingSlot]).toBe(1);
    expect(consumer.sleepCount).toBe(1);
    expect(producer.tryWrite(pattern(8, 0))).toBe(true);
    expect(producer.notify()).toBe(true);
    expect(await woken).toBe(true);
    expect(headerOf(sab)[consumerSleepingSlot]).toBe(0);
    expect(consumer.read()).toEqual(pattern(8, 0));
  });

  it('waitAsync and waitSync return at once when records wait, without sleeping', async () => {
    const { producer, consumer } = ringPair(256);
    producer.tryWrite(pattern(8, 0));
    expect(await consumer.waitAsync(60_000)).toBe(true);
    expect(consumer.waitSync(60_000)).toBe(true);
    expect(consumer.sleepCount).toBe(0);
  });

  it('waitAsync and waitSync time out on an empty ring and clear the flag', async () => {
    const { sab, consumer } = ringPair(256);
    expect(await consumer.waitAsync(1)).toBe(false);
    expect(consumer.waitSync(1)).toBe(false);
    expect(consumer.sleepCount).toBe(2);
    expect(headerOf(sab)[consumerSleepingSlot]).toBe(0);
  });
});

describe('ring across real threads', () => {
  const streamRecords = 200_000;
  const smallRingBytes = 64 * 1024;

  it('a worker producer streams 200k seeded records to a main-thread consumer, every byte in order', async () => {
    const sab = createRing(smallRingBytes);
    const consumer = new RingConsumer(sab);
    const verifier = new RingStreamVerifier(new RingStream(11, consumer.recordBytesMax));
    const worker = startWorker<RingProducerWorkerReport>('ring-producer-worker', {
      sab,
      seed: 11,
      records: streamRecords,
    });
    try {
      const rng = new Xorshift32(12);
      const check = (bytes: Uint8Array): void => verifier.check(bytes);
      while (verifier.count < streamRecords) {
        worker.throwIfFailed();
        let handled = 0;
        if (rng.u32() % 2 === 0) {
          handled = consumer.drain(rng.intModulo(1, 256), check);
        } else {
          const copy = consumer.read();
          if (copy !== null) {
            check(copy);
            handled = 1;
          }
        }
        if (handled === 0) await consumer.waitAsync(100);
      }
      const report = await worker.report;
      expect(report.records).toBe(streamRecords);
      expect(report.fullCount).toBeGreaterThan(0); // the ring filled up
      expect(verifier.bytesTotal).toBeGreaterThan(100 * smallRingBytes); // and wrapped
      expect(consumer.read()).toBeNull();
      expect(consumer.depthBytes()).toBe(0);
    } finally {
      await worker.worker.terminate();
    }
  });

  it('the main thread streams 200k seeded records to a worker consumer that verifies them', async () => {
    const sab = createRing(smallRingBytes);
    const producer = new RingProducer(sab);
    const stream = new RingStream(21, producer.recordBytesMax);
    const worker = startWorker<RingConsumerWorkerReport>('ring-consumer-worker', {
      sab,
      seed: 21,
      records: streamRecords,
    });
    try {
      const rng = new Xorshift32(22);
      let sequence = 0;
      let fullCount = 0;
      while (sequence < streamRecords) {
        worker.throwIfFailed();
        const batchRecords = rng.intModulo(1, 64);
        let written = 0;
        for (; written < batchRecords && sequence < streamRecords; written++) {
          const record = stream.record(sequence);
          const cut = stream.splitAt(sequence, record.length);
          const ok =
            sequence % 2 === 0
              ? producer.tryWrite(record)
              : producer.tryWriteParts(record.subarray(0, cut), record.subarray(cut));
          if (!ok) break;
          sequence += 1;
        }
        producer.notify();
        if (written < batchRecords && sequence < streamRecords) {
          fullCount += 1;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const report = await worker.report;
      expect(report.records).toBe(streamRecords);
      expect(report.bytesTotal).toBeGreaterThan(100 * smallRingBytes);
      expect(fullCount).toBeGreaterThan(0);
      expect(producer.depthBytes()).toBe(0);
    } finally {
      await worker.worker.terminate();
    }
  });

  it('never loses a wake-up: 2000 ping-pongs where both sides sleep between messages', async () => {
    const rounds = 2000;
    const waitTimeoutMs = 10_000; // only a lost wake-up can use this up
    const requestRing = createRing(4096);
    const replyRing = createRing(4096);
    const requests = new RingProducer(requestRing);
    const replies = new RingConsumer(replyRing);
    const worker = startWorker<RingEchoWorkerReport>('ring-echo-worker', {
      requestRing,
      replyRing,
      rounds,
      waitTimeoutMs,
    });
    try {
      let timeouts = 0;
      for (let round = 0; round < rounds; round++) {
        const sent = pattern(1 + (round % 200), round);
        expect(requests.tryWrite(sent)).toBe(true);
        requests.notify();
        let reply = replies.read();
        while (reply === null) {
          worker.throwIfFailed();
          if (!(await replies.waitAsync(waitTimeoutMs))) timeouts += 1;
          reply = replies.read();
        }
        expect(reply).toEqual(sent);
      }
      const report = await worker.report;
      expect(report.echoed).toBe(rounds);
      expect(timeouts).toBe(0);
      expect(report.timeouts).toBe(0);
      expect(replies.sleepCount).toBeGreaterThan(0);
      expect(report.sleepCount).toBeGreaterThan(0);
    } finally {
      await worker.worker.terminate();
    }
  });
});

/** Worker threads load compiled JS: fail loudly when it is missing or older than its source. */
function compiledFixture(name: string): string {
  const root = path.resolve(__dirname, '..');
  const sources = [`test/fixtures/${name}.ts`, 'test/fixtures/ring-stream.ts', 'test/support/prng.ts', 'engine/ring-buffer.ts', 'engine/ring-layout.ts'];
  for (const source of sources) {
    const compiled = path.join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(compiled)) {
      throw new Error(`${compiled} does not exist: worker threads load compiled JS, run "npm run build" (tsc) first`);
    }
    if (fs.statSync(compiled).mtimeMs < fs.statSync(path.join(root, source)).mtimeMs) {
      throw new Error(`${compiled} is older than ${source}: run "npm run build" (tsc) first`);
    }
  }
  return path.join(root, 'dist/test/fixtures', `${name}.js`);
}

function startWorker<Report extends { error?: string }>(fixture: string, workerData: unknown) {
  const worker = new Worker(compiledFixture(fixture), { workerData });
  let failure: Error | null = null;
  const report = new Promise<Report>((resolve, reject) => {
    worker.once('message', (message: Report) => {
      if (message.error !== undefined) reject(new Error(`${fixture}: ${message.error}`));
      else resolve(message);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${fixture} exited (code ${code}) before reporting`)));
  });
  report.catch((error: Error) => {
    failure = error;
  });
  return {
    worker,
    report,
    throwIfFailed(): void {
      if (failure !== null) throw failure;
    },
  };
}
