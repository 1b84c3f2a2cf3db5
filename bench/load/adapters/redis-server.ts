/**
 * The bench's own redis-server (not the machine's service, which keeps
 * nothing on disk and is left alone): a free port on 127.0.0.1, its data
 * folder and log in a temporary folder removed at stop, started under
 * taskset when pinned. Without the append-only file it keeps nothing on
 * disk (no RDB snapshots either); with it, every write is appended and
 * fsynced before the reply (`appendfsync always`), and the file is never
 * rewritten in the background during the bench (a fork would take the
 * core from the run). REDIS_SERVER names another binary.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freeLocalPort } from '../../../persistence/pg/free-port';
import { startServerProcess, type ChildServer } from '../child-server';

/** Above the idle-connection part's 10,000 receivers (Redis lowers it to the open-files limit if it must). */
const maxClients = 12_000;

export interface OwnRedisServer {
  url: string;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

export async function openRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await redis.connect();
  return redis;
}

export async function startRedisServer(opts: { appendFsyncAlways: boolean; cpus: string | null }): Promise<OwnRedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sigplane-bench-redis${opts.appendFsyncAlways ? '-aof' : ''}-`));
  const port = await freeLocalPort();
  const persistence = opts.appendFsyncAlways
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--auto-aof-rewrite-percentage', '0']
    : ['--appendonly', 'no'];
  let server: ChildServer;
  try {
    server = await startServerProcess({
      command: process.env.REDIS_SERVER ?? 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence, '--maxclients', String(maxClients), '--daemonize', 'no'],
      cpus: opts.cpus,
      logFile: path.join(dir, 'redis-server.log'),
      readyLine: /Ready to accept connections/,
      port,
    });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `redis://127.0.0.1:${server.port}`;
  const admin = await openRedis(url);
  const info = await admin.info('server');
  admin.disconnect();
  return {
    url,
    pid: server.pid,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
