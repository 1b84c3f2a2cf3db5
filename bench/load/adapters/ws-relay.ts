/**
 * The plain relay (bench/load/ws-relay-server.ts) in its own process: what
 * a provider could write with the `ws` package and no checks at all. The
 * "ack" is the relay's echo of the first 8 bytes after it forwarded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { compiledFile, startChildServer, type ChildServer } from '../child-server';
import { alternativePayload, sequenceOfPayload } from '../payload';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

interface RelayTarget extends MasterTarget, ReceiverTarget {
  url: string;
}

function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

export class WsRelayAdapter implements SystemAdapter {
  readonly name = 'ws-relay' as const;
  readonly durability = 'not durable' as const;
  readonly description = 'bench/load/ws-relay-server.ts (ws 8, one process, no checks); ack = echo after forwarding';
  private server: ChildServer | null = null;
  private readonly logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-bench-relay-'));

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startChildServer({
      script: compiledFile('bench/load/ws-relay-server.js'),
      args: ['0'],
      cpus,
      logFile: path.join(this.logDir, 'relay.log'),
      portLine: /ws-relay listening on port (\d+)/,
    });
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const base = `ws://127.0.0.1:${this.server!.port}`;
    const masters = Array.from({ length: subscriptions }, (_, sub): RelayTarget => ({ sub, url: `${base}/m/${run}-${sub}` }));
    const receivers = masters.flatMap((m) =>
      Array.from({ length: receiversPerSubscription }, (): RelayTarget => ({ sub: m.sub, url: `${base}/r/${run}-${m.sub}` })),
    );
    return { masters, receivers };
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as RelayTarget;
    const ws = await openSocket(t.url);
    ws.on('message', (data: Buffer) => events.onAck(sequenceOfPayload(data)));
    return {
      prepare() {},
      resent: 0,
      send: (sequence) => ws.send(alternativePayload(t.sub, sequence), { binary: true }),
      close: () => closeSocket(ws),
    };
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
    fs.rmSync(this.logDir, { recursive: true, force: true });
  }
}

export const openWsRelayReceiver: ReceiverOpener = async (target, onDelivery) => {
  const ws = await openSocket((target as RelayTarget).url);
  ws.on('message', (data: Buffer) => onDelivery(sequenceOfPayload(data)));
  return { close: () => closeSocket(ws) };
};
