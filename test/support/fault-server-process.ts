/**
 * The real server as a child process (`node dist/cli/main.js serve`), for
 * fault tests that kill it, starve it of Postgres or flood it without the
 * test's own event loop sharing its I/O thread. Also: the fault seed
 * (printed, replayed with SIGPLANE_FAULT_SEED), /metrics scraping and a
 * polling wait.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigStore } from '../../persistence/pg/config-store';
import { SecretBox } from '../../persistence/pg/secret-box';
import type { Pool } from 'pg';
import { cliPath, listeningPort } from './cli-process';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  masterUrl: string;
  receiverUrl: string;
  /** Everything the server wrote to stderr so far (for failure messages). */
  stderr(): string;
}

export interface ServerProcessOptions {
  databaseUrl: string;
  dataDir: string;
  kekBase64: string;
  shards?: number;
  journalSync?: 'full' | 'normal';
  env?: Record<string, string>;
}

/** Starts `sigplane serve` on a free port and resolves once it listens. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);
  const args = [cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', options.dataDir, '--shards', String(options.shards ?? 1)];
  args.push('--journal-sync', options.journalSync ?? 'full');
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env, DATABASE_URL: options.databaseUrl, SIGPLANE_KEK: options.kekBase64 },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const port = await listeningPort(child, () => stderr);
  return {
    child,
    port,
    masterUrl: `ws://127.0.0.1:${port}/v1/master`,
    receiverUrl: `ws://127.0.0.1:${port}/v1/receiver`,
    stderr: () => stderr,
  };
}

/** SIGKILL: no handler runs, nothing is flushed. Resolves when the process is gone. */
export function killHard(server: ServerProcess): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** SIGTERM and wait (the server stops cleanly); SIGKILL after 15 s. */
export function stopGracefully(server: ServerProcess): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A ConfigStore on `pool` that encrypts MAC keys under the same KEK the server process gets. */
export function storeFor(pool: Pool, dataDir: string, kekBase64: string): ConfigStore {
  return new ConfigStore(pool, SecretBox.fromEnvironment({ SIGPLANE_KEK: kekBase64 }, { dataDir, allowGenerate: false }));
}

export function newKek(): string {
  return crypto.randomBytes(32).toString('base64');
}

/**
 * The seed of a randomized fault test: SIGPLANE_FAULT_SEED when set (to
 * replay a failure), a fresh one otherwise. Printed either way.
 */
export function faultSeed(testName: string): number {
  const fromEnv = process.env.SIGPLANE_FAULT_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : crypto.randomInt(1, 2 ** 31 - 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`SIGPLANE_FAULT_SEED must be an integer, got ${fromEnv}`);
  console.log(`[${testName}] seed ${seed} (replay: SIGPLANE_FAULT_SEED=${seed})`);
  return seed;
}

/** True when the long soak variants run (SIGPLANE_SOAK=1). */
export const soak = process.env.SIGPLANE_SOAK === '1';

/** Parses Prometheus text: `name{labels}` -> value (labels as rendered). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Polls `check` every 20 ms until it is true; throws with `what` (and `detail()`) after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
