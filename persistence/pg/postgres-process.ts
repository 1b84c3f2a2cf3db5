/**
 * initdb and postgres as child processes of sigplane, for the embedded
 * Postgres (persistence/pg/embedded.ts says what is where).
 *
 * - Every way a start can fail ends in an Error that names its cause: the
 *   binary cannot be run (a spawn error, EACCES when the user that runs
 *   Postgres cannot reach it), the port is taken, or Postgres exits before it
 *   is ready (with the last lines it wrote). None is an unhandled 'error'
 *   event, and none leaves a promise waiting forever.
 * - Ready means the postmaster wrote `ready` in postmaster.pid (its status
 *   line since Postgres 10): it accepts connections.
 * - Postgres gets its own process group (a Ctrl-C on the terminal reaches
 *   sigplane, which stops its server and journals before it stops Postgres)
 *   and a short environment: the locale and PATH, none of sigplane's
 *   settings or secrets (SIGPLANE_KEK, say).
 * - Stopped with SIGINT (fast shutdown), SIGQUIT after `postgresLimits.embeddedStopWaitMs`. When
 *   sigplane exits, every Postgres it started still running gets SIGINT; a
 *   SIGINT, SIGTERM or SIGHUP that nothing else in sigplane handles exits it
 *   as Node would have (128 + signal number), through that exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { postgresLimits } from '@sigplane/protocol';
import { initdbPath, postgresPath, type PostgresInstall } from './postgres-install';

/** An OS user other than this process's, to run Postgres as (root runs it as `postgres`). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}


/** The environment Postgres gets: the locale and PATH of this process, messages in English (C). */
function postgresEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_MESSAGES: 'C' };
  for (const name of ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'TZ']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

/** The last lines a child wrote, bounded. */
class OutputTail {
  private readonly lines: string[] = [];
  add(chunk: Buffer): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      this.lines.push(line);
      if (this.lines.length > postgresLimits.embeddedLogLinesMax) this.lines.shift();
    }
  }
  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }
  text(): string {
    return this.lines.length === 0 ? '' : `\n--- last Postgres output ---\n${this.lines.join('\n')}`;
  }
}

function spawnPostgresBinary(binary: string, args: string[], runAs: OsUser | undefined): { child: ChildProcess; tail: OutputTail } {
  const child = spawn(binary, args, {
    env: postgresEnvironment(),
    cwd: '/',
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
  });
  const tail = new OutputTail();
  child.stdout!.on('data', (chunk: Buffer) => tail.add(chunk));
  child.stderr!.on('data', (chunk: Buffer) => tail.add(chunk));
  return { child, tail };
}

/** Why a binary could not be started, in words. */
function spawnFailure(binary: string, error: NodeJS.ErrnoException, runAs: OsUser | undefined): string {
  if (error.code === 'EACCES' && runAs !== undefined) {
    return `the OS user ${runAs.name} cannot run ${binary} (a folder on its path is closed to that user)`;
  }
  return `cannot run ${binary}: ${error.code ?? error.message}`;
}

/**
 * Waits for the child to be gone with everything it wrote read ('close':
 * after its exit and the end of its output, so an error quotes its last
 * line); settles on 'error' too (a child that never started).
 */
function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; error: NodeJS.ErrnoException | null }> {
  return new Promise((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, error: null }));
  });
}

export interface InitdbOptions {
  install: PostgresInstall;
  pgData: string;
  superuser: string;
  /** The superuser's password, in a file the user that runs initdb can read. */
  passwordFile: string;
  runAs?: OsUser;
}

export async function runInitdb(o: InitdbOptions): Promise<void> {
  const binary = initdbPath(o.install);
  const args = [
    `--pgdata=${o.pgData}`,
    '--auth=scram-sha-256',
    `--username=${o.superuser}`,
    `--pwfile=${o.passwordFile}`,
    '--encoding=UTF8',
    '--lc-messages=C',
  ];
  const { child, tail } = spawnPostgresBinary(binary, args, o.runAs);
  const exit = await exitOf(child);
  if (exit.error !== null) throw new Error(spawnFailure(binary, exit.error, o.runAs));
  if (exit.code !== 0) throw new Error(`initdb exited with ${exit.code ?? exit.signal}${tail.text()}`);
}

export interface PostgresProcessOptions {
  install: PostgresInstall;
  pgData: string;
  port: number;
  runAs?: OsUser;
}

export interface PostgresProcess {
  pid: number;
  /** Fast shutdown; resolves when it exited. Idempotent, and immediate when it already exited. */
  stop(): Promise<void>;
}

/** Children still running, told to stop when this process exits. */
const running = new Set<ChildProcess>();
let exitHooked = false;

function stopChildrenOnExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGINT');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // The only listener: Node would have ended the process; do it, through 'exit' (which stops Postgres).
      if (process.listenerCount(signal) === 1) process.exit(128 + os.constants.signals[signal]);
    });
  }
}

/** The postmaster's status line (postmaster.pid, line 8): `ready` once it accepts connections. */
function postmasterReady(pgData: string, pid: number): boolean {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgData, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return false;
  }
  return Number(lines[0]) === pid && (lines[7] ?? '').trim() === 'ready';
}

export async function startPostgres(o: PostgresProcessOptions): Promise<PostgresProcess> {
  const binary = postgresPath(o.install);
  const args = ['-D', o.pgData, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const { child, tail } = spawnPostgresBinary(binary, args, o.runAs);
  const exited = exitOf(child);
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    running.delete(child);
  });
  stopChildrenOnExit();
  running.add(child);

  const deadline = Date.now() + postgresLimits.embeddedReadyWaitMs;
  while (!hasExited && !(child.pid !== undefined && postmasterReady(o.pgData, child.pid))) {
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      await exited;
      throw new Error(`Postgres was not ready within ${postgresLimits.embeddedReadyWaitMs / 1000} s${tail.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, postgresLimits.embeddedReadyPollMs));
  }
  if (hasExited) {
    const exit = await exited;
    if (exit.error !== null) throw new Error(spawnFailure(binary, exit.error, o.runAs));
    if (tail.has(/could not bind .*Address already in use/)) throw new Error(`port ${o.port} on 127.0.0.1 is taken${tail.text()}`);
    throw new Error(`Postgres exited with ${exit.code ?? exit.signal} before it was ready${tail.text()}`);
  }

  let stopping: Promise<void> | null = null;
  return {
    pid: child.pid!,
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (hasExited) return;
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGQUIT'), postgresLimits.embeddedStopWaitMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
