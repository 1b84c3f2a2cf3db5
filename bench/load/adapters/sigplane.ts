/**
 * sigplane itself, as users run it: `sigplane serve` in its own process on
 * a fresh database (created on the given Postgres, dropped at the end) and a
 * fresh data folder. Masters send signed v1 signals over /v1/master; the ack
 * is sigplane's Ack, sent only after the journal commit. Receivers hold
 * licence tokens, subscribe from sequence 0 and acknowledge every
 * `receiverAckEvery`-th delivery (their cursor), or, with
 * `receiverAckIntervalMs`, as the SDK does (client/receiver-acks.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import WebSocket from 'ws';
import { BusyWindow, clientLimits, ReceiverAcks, type BusyAction } from '@sigplane/client';
import { abnormalCloseCode } from '../../../io/async-upgrade-guard';
import { ConfigStore } from '../../../persistence/pg/config-store';
import { migrate } from '../../../persistence/pg/migrate';
import { createPool } from '../../../persistence/pg/pool';
import { SecretBox } from '../../../persistence/pg/secret-box';
import { decodeFrame, encodeFrame, rejectCodeName, safeInteger } from '@sigplane/protocol';
import { queryOnce } from '../../pg-admin';
import { compiledFile, startChildServer, type ChildServer } from '../child-server';
import { deliverySequenceOf } from '../delivery-sequence';
import { inBatches } from '../in-batches';
import { sigplaneSignalFrame } from '../payload';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

export interface SigplaneOptions {
  /** 'sigplane' (default), or 'sigplane-sync-normal' for the second server that runs with journal sync normal. */
  name?: 'sigplane' | 'sigplane-sync-normal';
  /** A Postgres server URL (any database on it): the bench creates and drops its own database there. */
  databaseServerUrl: string;
  shards: number;
  journalSync: 'full' | 'normal';
  receiverAckEvery: number;
  /** Above 0: receivers ack as the SDK's ReceiverAcks with this ackIntervalMs (and ackEvery receiverAckEvery). */
  receiverAckIntervalMs?: number;
  /** Run the server under `node --cpu-prof` into this folder (written when it stops). */
  cpuProfileDir?: string;
}

/** Licence tokens per subscription: receivers beyond this share them (the server allows it; their cursor is shared). */
const tokensPerSubscriptionMax = 20;
/** Subscriptions set up at once (each is a few Postgres round trips). */
const setupConcurrency = 8;
/** Far above any bench rate: the rate limiters (per connection, per subscription, per address) must not be what is measured. */
const benchRateLimitPerSecond = 1_000_000;
/** A receiver the server closed tries to open a new connection this often until it gets one. */
const receiverReconnectDelayMs = 100;

interface SigplaneMasterTarget extends MasterTarget {
  url: string;
  token: string;
  subscriptionId: string;
  macSecretHex: string;
}

export interface SigplaneReceiverTarget extends ReceiverTarget {
  url: string;
  token: string;
  ackEvery: number;
  ackIntervalMs: number;
}

/** The same Postgres server URL naming another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Thrown when the server closed the socket before its welcome. */
class ClosedBeforeWelcome extends Error {
  constructor(readonly code: number) {
    super(`closed with ${code} before its welcome`);
  }
}

/**
 * Opens a socket and resolves once the first frame of `welcomeKind` arrived,
 * trying once more when the first is closed abnormally before it: uWS can
 * close a connection right after its upgrade (io/async-upgrade-guard.ts;
 * every server's first one under --cpu-prof), and the server stops corking
 * upgrades after that, as a real client reconnects.
 */
async function openUntilWelcome(url: string, token: string, afterOpen?: (ws: WebSocket) => void): Promise<WebSocket> {
  try {
    return await openOnce(url, token, afterOpen);
  } catch (error) {
    if (!(error instanceof ClosedBeforeWelcome) || error.code !== abnormalCloseCode) throw error;
    return openOnce(url, token, afterOpen);
  }
}

/**
 * One attempt of openUntilWelcome. The listener is attached before the
 * upgrade completes: the server's first frame can arrive in the same read as
 * its 101 answer.
 */
