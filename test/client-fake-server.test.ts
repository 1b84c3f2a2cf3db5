/**
 * MasterClient and ReceiverClient against a scripted in-process WebSocket
 * peer (no sigplane server): the upgrade, ordering, resend and reconnect
 * behaviour of the clients themselves. End-to-end tests against the real
 * server live elsewhere.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  decodeFrame,
  decodeSignalBody,
  decodeSnapshotBody,
  encodeAck,
  encodeDelivery,
  encodeFrame,
  encodeReject,
  encodeSnapshot,
  encodeStateChange,
  encodeSyncRequest,
  encodeWelcome,
  exactDecimal,
  safeInteger,
  type DecodedFrame,
  type SignalRecord,
} from '@sigplane/protocol';
import { MasterClient, ReceiverClient, type ReceivedDelivery, type SigplaneClientError } from '../client/index';

const subscriptionId = '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e';
const key = Buffer.alloc(32, 9);
const fast = { minMs: 10, maxMs: 40 };

class Peer {
  readonly frames: DecodedFrame[] = [];
  readonly raw: Buffer[] = [];
  private waiters: Array<{ match: (f: DecodedFrame) => boolean; resolve: (f: DecodedFrame) => void }> = [];
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly request: http.IncomingMessage,
  ) {
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(new Uint8Array(data));
      if (frame?.kind === 'heartbeat') return;
      this.raw.push(Buffer.from(data));
      if (frame === null) return;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    ws.on('close', () => {
      this.closed = true;
    });
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  /** The next frame (already received or future) matching, counting from `from`. */
  waitFor(match: (f: DecodedFrame) => boolean, timeoutMs = 5_000): Promise<DecodedFrame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('frame not received')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  kinds(kind: DecodedFrame['kind']): DecodedFrame[] {
    return this.frames.filter((f) => f.kind === kind);
  }
}

class FakeServer {
  readonly peers: Peer[] = [];
  upgrades = 0;
  /** Decide each upgrade: a status to refuse with (and its JSON code), or null to accept. */
  refuse: (attempt: number) => { status: number; code: string } | null = () => null;
  onPeer: (peer: Peer) => void = () => undefined;
  private readonly http = http.createServer();
  private readonly wss = new WebSocketServer({ noServer: true });
  private peerWaiters: Array<(p: Peer) => void> = [];

