/**
 * The embedded Postgres when sigplane runs as root. Postgres refuses to run
 * as root, so it runs as the OS user `postgres` (created if missing, as a
 * system user). That user must reach two things: the Postgres binaries and
 * the cluster's folder. A clone in a folder only root may enter (`mktemp -d`,
 * /root) closes both to it, and sigplane does not open the user's folders to
 * others. Instead:
 *
 * - binaries: if `postgres` cannot run them where they are, they are copied
 *   once to /var/lib/sigplane/postgres-<version>/ (readable by all, as they
 *   are in node_modules) and run from there;
 * - cluster: if `postgres` cannot enter the data folder's parent, the
 *   cluster is kept in /var/lib/sigplane/clusters/<random>/ (owned by
 *   `postgres`, mode 0700, in a folder others may cross but not list), and
 *   `<data>/pg` is a symbolic link to it. sigplane says so when it does this.
 *   Removing the data folder leaves that cluster behind: remove the link's
 *   target too.
 *
 * Otherwise (a data folder postgres can reach, such as /srv/sigplane) the
 * cluster stays in `<data>/pg` and the data folder gets o+x (cross, not
 * list) so that `postgres` can reach it, as before.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { postgresLimits } from '@sigplane/protocol';
import { postgresPath, type PostgresInstall } from './postgres-install';
import type { OsUser } from './postgres-process';

/** Where root keeps what the `postgres` user must reach when the data folder is closed to it. */
export const rootStateDir = '/var/lib/sigplane';
const userName = 'postgres';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function findOsUser(name: string): OsUser | null {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/** The `postgres` OS user, created (a system user with its own group, no login shell) when missing. */
export function postgresOsUser(): OsUser {
  const found = findOsUser(userName);
  if (found !== null) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', userName], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `embedded Postgres: running as root, Postgres must run as the OS user ${userName}, which is missing and could not be created ` +
        `(useradd: ${stderr || (error as Error).message}). Create it (useradd --system ${userName}), run sigplane as a user other than root, or set DATABASE_URL`,
    );
  }
  const created = findOsUser(userName);
  if (created === null) throw new Error(`embedded Postgres: useradd succeeded but ${userName} is not in /etc/passwd`);
  return created;
}

/** Whether `user` can run `command args` (exit status 0): what it can reach, with its real permissions. */
function succeedsAs(user: OsUser, command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { uid: user.uid, gid: user.gid, cwd: '/', env: { PATH: process.env.PATH }, stdio: 'ignore', timeout: postgresLimits.osUserCheckTimeoutMs });
  return result.error === undefined && result.status === 0;
}

const canRunPostgres = (user: OsUser, install: PostgresInstall): boolean => succeedsAs(user, postgresPath(install), ['--version']);
const canEnter = (user: OsUser, folder: string): boolean => succeedsAs(user, '/bin/sh', ['-c', 'cd -- "$1"', 'sh', folder]);

/** The first folder on the way to `target` that `user` may not cross (by its mode bits), for an error message. */
function closedFolder(user: OsUser, target: string): string | null {
  let folder = path.parse(target).root;
  for (const part of target.split(path.sep).filter((p) => p !== '')) {
    folder = path.join(folder, part);
    let st: fs.Stats;
    try {
      st = fs.statSync(folder);
    } catch {
      return null;
    }
    const cross = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (cross === 0) return folder;
  }
  return null;
}

/** mkdir -p, then the mode exactly (mkdir's is cut by the umask). */
function folderWithMode(folder: string, mode: number): void {
  fs.mkdirSync(folder, { recursive: true });
  fs.chmodSync(folder, mode);
}

