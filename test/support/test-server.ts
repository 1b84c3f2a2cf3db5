/**
 * A real sigplane server for end-to-end tests: its own database on the
 * run's Postgres, its own data folder, real shard worker threads, a real
 * uWebSockets.js listener on 127.0.0.1 with a free port. The server's own
 * connections are the application role's, as `sigplane serve`'s
 * (persistence/pg/app-role.ts); `store` (what tests use to set things up,
 * as an operator's CLI would) is the owner's.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SigplaneServer, type ServerOptions } from '../../io/server';
import { applicationDatabaseUrl, assertApplicationRole } from '../../persistence/pg/app-role';
import { ConfigStore } from '../../persistence/pg/config-store';
import { createPool } from '../../persistence/pg/pool';
import { SecretBox } from '../../persistence/pg/secret-box';
import { parseToken } from '../../persistence/pg/tokens';
import { ReceiverSettingsStore } from '../../persistence/pg/receiver-settings-store';
import { createTestDatabase } from './database';

export interface TestSubscription {
  subscriptionId: string;
  masterToken: string;
  macKeyId: string;
  /** The secret as shown to the provider (hex text): the v1 HMAC key (its UTF-8 bytes). */
  macSecretHex: string;
  /** The raw 32 bytes: the v2 HMAC key. */
  macKey: Buffer;
  receiverToken: string;
  receiverTokenId: string;
}

export interface TestServer {
  server: SigplaneServer;
  store: ConfigStore;
  url: string;
  masterUrl: string;
  receiverUrl: string;
  dataDir: string;
  databaseUrl: string;
  kekBase64: string;
  /** A subscription with 127.0.0.1 allowed and one receiver token. */
  subscription(options?: { allowIp?: string | null; settings?: Record<string, number> }): Promise<TestSubscription>;
  receiverToken(subscriptionId: string): Promise<{ token: string; tokenId: string }>;
  /** Stop the server, keep data and database (for restart tests). */
  stopServer(): Promise<void>;
  /** Start a new server on the same data folder and database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions
  extends Partial<
    Pick<
      ServerOptions,
      'shardCount' | 'journalSync' | 'crashShardAfterRecords' | 'ringBytes' | 'windowRecordsPerShardMax' | 'shardRefusalBudget' | 'tls' | 'rateLimits' | 'statusToken' | 'log' | 'journalDiskReserve'
    >
  > {
  /** Listen on the operators' control channel (isolate, lift, revoke act on live connections). */
  control?: boolean;
  /** Send receiver licenses' copy settings (receiver_settings) on subscribe and on change. */
  receiverSettings?: boolean;
}

/** Per-IP and per-subscription limits far beyond what any test sends (test/rate-limit.test.ts sets its own). */
const unlimited: NonNullable<ServerOptions['rateLimits']> = {
  upgradesPerIp: { ratePerSecond: 1e9, burst: 1e9 },
  subscriptionSignals: { ratePerSecond: 1e9, burst: 1e9 },
};

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-e2e-'));
  const kekBase64 = crypto.randomBytes(32).toString('base64');
  const secretBox = SecretBox.fromEnvironment({ SIGPLANE_KEK: kekBase64 }, { dataDir, allowGenerate: false });
  const store = new ConfigStore(database.pool, secretBox);
  const appUrl = applicationDatabaseUrl(database.url, undefined).url;
  const appPool = createPool(appUrl);
  await assertApplicationRole(appPool);
  const appStore = new ConfigStore(appPool, secretBox);
  const receiverSettings = new ReceiverSettingsStore(appPool);

  const makeServer = (): SigplaneServer =>
    new SigplaneServer({
      host: '127.0.0.1',
      port: 0,
      shardCount: options.shardCount ?? 2,
      dataDir,
      journalSync: options.journalSync ?? 'normal',
      authenticator: appStore,
      tokenHash: (token) => parseToken(token)?.hash ?? null,
      databaseReady: async () => {
        await appPool.query('SELECT 1');
        return true;
      },
      crashShardAfterRecords: options.crashShardAfterRecords,
      ringBytes: options.ringBytes,
      windowRecordsPerShardMax: options.windowRecordsPerShardMax,
      shardRefusalBudget: options.shardRefusalBudget,
      journalDiskReserve: options.journalDiskReserve,
      controlDatabaseUrl: options.control === true ? appUrl : undefined,
      receiverSettings: options.receiverSettings === true ? (tokenId) => receiverSettings.load(tokenId) : undefined,
      tls: options.tls,
      // Tests of other features open many connections and send floods from 127.0.0.1: only tests that ask get these limits.
      rateLimits: options.rateLimits ?? unlimited,
      statusToken: options.statusToken,
      log:
        options.log ??
        ((level, message, fields) => {
          if (level !== 'info') console.error(`[server ${level}] ${message} ${JSON.stringify(fields ?? {})}`);
        }),
    });

  const scheme = options.tls === undefined ? 'ws' : 'wss';
  let server = makeServer();
  await server.start();
  let running = true;

  const handle: TestServer = {
    get server() {
      return server;
    },
    store,
    get url() {
      return `${scheme}://127.0.0.1:${server.port}`;
    },
    get masterUrl() {
      return `${scheme}://127.0.0.1:${server.port}/v1/master`;
    },
    get receiverUrl() {
      return `${scheme}://127.0.0.1:${server.port}/v1/receiver`;
    },
    dataDir,
    databaseUrl: database.url,
    kekBase64,
    async subscription(subOptions = {}) {
      const created = await store.createSubscription({ name: `test-${crypto.randomUUID().slice(0, 8)}` });
      const allowIp = subOptions.allowIp === undefined ? '127.0.0.1' : subOptions.allowIp;
      if (allowIp !== null) await store.addAllowedIp(created.subscriptionId, allowIp, {});
      if (subOptions.settings !== undefined) {
        await database.pool.query('UPDATE subscriptions SET settings = $2::jsonb WHERE subscription_id = $1', [
          created.subscriptionId,
          JSON.stringify(subOptions.settings),
        ]);
      }
      const receiver = await store.issueReceiverToken(created.subscriptionId, {});
      return {
        subscriptionId: created.subscriptionId,
        masterToken: created.masterToken,
        macKeyId: created.macKeyId,
        macSecretHex: created.macSecretHex,
        macKey: Buffer.from(created.macSecretHex, 'hex'),
        receiverToken: receiver.token,
        receiverTokenId: receiver.tokenId,
      };
    },
    async receiverToken(subscriptionId) {
      const issued = await store.issueReceiverToken(subscriptionId, {});
      return { token: issued.token, tokenId: issued.tokenId };
    },
    async stopServer() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async restart() {
      if (running) await server.stop();
      server = makeServer();
      await server.start();
      running = true;
    },
    async close() {
      if (running) await server.stop();
      running = false;
      await appPool.end();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
