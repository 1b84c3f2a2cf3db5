/**
 * The floor: sigplane's shape with none of sigplane's work. One uWebSockets.js
 * I/O thread, one worker thread, the engine's SharedArrayBuffer rings
 * between them, and a SQLite journal in WAL mode with synchronous FULL,
 * committed once per batch before anything of the batch goes out. No
 * authentication, no MAC, no decoding, no sequencing, no actor, no
 * Postgres shipping, no receiver acks: each master frame is journaled as
 * it came, then forwarded to every receiver of its channel and its first
 * 8 bytes echoed to the master as the ack (the same wire contract as
 * bench/load/ws-relay-server.ts, so the same adapter drives both).
 *
 * What this server costs at a given load is what the design card's shape
 * costs by itself on this machine, for the work per signal: a target that
 * this server misses at a low rate cannot be met by sigplane in that shape,
 * whatever sigplane's own code does. It is no floor for wake-ups: it wakes
 * its worker for every frame, where sigplane's shard batches, so from a few
 * thousand signals a second on its kernel time can exceed sigplane's.
 *
 *   node dist/bench/load/floor/floor-server.js [port] [full|normal]   prints "floor listening on port N"
 *
 * The second argument is the journal's sync (default full), as sigplane's
 * --journal-sync: the floor of sigplane-sync-normal is the floor with normal.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as Uws from 'uWebSockets.js';
import { listenExclusive } from '../../../io/listen-exclusive';
import { loadNativeUws } from '../../../io/uws-native';
import { createRing, RingConsumer, RingProducer } from '../../../engine/ring-buffer';
import { floorRecord, type FloorWorkerData } from './floor-records';

interface Socket {
  role: 'm' | 'r';
  channel: number;
}

const uws = loadNativeUws();
const journalDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-floor-'));
const inRing = createRing();
const outRing = createRing();
const inbound = new RingProducer(inRing);
const outbound = new RingConsumer(outRing);
const journalSync = process.argv[3] === 'normal' ? 'normal' : 'full';
const worker = new Worker(path.join(__dirname, 'floor-worker.js'), {
  workerData: { inRing, outRing, journalPath: path.join(journalDir, 'floor.db'), journalSync } satisfies FloorWorkerData,
});

const channelIds = new Map<string, number>();
const receivers: Uws.WebSocket<Socket>[][] = [];
const masters: (Uws.WebSocket<Socket> | undefined)[] = [];

function channelId(name: string): number {
  let id = channelIds.get(name);
  if (id === undefined) {
    id = channelIds.size;
    channelIds.set(name, id);
    receivers.push([]);
    masters.push(undefined);
  }
  return id;
}

const head = new Uint8Array(4);
const headView = new DataView(head.buffer);

const app = uws.App().ws<Socket>('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 4096,
  idleTimeout: 0,
  upgrade: (res, req, context) => {
    const [, role, channel] = req.getUrl().split('/');
    res.upgrade<Socket>(
      { role: role === 'm' ? 'm' : 'r', channel: channelId(channel ?? '') },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const data = ws.getUserData();
    if (data.role === 'r') receivers[data.channel].push(ws);
    else masters[data.channel] = ws;
  },
  message: (ws, message) => {
    const data = ws.getUserData();
    if (data.role !== 'm') return;
    headView.setUint32(0, data.channel, true);
    while (!inbound.tryWriteParts(head, new Uint8Array(message))) inbound.notify();
    inbound.notify();
  },
  close: (ws) => {
    const data = ws.getUserData();
    if (data.role === 'r') {
      const list = receivers[data.channel];
      list.splice(list.indexOf(ws), 1);
    } else if (masters[data.channel] === ws) masters[data.channel] = undefined;
  },
});

/** This batch's journaled frames, by channel (copied out of the ring). */
const batch = new Map<number, Buffer[]>();

function take(bytes: Uint8Array): void {
  const { channel, payload } = floorRecord(bytes);
  let frames = batch.get(channel);
  if (frames === undefined) batch.set(channel, (frames = []));
  frames.push(Buffer.from(payload));
}

/** Each socket's frames of the batch in one cork (one write), as sigplane's io/corked-sends.ts does: to every receiver of the channel, then the first 8 bytes of each back to the master. */
function forwardBatch(): void {
  for (const [channel, frames] of batch) {
    for (const ws of receivers[channel] ?? []) ws.cork(() => {
      for (const frame of frames) ws.send(frame, true);
    });
    const master = masters[channel];
    master?.cork(() => {
      for (const frame of frames) master.send(frame.subarray(0, 8), true);
    });
  }
  batch.clear();
}

async function forwardForever(): Promise<void> {
  for (;;) {
    if (!(await outbound.waitAsync(1_000))) continue;
    outbound.drain(Number.MAX_SAFE_INTEGER, take);
    forwardBatch();
  }
}

listenExclusive(uws, app, { what: 'floor', host: '127.0.0.1', port: Number(process.argv[2] ?? 0), setting: 'its first argument' }).then(
  (socket) => {
    process.stdout.write(`floor listening on port ${uws.us_socket_local_port(socket)}\n`);
    void forwardForever();
  },
  (error: Error) => {
    process.stderr.write(`floor: ${error.message}\n`);
    process.exit(1);
  },
);

const stop = (): void => {
  void worker.terminate().then(() => {
    fs.rmSync(journalDir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