  async start(): Promise<string> {
    this.http.on('upgrade', (request, socket, head) => {
      this.upgrades++;
      const refusal = this.refuse(this.upgrades);
      if (refusal !== null) {
        const body = JSON.stringify({ code: refusal.code });
        socket.end(
          `HTTP/1.1 ${refusal.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        const peer = new Peer(ws, request);
        this.peers.push(peer);
        this.onPeer(peer);
        const waiters = this.peerWaiters;
        this.peerWaiters = [];
        for (const w of waiters) w(peer);
      });
    });
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** The peer number `index` (0-based), waiting for it if needed. */
  async peer(index: number, timeoutMs = 5_000): Promise<Peer> {
    const deadline = Date.now() + timeoutMs;
    while (this.peers.length <= index) {
      if (Date.now() > deadline) throw new Error(`peer ${index} never connected`);
      await new Promise<void>((resolve) => {
        this.peerWaiters.push(() => resolve());
        setTimeout(resolve, 50);
      });
    }
    return this.peers[index];
  }

  async stop(): Promise<void> {
    for (const peer of this.peers) peer.ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function record(sequence: number, over: Partial<SignalRecord> = {}): SignalRecord {
  return {
    subscriptionId,
    sequence,
    generatedAtMs: 1_767_225_600_000 + sequence,
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08,
    action: 0,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: new Uint8Array(),
    receivedAtMs: 1_767_225_600_500 + sequence,
    ...over,
  };
}

function signalSequence(frame: DecodedFrame): number | null {
  if (frame.kind === 'signalV1') return safeInteger(frame.signalV1.sequenceNumber);
  if (frame.kind === 'signalV2') return safeInteger(decodeSignalBody(frame.signalV2.body)!.sequenceNumber);
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let server: FakeServer;
let url: string;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(async () => {
  server = new FakeServer();
  url = await server.start();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await server.stop();
});

function newMaster(): MasterClient {
  const master = new MasterClient();
  cleanups.push(() => master.close());
  return master;
}
function newReceiver(): ReceiverClient {
  const receiver = new ReceiverClient();
  cleanups.push(() => receiver.close());
  return receiver;
}

describe('upgrade', () => {
  it('sends the token only in the Authorization header', async () => {
    server.onPeer = (peer) => peer.send(encodeWelcome(subscriptionId, 'ACTIVE', 0, 'master'));
    const master = newMaster();
    await master.connect(`${url}/v1/master`, 'spm_secret', { signing: { version: 2, keyId: 'k', key } });
    const peer = await server.peer(0);
    expect(peer.request.headers.authorization).toBe('Bearer spm_secret');
    expect(peer.request.url).toBe('/v1/master');
  });

  it('reports a 401/403 refusal with its HTTP status and code, and does not retry it', async () => {
    server.refuse = () => ({ status: 403, code: 'IP_NOT_ALLOWED' });
    const receiver = newReceiver();
    const closes: number[] = [];
    const error = await receiver
      .connect(`${url}/v1/receiver`, 'spr_x', { onSignal: () => undefined, onSnapshot: () => undefined, reconnect: fast, onClose: (code) => closes.push(code) })
      .catch((e: SigplaneClientError) => e);
    expect(error).toMatchObject({ code: 'UPGRADE_REFUSED', httpStatus: 403, refusalCode: 'IP_NOT_ALLOWED' });
    await sleep(150);
    expect(server.upgrades).toBe(1);
    expect(closes).toHaveLength(1);
  });

  it('retries a 503 with backoff until the server takes it', async () => {
    server.refuse = (attempt) => (attempt < 3 ? { status: 503, code: 'UNAVAILABLE' } : null);
    server.onPeer = (peer) => peer.send(encodeWelcome(subscriptionId, 'ACTIVE', 4, 'master'));
    const master = newMaster();
    const errors: SigplaneClientError[] = [];
    const welcome = await master.connect(`${url}/v1/master`, 't', { signing: { version: 1, secret: 's' }, reconnect: fast, onError: (e) => errors.push(e) });
    expect(welcome).toEqual({ subscriptionId, state: 'ACTIVE', lastSequence: 4, role: 'master', signalsPerSecond: 0, signalsBurst: 0 });
    expect(server.upgrades).toBe(3);
    expect(errors.map((e) => e.httpStatus)).toEqual([503, 503]);
  });
});

describe('MasterClient', () => {
  async function connected(options: Partial<Parameters<MasterClient['connect']>[2]> = {}, lastSequence = 10): Promise<{ master: MasterClient; peer: Peer }> {
    server.onPeer = (peer) => peer.send(encodeWelcome(subscriptionId, 'ACTIVE', lastSequence, 'master'));
    const master = newMaster();
    await master.connect(`${url}/v1/master`, 't', { signing: { version: 2, keyId: 'k1', key }, reconnect: fast, ...options });
    return { master, peer: await server.peer(0) };
  }

  it('numbers from welcome.lastSequence + 1, signs, and resolves on the ack', async () => {
    const { master, peer } = await connected({ clock: () => 1_767_225_600_000 });
    const published = master.publish({ symbol: 'XAUUSD', orderType: 0, volume: 1, price: 2650.5, action: 1, positionId: 77, stopLoss: 2600 });
    const frame = await peer.waitFor((f) => f.kind === 'signalV2');
    if (frame.kind !== 'signalV2') throw new Error('unreachable');
    expect(Buffer.from(frame.signalV2.mac)).toEqual(createHmac('sha256', key).update(frame.signalV2.body).digest());
    const body = decodeSignalBody(frame.signalV2.body)!;
    expect(exactDecimal(body.sequenceNumber)).toBe('11');
    expect(exactDecimal(body.generatedAt)).toBe('1767225600000');
    expect(body).toMatchObject({ subscriptionId, symbol: 'XAUUSD', action: 1, stopLoss: 2600 });
    expect(exactDecimal(body.positionId)).toBe('77');
    peer.send(encodeAck(11, 'ACCEPTED'));
    await expect(published).resolves.toEqual({ sequence: 11, status: 'ACCEPTED' });
    expect(master.outboxSize).toBe(0);
  });

  it('treats RATE_LIMITED as BUSY: nothing is rejected, the refused signals go again from N with the same bytes', async () => {
    const { master, peer } = await connected();
    const published = [0, 1, 2].map(() => master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.5 }));
    await peer.waitFor(() => peer.kinds('signalV2').length === 3);
    const first = peer.raw.slice(0, 3);
    peer.send(encodeAck(11, 'ACCEPTED'));
    peer.send(encodeReject('RATE_LIMITED', 'rate limit exceeded, resend from 12', 12));
    peer.send(encodeReject('BUSY', 'engine busy, resend from 12', 13));
    // Again from 12, byte-identical, within the halved window (one in flight): 13 once 12 is acked.
    await peer.waitFor(() => peer.kinds('signalV2').length === 4);
    expect(peer.raw[3]).toEqual(first[1]);
    peer.send(encodeAck(12, 'ACCEPTED'));
    await peer.waitFor(() => peer.kinds('signalV2').length === 5);
    expect(peer.raw[4]).toEqual(first[2]);
    peer.send(encodeAck(13, 'ACCEPTED'));
    await expect(Promise.all(published)).resolves.toEqual([11, 12, 13].map((sequence) => ({ sequence, status: 'ACCEPTED' })));
  });

  it('rejects with the stable code and reuses a rejected newest sequence', async () => {
    const { master, peer } = await connected();
    const first = master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.5 });
    await peer.waitFor((f) => signalSequence(f) === 11);
    peer.send(encodeReject('PRICE_DEVIATION', 'too far', 11));
    await expect(first).rejects.toMatchObject({ code: 'PRICE_DEVIATION', sequence: 11 });
    const second = master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1.08 });
    expect(master.nextPublishSequence).toBe(12);
    await peer.waitFor(() => peer.kinds('signalV2').length === 2);
    expect(signalSequence(peer.kinds('signalV2')[1])).toBe(11);
    peer.send(encodeAck(11, 'ACCEPTED'));
    await expect(second).resolves.toEqual({ sequence: 11, status: 'ACCEPTED' });
  });

  it('refuses v2-only fields under v1 signing, and publishing before a welcome', async () => {
    const early = new MasterClient();
    await expect(early.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 })).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    const { master } = await connected({ signing: { version: 1, secret: 's' } });
    await expect(master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1, takeProfit: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(master.nextPublishSequence).toBe(11);
  });

  it('a full outbox refuses with OUTBOX_FULL and consumes no sequence', async () => {
    const { master } = await connected({ outboxSignalsMax: 3 });
    const pending = [1, 2, 3].map(() => master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 }));
    for (const p of pending) p.catch(() => undefined);
    await expect(master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 })).rejects.toMatchObject({ code: 'OUTBOX_FULL' });
    expect(master.nextPublishSequence).toBe(14);
  });

  it('after a reconnect: settles what the server has, resends the rest with the same bytes, in order', async () => {
    let welcomeLast = 10;
    server.onPeer = (peer) => peer.send(encodeWelcome(subscriptionId, 'ACTIVE', welcomeLast, 'master'));
    const master = newMaster();
    await master.connect(`${url}/v1/master`, 't', { signing: { version: 1, secret: 'secret' }, reconnect: fast });
    const first = await server.peer(0);
    const published = [0, 1, 2, 3].map((i) => master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 + i / 100 }));
    await first.waitFor(() => first.kinds('signalV1').length === 4);
    first.send(encodeAck(11, 'ACCEPTED'));
    await expect(published[0]).resolves.toEqual({ sequence: 11, status: 'ACCEPTED' });
    // 12 was journaled but its ack was lost; 13 and 14 never arrived.
    welcomeLast = 12;
    first.ws.terminate();
    const second = await server.peer(1);
    await second.waitFor(() => second.kinds('signalV1').length === 2);
    await expect(published[1]).resolves.toEqual({ sequence: 12, status: 'ACCEPTED' });
    expect(second.kinds('signalV1').map(signalSequence)).toEqual([13, 14]);
    expect(second.raw).toEqual(first.raw.slice(2, 4)); // byte-identical resend
    second.send(encodeAck(13, 'ACCEPTED'));
    second.send(encodeAck(14, 'DUPLICATE'));
    await expect(Promise.all(published.slice(2))).resolves.toEqual([
      { sequence: 13, status: 'ACCEPTED' },
      { sequence: 14, status: 'DUPLICATE' },
    ]);
    // The counter continues.
    expect(master.nextPublishSequence).toBe(15);
  });

  it('answers a range sync request with the exact frames first sent', async () => {
    const { master, peer } = await connected({}, 0);
    for (let i = 0; i < 4; i++) void master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 }).catch(() => undefined);
    await peer.waitFor(() => peer.kinds('signalV2').length === 4);
    const before = peer.raw.length;
    peer.send(encodeSyncRequest(2, 3, false));
    await peer.waitFor(() => peer.raw.length === before + 2);
    expect(peer.raw.slice(before)).toEqual(peer.raw.slice(1, 3));
  });

  it('answers a full sync request with a signed snapshot from the provider', async () => {
    const positions = [{ positionId: '5', symbol: 'EURUSD', orderType: 0, volume: 1, openPrice: 1.08, stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 3 }];
    const { peer, master } = await connected({ snapshotProvider: async () => ({ sequence: 40, positions }) });
    peer.send(encodeSyncRequest(0, 0, true));
    const frame = await peer.waitFor((f) => f.kind === 'snapshotFromMaster');
    if (frame.kind !== 'snapshotFromMaster') throw new Error('unreachable');
    expect(frame.snapshotFromMaster.keyId).toBe('k1');
    expect(Buffer.from(frame.snapshotFromMaster.mac)).toEqual(createHmac('sha256', key).update(frame.snapshotFromMaster.body).digest());
    const body = decodeSnapshotBody(frame.snapshotFromMaster.body)!;
    expect(exactDecimal(body.sequenceNumber)).toBe('40');
    expect(body.positions).toHaveLength(1);
    expect(master.nextPublishSequence).toBe(41);
  });

  it('reports a sync request it cannot answer (v1, signals no longer held)', async () => {
    const { master, peer } = await connected({ signing: { version: 1, secret: 's' } });
    const errors: SigplaneClientError[] = [];
    master.on('error', (e: SigplaneClientError) => errors.push(e));
    peer.send(encodeSyncRequest(3, 5, false));
    peer.send(encodeSyncRequest(0, 0, true));
    await sleep(100);
    expect(errors.map((e) => e.code)).toEqual(['SYNC_UNANSWERABLE', 'SYNC_UNANSWERABLE']);
  });

  it('settles held signals when the subscription is whole again (StateChange ACTIVE)', async () => {
    const { master, peer } = await connected();
    const p = master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 });
    await peer.waitFor((f) => signalSequence(f) === 11);
    const states: string[] = [];
    master.on('state', (s: { state: string }) => states.push(s.state));
    peer.send(encodeStateChange('DEGRADED', 10, 'gap'));
    peer.send(encodeStateChange('ACTIVE', 12, 'whole'));
    await expect(p).resolves.toEqual({ sequence: 11, status: 'ACCEPTED' });
    expect(states).toEqual(['DEGRADED', 'ACTIVE']);
    expect(master.nextPublishSequence).toBe(13);
  });

  it('sendSignal and sendRaw bypass the counter for crafted frames', async () => {
    const { master, peer } = await connected();
    const crafted = master.sendSignal({ sequence: 99, generatedAt: 5, symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 });
    await peer.waitFor((f) => signalSequence(f) === 99);
    peer.send(encodeReject('STALE', 'old', 99));
    await expect(crafted).rejects.toMatchObject({ code: 'STALE', sequence: 99 });
    expect(master.nextPublishSequence).toBe(11);
    const before = peer.raw.length;
    expect(master.sendRaw(Uint8Array.of(0xff, 0xff))).toBe(true);
    await expect.poll(() => peer.raw.length).toBe(before + 1);
    expect(peer.raw[before]).toEqual(Buffer.from([0xff, 0xff]));
  });

  it('close() rejects what is still pending with CLOSED', async () => {
    const { master } = await connected();
    const p = expect(master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 })).rejects.toMatchObject({ code: 'CLOSED' });
    await master.close();
    await p;
    await expect(master.publish({ symbol: 'EURUSD', orderType: 0, volume: 1, price: 1 })).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('ReceiverClient', () => {
  function serveReceiver(script: (peer: Peer, subscribe: { has: boolean; last: number }) => void): void {
    server.onPeer = (peer) => {
      void peer.waitFor((f) => f.kind === 'subscribe').then((f) => {
        if (f.kind !== 'subscribe') return;
        peer.send(encodeWelcome(subscriptionId, 'ACTIVE', 100, 'receiver'));
        script(peer, { has: f.subscribe.hasLastSequence, last: safeInteger(f.subscribe.lastSequence) ?? -1 });
      });
    };
  }

  it('subscribes with its cursor, executes in order exactly once, asks once for a gap, acks each', async () => {
    serveReceiver((peer, sub) => {
      expect(sub).toEqual({ has: true, last: 5 });
      for (const s of [6, 7, 7, 9, 10]) peer.send(encodeDelivery(record(s)));
      void peer.waitFor((f) => f.kind === 'syncRequest').then(() => {
        for (const s of [8, 9, 10, 11]) peer.send(encodeDelivery(record(s)));
      });
    });
    const executed: number[] = [];
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', {
      lastSequence: 5,
      onSignal: async (d: ReceivedDelivery) => {
        await sleep(1);
        executed.push(d.sequenceNumber);
      },
      onSnapshot: () => undefined,
      reconnect: fast,
    });
    await receiver.waitFor(11, 5_000);
    expect(executed).toEqual([6, 7, 8, 9, 10, 11]);
    expect(receiver.lastExecuted).toBe(11);
    expect(receiver.duplicatesIgnored).toBe(1); // the second 7
    expect(receiver.counters.outOfOrderIgnored).toBe(1); // 10 while 8 was missing
    expect(receiver.gapsSeen).toBe(1);
    const peer = await server.peer(0);
    const sync = peer.kinds('syncRequest');
    expect(sync).toHaveLength(1);
    if (sync[0].kind === 'syncRequest') expect(safeInteger(sync[0].syncRequest.fromSequence)).toBe(8);
    await peer.waitFor(() => peer.kinds('deliveryAck').length === 6);
    expect(peer.kinds('deliveryAck').map((f) => (f.kind === 'deliveryAck' ? safeInteger(f.deliveryAck.sequenceNumber) : null))).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it('never runs two handlers at once', async () => {
    serveReceiver((peer) => {
      for (let s = 1; s <= 20; s++) peer.send(encodeDelivery(record(s)));
    });
    let running = 0;
    let maxRunning = 0;
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', {
      lastSequence: 0,
      onSignal: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(2);
        running--;
      },
      onSnapshot: () => undefined,
    });
    await receiver.waitFor(20, 5_000);
    expect(maxRunning).toBe(1);
  });

  it('applies a snapshot and continues after its sequence; acks the snapshot', async () => {
    serveReceiver((peer) => {
      peer.send(
        encodeSnapshot(subscriptionId, 20, [
          { positionId: '1', symbol: 'EURUSD', orderType: 0, volume: 1, openPrice: 1.1, stopLoss: 0, takeProfit: 0, magic: '', openedSequence: 4 },
        ]),
      );
      peer.send(encodeDelivery(record(20)));
      peer.send(encodeDelivery(record(21)));
    });
    const events: string[] = [];
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', {
      lastSequence: 3,
      onSignal: (d) => void events.push(`signal ${d.sequenceNumber}`),
      onSnapshot: (s) => void events.push(`snapshot ${s.sequenceNumber} ${s.positions.length}`),
    });
    await receiver.waitFor(21, 5_000);
    expect(events).toEqual(['snapshot 20 1', 'signal 21']);
    const peer = await server.peer(0);
    await peer.waitFor(() => peer.kinds('deliveryAck').length === 2);
  });

  it('resubscribes after a drop with lastExecuted and keeps a durable cursor file', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-receiver-'));
    const cursorFile = path.join(folder, 'cursor.json');
    fs.writeFileSync(cursorFile, JSON.stringify({ version: 1, lastExecuted: 2, subscriptionId, updatedAtMs: 0 }));
    const subscribes: Array<{ has: boolean; last: number }> = [];
    serveReceiver((peer, sub) => {
      subscribes.push(sub);
      if (subscribes.length === 1) {
        peer.send(encodeDelivery(record(3)));
        peer.send(encodeDelivery(record(4)));
        void peer.waitFor(() => peer.kinds('deliveryAck').length === 2).then(() => peer.ws.close(1012, 'shard restart'));
      } else {
        for (let s = sub.last + 1; s <= 6; s++) peer.send(encodeDelivery(record(s)));
      }
    });
    const executed: number[] = [];
    const closes: number[] = [];
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', {
      cursorFile,
      onSignal: (d) => void executed.push(d.sequenceNumber),
      onSnapshot: () => undefined,
      onClose: (code) => closes.push(code),
      reconnect: fast,
    });
    await receiver.waitFor(6, 5_000);
    expect(subscribes).toEqual([
      { has: true, last: 2 },
      { has: true, last: 4 },
    ]);
    expect(executed).toEqual([3, 4, 5, 6]);
    expect(closes).toContain(1012);
    expect(JSON.parse(fs.readFileSync(cursorFile, 'utf8'))).toMatchObject({ version: 1, lastExecuted: 6, subscriptionId });
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('without any cursor subscribes with has_last_sequence false and takes the first delivery as baseline', async () => {
    serveReceiver((peer, sub) => {
      expect(sub.has).toBe(false);
      peer.send(encodeDelivery(record(50)));
      peer.send(encodeDelivery(record(51)));
    });
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', { onSignal: () => undefined, onSnapshot: () => undefined });
    await receiver.waitFor(51, 5_000);
    expect(receiver.counters.executed).toBe(2);
  });

  it('a handler that throws is not acked: the signal comes again after the reconnect and runs once more', async () => {
    serveReceiver((peer, sub) => {
      for (let s = sub.last + 1; s <= 3; s++) peer.send(encodeDelivery(record(s)));
    });
    let failures = 0;
    const executed: number[] = [];
    const errors: string[] = [];
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', {
      lastSequence: 0,
      onSignal: (d) => {
        if (d.sequenceNumber === 2 && failures++ === 0) throw new Error('broker busy');
        executed.push(d.sequenceNumber);
      },
      onSnapshot: () => undefined,
      onError: (e) => errors.push(e.code),
      reconnect: fast,
    });
    await receiver.waitFor(3, 5_000);
    expect(executed).toEqual([1, 2, 3]);
    expect(errors).toContain('HANDLER_FAILED');
    expect(receiver.counters.handlerFailures).toBe(1);
    const first = await server.peer(0);
    expect(first.kinds('deliveryAck').map((f) => (f.kind === 'deliveryAck' ? safeInteger(f.deliveryAck.sequenceNumber) : null))).toEqual([1]);
  });

  it('repeats an unanswered sync request after gapRetryMs', async () => {
    serveReceiver((peer) => {
      peer.send(encodeDelivery(record(1)));
      peer.send(encodeDelivery(record(3)));
    });
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', { lastSequence: 0, onSignal: () => undefined, onSnapshot: () => undefined, gapRetryMs: 50 });
    const peer = await server.peer(0);
    await peer.waitFor(() => peer.kinds('syncRequest').length >= 3);
    for (const f of peer.kinds('syncRequest')) if (f.kind === 'syncRequest') expect(safeInteger(f.syncRequest.fromSequence)).toBe(2);
  });

  it('waitFor times out with TIMEOUT; close() rejects waiters with CLOSED', async () => {
    serveReceiver(() => undefined);
    const receiver = newReceiver();
    await receiver.connect(`${url}/v1/receiver`, 't', { lastSequence: 0, onSignal: () => undefined, onSnapshot: () => undefined });
    await expect(receiver.waitFor(1, 30)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const pending = expect(receiver.waitFor(5, 5_000)).rejects.toMatchObject({ code: 'CLOSED' });
    await receiver.close();
    await pending;
  });

  it('the server heartbeat echo is measured, not passed on', async () => {
    serveReceiver((peer) => {
      void peer.ws; // echo every heartbeat
    });
    server.onPeer = ((inner) => (peer: Peer) => {
      inner(peer);
      peer.ws.on('message', (data: Buffer) => {
        const f = decodeFrame(new Uint8Array(data));
        if (f?.kind === 'heartbeat') peer.send(encodeFrame({ heartbeat: { sentAt: f.heartbeat.sentAt } }));
      });
    })(server.onPeer);
    const receiver = newReceiver();
    const rtts: Array<number | null> = [];
    receiver.on('heartbeat', (rtt: number | null) => rtts.push(rtt));
    await receiver.connect(`${url}/v1/receiver`, 't', { lastSequence: 0, onSignal: () => undefined, onSnapshot: () => undefined, heartbeatIntervalMs: 20 });
    await sleep(120);
    expect(rtts.length).toBeGreaterThan(0);
    expect(rtts.every((r) => r !== null && r >= 0 && r < 1_000)).toBe(true);
  });
});