function openOnce(url: string, token: string, afterOpen?: (ws: WebSocket) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const onMessage = (data: Buffer): void => {
      if (decodeFrame(data)?.kind !== 'welcome') return;
      ws.off('message', onMessage);
      resolve(ws);
    };
    ws.on('message', onMessage);
    ws.once('open', () => afterOpen?.(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`sigplane refused the upgrade: ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('close', (code) => reject(new ClosedBeforeWelcome(code)));
  });
}

function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

export class SigplaneAdapter implements SystemAdapter {
  readonly name: 'sigplane' | 'sigplane-sync-normal';
  readonly description: string;
  /** Sync full: the commit is fsynced before the ack; normal: written, fsynced at checkpoints (docs/reliability.md). */
  readonly durability: 'durable' | 'crash-safe';
  private server: ChildServer | null = null;
  private pool: Pool | null = null;
  private store: ConfigStore | null = null;
  private readonly kek = crypto.randomBytes(32);
  /** taskset CPUs of the server process (null: anywhere), kept for a restart. */
  private cpus: string | null = null;
  /** The bench's own database on the given Postgres server, created by start() and dropped by stop(). */
  readonly databaseName = `sigplane_bench_${crypto.randomBytes(5).toString('hex')}`;
  private readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-bench-'));
  /** Kept after the run (warnings only), beside the data folder that is removed. */
  readonly logFile = path.join(os.tmpdir(), `${this.databaseName}.log`);

  constructor(private readonly options: SigplaneOptions) {
    this.name = options.name ?? 'sigplane';
    this.durability = options.journalSync === 'full' ? 'durable' : 'crash-safe';
    this.description =
      `sigplane serve (${options.shards} shard worker${options.shards === 1 ? '' : 's'}, journal sync ${options.journalSync}, shipper to Postgres on); ` +
      `signed v1 signals; ack = Ack after the journal commit; receivers ack ${
        (options.receiverAckIntervalMs ?? 0) > 0
          ? `as the SDK does (within ${options.receiverAckIntervalMs} ms, or every ${options.receiverAckEvery} deliveries)`
          : `every ${options.receiverAckEvery} deliveries`
      }`;
  }

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async start(cpus: string | null = null): Promise<void> {
    await queryOnce(this.options.databaseServerUrl, `CREATE DATABASE ${this.databaseName}`);
    const databaseUrl = withDatabase(this.options.databaseServerUrl, this.databaseName);
    this.pool = createPool(databaseUrl, { max: setupConcurrency });
    await migrate(this.pool);
    this.store = new ConfigStore(this.pool, SecretBox.fromKey(this.kek));
    this.cpus = cpus;
    this.server = await this.startServer();
  }

  /** The server's port (a restart picks a new one). */
  get port(): number {
    if (this.server === null) throw new Error('sigplane is not running');
    return this.server.port;
  }

  /** SIGKILL the server (nothing flushed or closed), then start it again on the same data folder and database. */
  async restartAfterKill9(): Promise<void> {
    await this.server?.kill9();
    this.server = await this.startServer();
  }

  private startServer(): Promise<ChildServer> {
    return startChildServer({
      script: compiledFile('cli/main.js'),
      args: ['serve', '--host', '127.0.0.1', '--port', '0', '--data', this.dataDir, '--shards', String(this.options.shards), '--journal-sync', this.options.journalSync],
      nodeArgs: this.options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(this.options.cpuProfileDir)],
      env: this.serverEnvironment(withDatabase(this.options.databaseServerUrl, this.databaseName), this.kek),
      cpus: this.cpus,
      logFile: this.logFile,
      portLine: /sigplane listening on port (\d+)/,
    });
  }

  /**
   * The server's own defaults, except: limits that exist to stop abuse
   * (upgrades per address, signals per subscription) are raised far above
   * the bench's rates, since every load connection comes from 127.0.0.1 and
   * the bench measures the signal path, not the limiter; rate limits stay
   * in memory (no Redis: Redis is one of the systems under test); the log
   * says only warnings.
   */
  private serverEnvironment(databaseUrl: string, kek: Buffer): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      SIGPLANE_KEK: kek.toString('base64'),
      SIGPLANE_UPGRADE_RATE: String(benchRateLimitPerSecond),
      SIGPLANE_UPGRADE_BURST: String(benchRateLimitPerSecond),
      SIGPLANE_SUB_RATE: String(benchRateLimitPerSecond),
      SIGPLANE_SUB_BURST: String(benchRateLimitPerSecond),
      SIGPLANE_LOG_LEVEL: 'warn',
    };
    for (const name of ['REDIS_URL', 'SIGPLANE_KEK_FILE', 'SIGPLANE_CONFIG', 'SIGPLANE_HOST', 'SIGPLANE_PORT', 'SIGPLANE_DATA_DIR']) delete env[name];
    return env;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const store = this.store!;
    const base = `ws://127.0.0.1:${this.server!.port}`;
    const subs = await inBatches(Array.from({ length: subscriptions }, (_, i) => i), setupConcurrency, async (sub) => {
      const created = await store.createSubscription({ name: `bench-${sub}` });
      await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
      await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: benchRateLimitPerSecond, rateLimitBurst: benchRateLimitPerSecond });
      const tokens: string[] = [];
      for (let i = 0; i < Math.min(receiversPerSubscription, tokensPerSubscriptionMax); i++) {
        tokens.push((await store.issueReceiverToken(created.subscriptionId, {})).token);
      }
      return { sub, created, tokens };
    });
    const masters: SigplaneMasterTarget[] = subs.map(({ sub, created }) => ({
      sub,
      url: `${base}/v1/master`,
      token: created.masterToken,
      subscriptionId: created.subscriptionId,
      macSecretHex: created.macSecretHex,
    }));
    const receivers: SigplaneReceiverTarget[] = subs.flatMap(({ sub, tokens }) =>
      Array.from({ length: receiversPerSubscription }, (_, r) => ({
        sub,
        url: `${base}/v1/receiver`,
        token: tokens[r % tokens.length],
        ackEvery: this.options.receiverAckEvery,
        ackIntervalMs: this.options.receiverAckIntervalMs ?? 0,
      })),
    );
    return { masters, receivers };
  }

  /**
   * A master that answers BUSY as the SDK's MasterClient does (the same
   * BusyWindow, client/busy-window.ts): after "resend from N" it sends
   * nothing new until the refused burst is answered and a short backoff
   * passed, then sends again from N, in order, within a window that widens
   * with each ack. Signals that fell due meanwhile wait, and their wait is
   * charged to the system (latency counts from each signal's due time).
   */
  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as SigplaneMasterTarget;
    const ws = await openUntilWelcome(t.url, t.token);
    let frames: (Uint8Array | undefined)[] = [];
    let resent = 0;
    /** The highest sequence ever sent (the window's sentUpTo goes back on BUSY). */
    let highestSent = 0;
    /** The highest sequence the schedule has made due. */
    let dueUpTo = 0;
    /** Frames sent minus answers received (each signal frame gets exactly one: ack, reject or BUSY). */
    let inFlight = 0;
    const window = new BusyWindow(clientLimits.master.outboxSignalsMax);
    let resendTimer: NodeJS.Timeout | null = null;

    /** Sends what is due and not yet sent, in order, as far as the window allows (an acked one is passed over). */
    const sendDue = (): void => {
      for (let sequence = window.sentUpTo + 1; sequence <= dueUpTo && window.maySend(inFlight); sequence++) {
        window.sent(sequence);
        const frame = frames[sequence - 1];
        if (frame === undefined) continue;
        if (sequence <= highestSent) resent++;
        else highestSent = sequence;
        inFlight++;
        ws.send(frame, { binary: true });
      }
    };
    const onBusyAction = (action: BusyAction): void => {
      if (action.kind === 'resendAfter' && ws.readyState === WebSocket.OPEN) {
        resendTimer = setTimeout(() => {
          resendTimer = null;
          window.resume(); // rewinds to the refused sequence
          sendDue();
        }, action.delayMs);
      } else if (action.kind === 'ignore' && window.limit !== Infinity) sendDue();
    };

    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(data);
      if (frame?.kind === 'ack') {
        const sequence = safeInteger(frame.ack.sequenceNumber) ?? -1;
        inFlight--;
        frames[sequence - 1] = undefined;
        events.onAck(sequence);
        onBusyAction(window.answered(sequence, true));
      } else if (frame?.kind === 'reject') {
        const sequence = safeInteger(frame.reject.sequenceNumber) ?? -1;
        const code = rejectCodeName(frame.reject.code);
        inFlight--;
        // BUSY means "resend from N" (docs/protocol.md): the shard's ring was full.
        if (code === 'BUSY' && frames[sequence - 1] !== undefined) return onBusyAction(window.busy(sequence, inFlight));
        frames[sequence - 1] = undefined;
        events.onRefused(sequence, code);
        onBusyAction(window.answered(sequence, false));
      }
    });
    ws.once('close', () => {
      if (resendTimer !== null) clearTimeout(resendTimer);
    });
    return {
      prepare(signals) {
        const generatedAtMs = Date.now();
        frames = Array.from({ length: signals }, (_, i) =>
          sigplaneSignalFrame(t.macSecretHex, { subscriptionId: t.subscriptionId, sequence: i + 1, generatedAtMs }),
        );
      },
      send(sequence) {
        if (frames[sequence - 1] === undefined) throw new Error(`signal ${sequence} was not prepared`);
        if (sequence > dueUpTo) dueUpTo = sequence;
        sendDue();
      },
      get resent() {
        return resent;
      },
      close: () => closeSocket(ws),
    };
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
    await this.pool?.end().catch(() => undefined);
    this.pool = null;
    await queryOnce(this.options.databaseServerUrl, `DROP DATABASE IF EXISTS ${this.databaseName} WITH (FORCE)`).catch(() => undefined);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * A sigplane receiver as the SDK runs one: it subscribes from the last
 * sequence it got, acks as configured, and when the server closes it (a
 * slow receiver is closed with BACKPRESSURE, docs/protocol.md "Slow
 * receivers") it opens a new connection and resumes from its last sequence,
 * as a real receiver does. Without that, a receiver the server cut because
 * the load host starved its thread would count what followed as lost.
 * `reconnects` says how often it happened.
 */
export const openSigplaneReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as SigplaneReceiverTarget;
  let lastSequence = 0;
  let reconnects = 0;
  let closing = false;
  let ws: WebSocket;

  /** Listens from the socket's open on, before the welcome: a catch-up can arrive in the same read as it. */
  const listen = (socket: WebSocket): void => {
    const sendAck = (sequence: number): boolean => {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(encodeFrame({ deliveryAck: { sequenceNumber: sequence } }), { binary: true });
      return true;
    };
    // Held acks belong to one connection (client/receiver-acks.ts): the next subscribe states the last sequence.
    const sdkAcks =
      t.ackIntervalMs > 0 ? new ReceiverAcks({ ackEvery: t.ackEvery, ackIntervalMs: t.ackIntervalMs, ackBurst: clientLimits.receiver.ackBurst }, Date.now, sendAck) : null;
    let unacked = 0;
    socket.on('message', (data: Buffer) => {
      // Only the sequence: a full decode per delivery made the load side the bottleneck at fan-out (delivery-sequence.ts).
      const sequence = deliverySequenceOf(data);
      if (sequence === null) return;
      if (sequence > lastSequence) lastSequence = sequence;
      onDelivery(sequence);
      if (sdkAcks !== null) return sdkAcks.executed(sequence);
      if (++unacked >= t.ackEvery) {
        unacked = 0;
        sendAck(sequence);
      }
    });
    socket.once('close', () => sdkAcks?.forget());
  };

  const connect = async (): Promise<WebSocket> => {
    const socket = await openUntilWelcome(t.url, t.token, (open) => {
      listen(open);
      open.send(encodeFrame({ subscribe: { hasLastSequence: true, lastSequence } }), { binary: true });
    });
    socket.once('close', () => {
      if (!closing) void resume();
    });
    return socket;
  };

  const resume = async (): Promise<void> => {
    reconnects++;
    while (!closing) {
      try {
        ws = await connect();
        if (closing) await closeSocket(ws);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, receiverReconnectDelayMs));
      }
    }
  };

  ws = await connect();
  return {
    close: () => {
      closing = true;
      return closeSocket(ws);
    },
    get reconnects() {
      return reconnects;
    },
  };
};