/** Folders 0755, files readable by all (executables runnable by all), whatever the umask made of the copy. */
function openForReading(folder: string): void {
  fs.chmodSync(folder, 0o755);
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) openForReading(full);
    else if (entry.isFile()) {
      const mode = fs.statSync(full).mode & 0o777;
      fs.chmodSync(full, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

/** The install itself when `user` can run it, else a copy under rootStateDir that it can (made once per version). */
export function installReachableBy(user: OsUser, install: PostgresInstall, notice: (message: string) => void): PostgresInstall {
  if (canRunPostgres(user, install)) return install;
  const copy: PostgresInstall = { root: path.join(rootStateDir, `postgres-${install.version}-${process.platform}-${process.arch}`), version: install.version };
  if (!fs.existsSync(postgresPath(copy))) {
    folderWithMode(rootStateDir, 0o755);
    const partial = `${copy.root}.partial-${randomBytes(4).toString('hex')}`;
    fs.cpSync(install.root, partial, { recursive: true, verbatimSymlinks: true });
    openForReading(partial);
    try {
      fs.renameSync(partial, copy.root);
    } catch (error) {
      // Another sigplane made it meanwhile: use theirs.
      fs.rmSync(partial, { recursive: true, force: true });
      if (!fs.existsSync(postgresPath(copy))) throw error;
    }
    notice(`running as root: the OS user ${user.name} cannot reach the Postgres binaries in ${install.root}; copied them to ${copy.root}`);
  }
  if (!canRunPostgres(user, copy)) {
    throw new Error(`embedded Postgres: the OS user ${user.name} cannot run ${postgresPath(copy)} either (closed: ${closedFolder(user, copy.root) ?? 'unknown'})`);
  }
  return copy;
}

/**
 * The cluster folder for `<dataDir>/pg`, as a path `user` can reach (the
 * target of the link when it is one). Makes the data folder crossable, or
 * the cluster's folder under rootStateDir and the link to it.
 */
export function clusterReachableBy(user: OsUser, dataDir: string, notice: (message: string) => void): string {
  const pgDir = path.join(dataDir, 'pg');
  let link: string | null = null;
  try {
    link = fs.lstatSync(pgDir).isSymbolicLink() ? fs.readlinkSync(pgDir) : null;
  } catch {
    // no <data>/pg yet
  }
  if (link !== null) {
    const target = path.resolve(dataDir, link);
    if (!fs.existsSync(target)) {
      throw new Error(`embedded Postgres: ${pgDir} links to ${target}, which is gone; remove ${pgDir} and ${path.join(dataDir, 'pg-password')} to start afresh`);
    }
    return target;
  }
  if (canEnter(user, path.dirname(dataDir))) {
    // Cross, not list: the user reaches <data>/pg by its name.
    const st = fs.statSync(dataDir);
    if ((st.mode & 0o001) === 0) fs.chmodSync(dataDir, (st.mode & 0o7777) | 0o001);
    return pgDir;
  }
  if (fs.existsSync(pgDir)) {
    const closed = closedFolder(user, pgDir) ?? path.dirname(dataDir);
    throw new Error(
      `embedded Postgres: running as root, Postgres runs as the OS user ${user.name}, who cannot reach the cluster ${pgDir} (${closed} is closed to it). ` +
        `Run sigplane as the user who made it, move the data folder (--data) somewhere ${user.name} can reach, or let it cross ${closed} (chmod o+x ${closed})`,
    );
  }
  const clusters = path.join(rootStateDir, 'clusters');
  folderWithMode(rootStateDir, 0o755);
  folderWithMode(clusters, 0o711);
  const cluster = path.join(clusters, randomBytes(8).toString('hex'));
  fs.mkdirSync(cluster, { mode: 0o700 });
  fs.chownSync(cluster, user.uid, user.gid);
  if (!canEnter(user, cluster)) throw new Error(`embedded Postgres: the OS user ${user.name} cannot reach ${cluster} (closed: ${closedFolder(user, cluster) ?? 'unknown'})`);
  fs.symlinkSync(cluster, pgDir);
  notice(
    `running as root: the OS user ${user.name}, who runs Postgres, cannot reach ${dataDir}; the cluster is kept in ${cluster}, linked from ${pgDir} ` +
      `(removing the data folder leaves it behind)`,
  );
  return cluster;
}
