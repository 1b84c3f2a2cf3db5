/**
 * A server under test in its own process (so that its CPU and memory are
 * its own): spawned with node, ready when it prints its port, stopped with
 * SIGTERM (SIGKILL after a grace period). Its output goes to a log file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

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

export async function startChildServer(opts: {
  script: string;
  args: string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /** Matches the line that carries the port (first group). */
  portLine: RegExp;
}): Promise<ChildServer> {
  if (!fs.existsSync(opts.script)) throw new Error(`${opts.script} is missing: run npm run build first`);
  const log = fs.openSync(opts.logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script, ...opts.args], {
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', log],
  });
  fs.closeSync(log);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(opts.script)} did not print its port within ${startTimeoutMs} ms (see ${opts.logFile})`));
    }, startTimeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      fs.appendFileSync(opts.logFile, chunk);
      text += chunk.toString();
      const match = opts.portLine.exec(text);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(opts.script)} exited (${code ?? signal}) before it listened (see ${opts.logFile})`));
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
