/**
 * Servers of the bench's own that speak the relay's wire contract: a master
 * on /m/<channel>, receivers on /r/<channel>, every master frame forwarded
 * to the channel's receivers and its first 8 bytes echoed as the "ack".
 * Two of them: the plain relay (bench/load/ws-relay-server.ts, what a
 * provider could write with the `ws` package and no checks at all) and the
 * floor (bench/load/floor/floor-server.ts, sigplane's shape with none of
 * sigplane's work). Each in its own process.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { compiledFile, startChildServer, type ChildServer } from '../child-server';
import { alternativePayload, sequenceOfPayload } from '../payload';
import type { Durability, MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

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

interface RelayServer {
  name: 'ws-relay' | 'floor' | 'floor-sync-normal';
  durability: Durability;
  description: string;
  /** The compiled script, relative to the project root, and its arguments after the port. */
  script: string;
  args: string[];
  portLine: RegExp;
}

const relayServers: Record<RelayServer['name'], RelayServer> = {
  'ws-relay': {
    name: 'ws-relay',
    durability: 'not durable',
    description: 'bench/load/ws-relay-server.ts (ws 8, one process, no checks); ack = echo after forwarding',
    script: 'bench/load/ws-relay-server.js',
    args: [],
    portLine: /ws-relay listening on port (\d+)/,
  },
  floor: {
    name: 'floor',
    durability: 'durable',
    description:
      "bench/load/floor/floor-server.ts: sigplane's shape alone (uWebSockets.js I/O thread, the engine's rings, one worker journaling each batch to SQLite, WAL, synchronous FULL), no checks, no sequencing, no Postgres, receivers do not ack; ack = echo after the commit",
    script: 'bench/load/floor/floor-server.js',
    args: ['full'],
    portLine: /floor listening on port (\d+)/,
  },
  'floor-sync-normal': {
    name: 'floor-sync-normal',
    durability: 'crash-safe',
    description:
      'the floor with its journal at synchronous NORMAL (as sigplane-sync-normal: the commit reaches the OS, not the disk); runs only where sigplane-sync-normal does',
    script: 'bench/load/floor/floor-server.js',
    args: ['normal'],
    portLine: /floor listening on port (\d+)/,
  },
};

export class RelayAdapter implements SystemAdapter {
  readonly name: RelayServer['name'];
  readonly durability: Durability;
  readonly description: string;
  private server: ChildServer | null = null;
  private readonly logDir: string;

  constructor(private readonly relay: RelayServer) {
    this.name = relay.name;
    this.durability = relay.durability;
    this.description = relay.description;
    this.logDir = fs.mkdtempSync(path.join(os.tmpdir(), `sigplane-bench-${relay.name}-`));
  }

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startChildServer({
      script: compiledFile(this.relay.script),
      args: ['0', ...this.relay.args],
      cpus,
      logFile: path.join(this.logDir, `${this.relay.name}.log`),
      portLine: this.relay.portLine,
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

export const wsRelayAdapter = (): RelayAdapter => new RelayAdapter(relayServers['ws-relay']);
export const floorAdapter = (): RelayAdapter => new RelayAdapter(relayServers.floor);
export const floorSyncNormalAdapter = (): RelayAdapter => new RelayAdapter(relayServers['floor-sync-normal']);

export const openRelayReceiver: ReceiverOpener = async (target, onDelivery) => {
  const ws = await openSocket((target as RelayTarget).url);
  ws.on('message', (data: Buffer) => onDelivery(sequenceOfPayload(data)));
  return { close: () => closeSocket(ws) };
};
