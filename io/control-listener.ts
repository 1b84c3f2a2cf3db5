/**
 * The server's end of the operators' control channel
 * (persistence/pg/control-channel.ts): one dedicated Postgres connection
 * that LISTENs on `sigplane_control` and hands each checked message to its
 * target, on the I/O thread.
 *
 * Notifications are lost while the connection is down, so after every
 * (re)connect the listener first LISTENs and only then reads the state
 * itself (the ISOLATED subscriptions, which live sessions' tokens are
 * revoked) and hands it to the target: anything committed after the LISTEN
 * is also notified, anything before it is in what was read. Notifications
 * that arrive while that read runs are held and applied after it, in order,
 * so an older read never undoes a newer message.
 *
 *   connect -> LISTEN -> resync -> apply held -> (notifications, pings) -> error
 *      ^                                                                    |
 *      +------------- backoff: reconnectInitialMs doubling to Max ----------+
 *
 * The connection is pinged every pingIntervalMs: a half-open TCP connection
 * would otherwise hide missed notifications. The live sessions are checked
 * against expiry and the allowlists after every resync, every
 * sessionSweepIntervalMs, and at once on an ALLOWLIST message.
 */
import { Client, type ClientConfig, type Notification } from 'pg';
import { control } from '@sigplane/protocol';
import {
  controlChannel,
  parseControlMessage,
  readEndedSessions,
  readIsolatedSubscriptions,
  readRevokedTokens,
  type ControlMessage,
  type EndedSessions,
  type LiveSession,
} from '../persistence/pg/control-channel';

/** What the listener drives (io/incident-control.ts on the server). */
export interface ControlTarget {
  /** One message from the channel. */
  apply(message: ControlMessage): void;
  /** The whole picture after a (re)connect. `complete` false: absence from the set proves nothing. */
  resync(state: { isolatedSubscriptionIds: ReadonlySet<string>; complete: boolean; revokedTokenIds: readonly string[] }): void;
  /** Token ids of the live sessions (checked for revocation on resync). */
  liveTokenIds(): string[];
  /** The live sessions (checked for an expired token or a disallowed address). */
  liveSessions(): LiveSession[];
  /** Close what the check found. */
  endSessions(ended: EndedSessions): void;
}

export interface ControlListenerOptions {
  databaseUrl: string;
  /** application_name of the connection (operators, and tests, find it in pg_stat_activity). */
  applicationName?: string;
  target: ControlTarget;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Clock for revocation times (ms since the epoch). */
  nowMs?: () => number;
}

export const controlApplicationName = 'sigplane_control';

export class ControlListener {
  /** Connected, listening and resynced. */
  up = false;
  /** Successful (re)connects, the first included. */
  connects = 0;
  /** Messages applied, and payloads ignored as invalid. */
  messages = 0;
  invalidMessages = 0;
  private stopped = false;
  private client: Client | null = null;
  /** Wakes the backoff sleep and the watch when stop() is called. */
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private firstUp: { promise: Promise<void>; resolve: () => void };
  /** Session checks run, and when the last one ran (ms since the epoch). */
  sessionSweeps = 0;
  private lastSweepAtMs = 0;
  private sweepRequested = false;

  constructor(private readonly options: ControlListenerOptions) {
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.firstUp = { promise, resolve };
  }

