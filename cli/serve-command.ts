/**
 * `sigplane serve`: the server. Stops cleanly on SIGINT/SIGTERM (journals
 * closed, embedded Postgres stopped).
 */
import { SigplaneServer } from '../io/server';
import { AdminServer } from '../io/admin/admin-server';
import { adminListener, portProblem, publicListener, type ListenTarget } from '../io/listen-exclusive';
import { AdminStore } from '../persistence/pg/admin-store';
import { applicationDatabaseUrl, assertApplicationRole } from '../persistence/pg/app-role';
import { ConfigStore } from '../persistence/pg/config-store';
import { createPool } from '../persistence/pg/pool';
import { parseToken } from '../persistence/pg/tokens';
import { ReceiverSettingsStore } from '../persistence/pg/receiver-settings-store';
import { loadOrCreateNodeId } from '../persistence/shipper/node-id';
import { startShipper } from '../persistence/shipper/shipper';
import { parseCommand } from './args';
import { configSpec } from './config';
import { lockDataFolder } from './data-folder-lock';
import { loadServeConfig, serveSchema } from './config-serve';
import { openContext } from './context';
import { log, setLogLevel } from './log';

const spec = configSpec(
  'sigplane serve [options]',
  'Run the server. With no DATABASE_URL it starts an embedded Postgres in the data folder.\n' +
    'It migrates as the owner (DATABASE_URL) and serves as the role sigplane_app: SIGPLANE_APP_DATABASE_URL (a LOGIN member of it), or the owner URL with -c role=sigplane_app.\n' +
    'Settings come from flags, then the environment, then --config <file.json>, then defaults; a bad one exits 2 naming it.',
  serveSchema,
);

export async function serveCommand(argv: string[]): Promise<void> {
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const config = loadServeConfig(values, process.env);
  setLogLevel(config['log-level']!);
  const shardCount = config.shards!;
  const journalSync = config['journal-sync']!;
  const journalBudgetBytes = config['journal-budget']!;
  const certFile = config['tls-cert'];
  const keyFile = config['tls-key'];

  // A taken port fails now, before the data folder and the database are opened (the listen itself stays the authority).
  const listeners: ListenTarget[] = [{ ...publicListener, host: config.host!, port: config.port! }];
  if (config['admin-port'] !== undefined) listeners.push({ ...adminListener, host: config['admin-host']!, port: config['admin-port'] });
  for (const target of listeners) {
    const problem = target.port === 0 ? null : await portProblem(target);
    if (problem !== null) throw new Error(problem);
  }

  // One server per data folder: a second one on the same journals stops here (cli/data-folder-lock.ts).
  const lock = lockDataFolder(config.data!, 'sigplane serve');
  const context = await openContext(config.data!);
  log('info', 'database ready', { database: context.database.displayUrl, embedded: context.database.embedded });
  // Migrated as the owner; served as sigplane_app, bound by row-level security (persistence/pg/app-role.ts).
  const app = applicationDatabaseUrl(context.database.url, process.env.SIGPLANE_APP_DATABASE_URL);
  const appPool = createPool(app.url);
  const { currentUser } = await assertApplicationRole(appPool).catch(async (error: unknown) => {
    await appPool.end();
    await context.close();
    throw error;
  });
  log('info', 'serving as the application role', { role: currentUser, via: app.source });
  const appStore = new ConfigStore(appPool, context.secretBox);
  const shipper = startShipper({
    databaseUrl: app.url,
    dataDir: context.dataDir,
    shardCount,
    nodeId: loadOrCreateNodeId(context.dataDir),
    journalBudgetBytes,
    log,
  });
  const receiverSettings = new ReceiverSettingsStore(appPool);
  const server = new SigplaneServer({
    host: config.host!,
    port: config.port!,
    shardCount,
    dataDir: context.dataDir,
    journalSync,
    journalDiskReserve: config['journal-disk-reserve'],
    authenticator: appStore,
    tokenHash: (token) => parseToken(token)?.hash ?? null,
    databaseReady: async () => {
      try {
        await appPool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, passphrase: config['tls-key-passphrase'] } : undefined,
    rateLimits: {
      redisUrl: config['redis-url'],
      redisKeyPrefix: config['redis-prefix'],
      upgradesPerIp: { ratePerSecond: config['upgrade-rate']!, burst: config['upgrade-burst']! },
      subscriptionSignals: { ratePerSecond: config['sub-rate']!, burst: config['sub-burst']! },
    },
    statusToken: config.statusToken,
    log,
    shipperStatus: () => shipper.status(),
    // Incident actions of `sigplane subscription isolate|lift`, `token revoke`, `rotate-credentials`.
    controlDatabaseUrl: app.url,
    // Copy settings of each receiver license (`sigplane receiver-settings`), sent on subscribe and on change.
    receiverSettings: (tokenId) => receiverSettings.load(tokenId),
    crashShardAfterRecords:
      process.env.SIGPLANE_TEST_CRASH_SHARD_AFTER === undefined
        ? undefined
        : { shardIndex: 0, records: Number(process.env.SIGPLANE_TEST_CRASH_SHARD_AFTER) },
  });
  await server.start();
  log('info', 'sigplane serving', {
    port: server.port,
    shards: shardCount,
    journalSync,
    dataDir: context.dataDir,
    tls: certFile !== undefined,
    rateLimits: server.rateLimitBackend.source,
    statusPage: config.statusToken !== undefined,
  });
  // In clear on an address others can reach: tokens (in the upgrade's Authorization), signals and admin credentials travel readable.
  if (certFile === undefined) {
    for (const [listener, host] of [['public', config.host!], ['admin', config['admin-host']]] as const) {
      if (listener === 'admin' && config['admin-port'] === undefined) continue;
      if (!isLoopbackHost(host)) {
        log('warn', 'listening without TLS on a non-loopback address: credentials and signals travel in clear; set --tls-cert and --tls-key', { listener, host });
      }
    }
  }
  // A line for scripts and tests that start the server and need its port.
  process.stdout.write(`sigplane listening on port ${server.port}\n`);
  // The admin HTTP API on its own listener (io/admin/), only when --admin-port is given.
  const adminServer =
    config['admin-port'] === undefined
      ? null
      : new AdminServer({
          host: config['admin-host']!,
          port: config['admin-port'],
          store: appStore,
          adminStore: new AdminStore(appPool, appStore),
          tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, passphrase: config['tls-key-passphrase'] } : undefined,
          log,
        });
  await adminServer?.start();
  if (adminServer !== null) process.stdout.write(`sigplane admin API listening on ${config['admin-host']} port ${adminServer.port}\n`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    adminServer?.stop();
    await server.stop();
    await shipper.stop();
    await appPool.end();
    await context.close();
    lock.release();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can reach it. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
