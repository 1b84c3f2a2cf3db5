/**
 * `sigplane serve`: the server. Stops cleanly on SIGINT/SIGTERM (journals
 * closed, embedded Postgres stopped).
 */
import os from 'node:os';
import { SigplaneServer } from '../io/server';
import { parseToken } from '../persistence/pg/tokens';
import { loadOrCreateNodeId } from '../persistence/shipper/node-id';
import { startShipper } from '../persistence/shipper/shipper';
import { parseCommand, UsageError, type CommandSpec } from './args';
import { dataOption, openContext } from './context';
import { log } from './log';

const spec: CommandSpec = {
  usage: 'sigplane serve [options]',
  summary: 'Run the server. With no DATABASE_URL it starts an embedded Postgres in the data folder.',
  options: {
    host: { type: 'string', help: 'address to listen on', default: process.env.SIGPLANE_HOST ?? '0.0.0.0' },
    port: { type: 'string', help: 'port to listen on (0: any free port)', default: process.env.SIGPLANE_PORT ?? '8080' },
    data: dataOption,
    shards: { type: 'string', help: 'shard worker threads', default: String(Math.max(1, os.availableParallelism() - 1)) },
    'journal-sync': { type: 'string', help: "'full' (survives power loss) or 'normal' (survives kill -9)", default: process.env.SIGPLANE_JOURNAL_SYNC ?? 'full' },
    'tls-cert': { type: 'string', help: 'TLS certificate (PEM); with --tls-key serves wss/https' },
    'tls-key': { type: 'string', help: 'TLS private key (PEM)' },
  },
};

export async function serveCommand(argv: string[]): Promise<void> {
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const port = Number(values.port);
  const shardCount = Number(values.shards);
  const journalSync = values['journal-sync'];
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got ${values.port}`);
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 64) throw new UsageError(`--shards must be 1..64, got ${values.shards}`);
  if (journalSync !== 'full' && journalSync !== 'normal') throw new UsageError(`--journal-sync must be full or normal`);
  const certFile = values['tls-cert'] as string | undefined;
  const keyFile = values['tls-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');

  const context = await openContext(values.data as string);
  log('info', 'database ready', { database: context.database.displayUrl, embedded: context.database.embedded });
  const shipper = startShipper({
    databaseUrl: context.database.url,
    dataDir: context.dataDir,
    shardCount,
    nodeId: loadOrCreateNodeId(context.dataDir),
    log,
  });
  const server = new SigplaneServer({
    host: values.host as string,
    port,
    shardCount,
    dataDir: context.dataDir,
    journalSync,
    authenticator: context.store,
    tokenHash: (token) => parseToken(token)?.hash ?? null,
    databaseReady: async () => {
      try {
        await context.database.pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    log,
    shipperStatus: () => shipper.status(),
    // Incident actions of `sigplane subscription isolate|lift`, `token revoke`, `rotate-credentials`.
    controlDatabaseUrl: context.database.url,
    crashShardAfterRecords:
      process.env.SIGPLANE_TEST_CRASH_SHARD_AFTER === undefined
        ? undefined
        : { shardIndex: 0, records: Number(process.env.SIGPLANE_TEST_CRASH_SHARD_AFTER) },
  });
  await server.start();
  log('info', 'sigplane serving', { port: server.port, shards: shardCount, journalSync, dataDir: context.dataDir });
  // A line for scripts and tests that start the server and need its port.
  process.stdout.write(`sigplane listening on port ${server.port}\n`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    await server.stop();
    await shipper.stop();
    await context.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
