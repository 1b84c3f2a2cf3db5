/**
 * The bench's own nats-server (not the machine's service, which it leaves
 * alone): a free port on 127.0.0.1, its log and, with JetStream, its file
 * store in a temporary folder removed at stop, started under taskset when
 * pinned. NATS_SERVER names another binary (default: nats-server on PATH).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLocalPort } from '../../../persistence/pg/free-port';
import { startServerProcess, type ChildServer } from '../child-server';

export interface OwnNatsServer {
  url: string;
  pid: number;
  /** The JetStream store folder (null without JetStream). */
  storeDir: string | null;
  stop(): Promise<void>;
}

export async function startNatsServer(opts: { jetStream: boolean; cpus: string | null }): Promise<OwnNatsServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sigplane-bench-nats${opts.jetStream ? '-js' : ''}-`));
  const storeDir = opts.jetStream ? path.join(dir, 'jetstream') : null;
  const port = await freeLocalPort();
  let server: ChildServer;
  try {
    server = await startServerProcess({
      command: process.env.NATS_SERVER ?? 'nats-server',
      args: ['-a', '127.0.0.1', '-p', String(port), ...(storeDir === null ? [] : ['-js', '-sd', storeDir])],
      cpus: opts.cpus,
      logFile: path.join(dir, 'nats-server.log'),
      readyLine: /Server is ready/,
      port,
    });
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `127.0.0.1:${server.port}`,
    pid: server.pid,
    storeDir,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
