/**
 * A server under test in its own process (so that its CPU and memory are
 * its own): a node script of this project (sigplane, the ws relay) or a
 * binary (nats-server, redis-server), started under `taskset` when it is to
 * be pinned, ready when it prints a line (on stdout or stderr), stopped
 * with SIGTERM (SIGKILL after a grace period). Its output goes to a log
 * file. Every server started here is remembered until it exits, so that an
 * interrupted bench can stop them all (stopAllServers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { underTaskset } from './pinning';

/** The compiled file of a bench module (workers and child processes run dist/, never .ts). */
export function compiledFile(relativeToRoot: string): string {
  const root = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
  return path.join(root, 'dist', relativeToRoot);
}

export interface ChildServer {
  port: number;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
  /** SIGKILL: no handler runs, nothing is flushed. Resolves when the process is gone. */
  kill9(): Promise<void>;
}

const startTimeoutMs = 60_000;
const stopGraceMs = 10_000;

const running = new Set<ChildProcess>();

export interface ServerProcessOptions {
  command: string;
  args: string[];
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Run it under `taskset -c cpus` (null: anywhere). */
  cpus: string | null;
  logFile: string;
  /** Matches the line that says it is ready; its first group, if any, is the port. */
  readyLine: RegExp;
  /** The port when the ready line does not carry it (chosen by the caller). */
  port?: number;
}

export async function startServerProcess(opts: ServerProcessOptions): Promise<ChildServer> {
  const { command, args } = underTaskset(opts.cpus, opts.command, opts.args);
  const name = path.basename(opts.command);
  const child: ChildProcess = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${startTimeoutMs} ms (see ${opts.logFile})`));
    }, startTimeoutMs);
    const onOutput = (chunk: Buffer): void => {
      fs.appendFileSync(opts.logFile, chunk);
      if (ready) return;
      text += chunk.toString();
      const match = opts.readyLine.exec(text);
      if (match === null) return;
      ready = true;
      text = '';
      clearTimeout(timer);
      const port = match[1] === undefined ? opts.port : Number(match[1]);
      if (port === undefined) reject(new Error(`${name}: no port in its ready line and none given`));
      else resolve(port);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not start: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready (see ${opts.logFile})`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    port,
    pid: child.pid!,
    logFile: opts.logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT'); // a paused server (server-pause.ts) would hold SIGTERM until resumed
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A node script of this project as a server (its ready line carries the port). */
export function startChildServer(opts: {
  script: string;
  args: string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  cpus?: string | null;
  logFile: string;
  /** Matches the line that carries the port (first group). */
  portLine: RegExp;
}): Promise<ChildServer> {
  if (!fs.existsSync(opts.script)) throw new Error(`${opts.script} is missing: run npm run build first`);
  return startServerProcess({
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), opts.script, ...opts.args],
    env: opts.env,
    cpus: opts.cpus ?? null,
    logFile: opts.logFile,
    readyLine: opts.portLine,
  });
}

/** Kills every server started here that is still running (an interrupted bench). */
export function killAllServers(): void {
  for (const child of running) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
}
