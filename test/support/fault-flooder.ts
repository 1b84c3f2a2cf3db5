/**
 * A master connection that sends as fast as it can, on its own thread so
 * that the flood does not share the test's event loop with the clients it
 * is measuring. It sends the given frames round and round (after the first
 * pass they are duplicates and replays), keeps its own send buffer under
 * `bufferedBytesMax`, and counts the server's answers by kind and code.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface FloodReport {
  sent: number;
  answers: number;
  accepted: number;
  duplicate: number;
  rejects: Record<string, number>;
  closeCode: number | null;
  /** From the first frame sent until the report (the stop and the wait for answers): the server processed every counted frame within it. */
  elapsedMs: number;
}

export interface Flooder {
  /** Resolves once the connection is open and the first frame is out. */
  started: Promise<void>;
  /** Stops sending, waits (at most `drainMs`) for the answers to what was sent, and reports. */
  stop(drainMs?: number): Promise<FloodReport>;
}

const wsPath = require.resolve('ws');

/** The worker's code: plain CommonJS (a worker cannot load this file's TypeScript); the codec comes from the built protocol package (proto/dist/). */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const { decodeFrame, rejectCodeName } = require(workerData.codecPath);
const report = { sent: 0, answers: 0, accepted: 0, duplicate: 0, rejects: {}, closeCode: null, elapsedMs: 0 };
const ws = new WebSocket(workerData.url, { headers: { authorization: 'Bearer ' + workerData.token }, perMessageDeflate: false });
let sending = true;
let startedAt = 0;
let drainWaiter = null;
function pump() {
  if (!sending || ws.readyState !== WebSocket.OPEN) return;
  for (let i = 0; i < 256 && ws.bufferedAmount < workerData.bufferedBytesMax; i++) {
    ws.send(workerData.frames[report.sent % workerData.frames.length]);
    report.sent++;
  }
  setImmediate(pump);
}
ws.on('message', (data) => {
  const f = decodeFrame(new Uint8Array(data));
  if (f === null) return;
  if (f.kind === 'welcome') {
    startedAt = Date.now();
    parentPort.postMessage({ t: 'started' });
    pump();
    return;
  }
  if (f.kind === 'ack') {
    report.answers++;
    if (f.ack.status === 2) report.duplicate++;
    else report.accepted++;
  } else if (f.kind === 'reject') {
    report.answers++;
    const code = rejectCodeName(f.reject.code);
    report.rejects[code] = (report.rejects[code] || 0) + 1;
  }
  if (drainWaiter !== null && report.answers >= report.sent) drainWaiter();
});
ws.on('close', (code) => {
  report.closeCode = code;
  if (drainWaiter !== null) drainWaiter();
});
ws.on('error', (error) => parentPort.postMessage({ t: 'error', message: error.message }));
parentPort.on('message', (m) => {
  if (m.t !== 'stop') return;
  sending = false;
  const done = () => {
    drainWaiter = null;
    report.elapsedMs = startedAt === 0 ? 0 : Date.now() - startedAt;
    parentPort.postMessage({ t: 'report', report });
    ws.terminate();
  };
  if (report.closeCode !== null || report.answers >= report.sent) return done();
  drainWaiter = done;
  setTimeout(() => drainWaiter !== null && done(), m.drainMs);
});
`;

export function startFlooder(options: { url: string; token: string; frames: Uint8Array[]; bufferedBytesMax?: number }): Flooder {
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      url: options.url,
      token: options.token,
      frames: options.frames,
      bufferedBytesMax: options.bufferedBytesMax ?? 4 * 1024 * 1024,
      wsPath,
      codecPath: path.resolve(__dirname, '../../proto/dist/codec.js'),
    },
  });
  let failure: Error | null = null;
  const started = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { t: string; message?: string }) => {
      if (m.t === 'started') resolve();
      if (m.t === 'error') {
        failure = new Error(`flooder: ${m.message}`);
        reject(failure);
      }
    });
    worker.once('error', reject);
  });
  return {
    started,
    stop(drainMs = 15_000) {
      return new Promise<FloodReport>((resolve, reject) => {
        if (failure !== null) return reject(failure);
        worker.on('message', (m: { t: string; report?: FloodReport }) => {
          if (m.t !== 'report') return;
          void worker.terminate();
          resolve(m.report!);
        });
        worker.postMessage({ t: 'stop', drainMs });
      });
    },
  };
}