  /** Starts the loop; resolves when first up, or after control.startWaitMs (false: still trying). */
  async start(): Promise<boolean> {
    if (this.running !== null) throw new Error('ControlListener: started twice');
    this.running = this.run();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), control.startWaitMs);
    });
    const ok = await Promise.race([this.firstUp.promise.then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!ok) this.log('warn', 'control channel not up yet: still trying', {});
    return ok;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.up = false;
    this.wake?.();
    const client = this.client;
    if (client !== null) await client.end().catch(() => undefined);
    await this.running;
  }

  private log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    this.options.log?.(level, message, fields);
  }

  private async run(): Promise<void> {
    let delayMs: number = control.reconnectInitialMs;
    while (!this.stopped) {
      const connectsBefore = this.connects;
      try {
        await this.session();
      } catch (error) {
        // A session that was up starts the backoff over: only failures in a row back off further.
        if (this.connects > connectsBefore) delayMs = control.reconnectInitialMs;
        if (!this.stopped) this.log('warn', 'control channel connection lost', { error: (error as Error).message, retryInMs: delayMs });
      }
      this.up = false;
      if (this.stopped) break;
      await this.sleep(Math.round(delayMs * (0.5 + Math.random() * 0.5)));
      delayMs = Math.min(control.reconnectMaxMs, delayMs * 2);
    }
  }

  /** One connection's life: returns or throws when it is over. */
  private async session(): Promise<void> {
    const config: ClientConfig = {
      connectionString: this.options.databaseUrl,
      application_name: this.options.applicationName ?? controlApplicationName,
      connectionTimeoutMillis: control.connectTimeoutMs,
      query_timeout: control.queryTimeoutMs,
      keepAlive: true,
    };
    const client = new Client(config);
    this.client = client;
    let failed: Error | null = null;
    let onFailure: (() => void) | null = null;
    const fail = (error: Error): void => {
      failed ??= error;
      onFailure?.();
    };
    client.on('error', (error) => fail(error));
    client.on('end', () => fail(new Error('connection ended')));
    let held: ControlMessage[] | null = [];
    client.on('notification', (n: Notification) => {
      if (n.channel !== controlChannel) return;
      const message = parseControlMessage(n.payload);
      if (message === null) {
        this.invalidMessages++;
        this.log('warn', 'control message ignored: not a valid payload', { bytes: n.payload?.length ?? 0 });
        return;
      }
      if (held === null) return this.apply(message);
      if (held.length >= control.bufferedMessagesMax) return fail(new Error('too many control messages during a resync'));
      held.push(message);
    });
    try {
      await client.connect();
      // The channel name is a constant identifier: LISTEN takes no parameter.
      await client.query(`LISTEN ${controlChannel}`);
      const isolated = await readIsolatedSubscriptions(client);
      const revoked = await readRevokedTokens(client, this.options.target.liveTokenIds(), (this.options.nowMs ?? Date.now)());
      if (failed !== null) throw failed;
      this.options.target.resync({ isolatedSubscriptionIds: isolated.subscriptionIds, complete: isolated.complete, revokedTokenIds: revoked });
      const pending = held;
      held = null;
      for (const message of pending) this.apply(message);
      await this.sweepSessions(client);
      this.up = true;
      this.connects++;
      this.log('info', 'control channel listening', {
        connects: this.connects,
        isolated: isolated.subscriptionIds.size,
        revokedLiveTokens: revoked.length,
      });
      this.firstUp.resolve();
      await this.watch(client, () => failed, (cb) => (onFailure = cb));
    } finally {
      this.up = false;
      this.client = null;
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
      // pg may still emit 'error' on a dead socket after end(): keep a listener.
      client.on('error', () => undefined);
    }
  }

  /** Pings until the connection fails or stop() is called. */
  private async watch(client: Client, failed: () => Error | null, onFailure: (cb: () => void) => void): Promise<void> {
    while (!this.stopped) {
      const error = failed();
      if (error !== null) throw error;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, control.pingIntervalMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.wake = done;
        onFailure(done);
      });
      this.wake = null;
      if (this.stopped) return;
      if (failed() !== null) continue;
      if (this.sweepRequested || this.now() - this.lastSweepAtMs >= control.sessionSweepIntervalMs) await this.sweepSessions(client);
      else await client.query('SELECT 1');
    }
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  /** Close the live sessions whose token expired or whose address is no longer allowed. */
  private async sweepSessions(client: Client): Promise<void> {
    this.sweepRequested = false;
    const now = this.now();
    this.lastSweepAtMs = now;
    const ended = await readEndedSessions(client, this.options.target.liveSessions(), now);
    this.sessionSweeps++;
    this.options.target.endSessions(ended);
  }

  private apply(message: ControlMessage): void {
    this.messages++;
    if (message.kind === 'ALLOWLIST') {
      this.sweepRequested = true;
      this.wake?.();
      return;
    }
    try {
      this.options.target.apply(message);
    } catch (error) {
      this.log('error', 'control message failed', { kind: message.kind, error: (error as Error).message });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
