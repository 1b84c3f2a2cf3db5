/**
 * The built `sigplane` command as a child process, the way an operator runs
 * it: one-shot commands (runCli) and a long-running `serve` whose stdout
 * says when it listens (awaitStdout, listeningPort).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const cliPath = path.resolve(__dirname, '../../dist/cli/main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/cli/main.js ...args` (`input` on its stdin); rejects if it has not exited within timeoutMs. */
export function runCli(args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(process.execPath, [cliPath, ...args], { env: options.env, cwd: options.cwd, stdio: [stdin, 'pipe', 'pipe'] });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sigplane ${args.join(' ')} did not exit\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Let the pipes drain before answering.
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

/**
 * Resolves with the first non-null parse of the child's stdout so far;
 * rejects when the child exits first or after timeoutMs. `context` adds
 * what the caller has (its stderr, say) to the error.
 */
export function awaitStdout<T>(child: ChildProcess, parse: (stdout: string) => T | null, context: () => string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const done = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no expected output within ${timeoutMs} ms: ${context()}`));
    }, timeoutMs);
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`exited (${code}) before the expected output: ${context()}`));
    };
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString();
      const parsed = parse(stdout);
      if (parsed !== null) {
        done();
        resolve(parsed);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** The port a `sigplane serve` child says it listens on. */
export function listeningPort(child: ChildProcess, context: () => string, timeoutMs = 30_000): Promise<number> {
  return awaitStdout(
    child,
    (stdout) => {
      const match = /listening on port (\d+)/.exec(stdout);
      return match === null ? null : Number(match[1]);
    },
    context,
    timeoutMs,
  );
}

/** The environment of an operator's shell: this one without the test run's SIGPLANE_* and DATABASE_URL, plus `extra`. */
export function operatorEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete env[name];
  return { ...env, ...extra };
}
