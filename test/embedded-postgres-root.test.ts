/**
 * The first run as root in a folder only root may enter (a clone in a
 * `mktemp -d` folder, or in /root): `sigplane serve` with no DATABASE_URL
 * starts its embedded Postgres and becomes ready. Postgres runs as the OS
 * user postgres, who can reach neither the binaries in node_modules nor the
 * data folder there; sigplane runs a copy of the binaries and keeps the
 * cluster under /var/lib/sigplane (persistence/pg/postgres-os-user.ts),
 * without opening the private folder. Needs root: run as another user it
 * fails, it is not skipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLocalPort } from '../persistence/pg/free-port';
import { rootStateDir } from '../persistence/pg/postgres-os-user';
import { cliPath, listeningPort, operatorEnv } from './support/cli-process';

const repo = path.resolve(__dirname, '..');
const cleanups: string[] = [];
afterAll(() => {
  for (const target of cleanups) fs.rmSync(target, { recursive: true, force: true });
});

describe('serve as root in a private folder, embedded Postgres', () => {
  it('becomes ready, with binaries and cluster where the postgres user reaches them, and the folder still private', async () => {
    expect(process.getuid?.(), 'this test checks what root gets: run it as root (CI does)').toBe(0);
    if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm test does)`);

    // A clone in a private folder: the build, the workspace packages node_modules links to, node_modules (hard links: no copy) and the migrations.
    const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-root-'));
    cleanups.push(privateDir);
    expect(fs.statSync(privateDir).mode & 0o777).toBe(0o700);
    const app = path.join(privateDir, 'sigplane');
    fs.mkdirSync(path.join(app, 'persistence'), { recursive: true });
    const copy = spawnSync('cp', ['-al', path.join(repo, 'dist'), path.join(repo, 'proto'), path.join(repo, 'client'), path.join(repo, 'node_modules'), path.join(repo, 'package.json'), app], { encoding: 'utf8' });
    expect(copy.stderr).toBe('');
    fs.cpSync(path.join(repo, 'persistence', 'migrations'), path.join(app, 'persistence', 'migrations'), { recursive: true });

    const child = spawn(process.execPath, [path.join(app, 'dist', 'cli', 'main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--shards', '1'], {
      cwd: app,
      env: operatorEnv({ SIGPLANE_EMBEDDED_PG_PORT: String(await freeLocalPort()), SIGPLANE_KEK: crypto.randomBytes(32).toString('base64') }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const pgLink = path.join(app, 'data', 'pg');
    try {
      const port = await listeningPort(child, () => stderr, 90_000);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      // The cluster: under /var/lib/sigplane, the postgres user's, 0700; linked from the data folder, and said so.
      const cluster = fs.readlinkSync(pgLink);
      cleanups.push(cluster);
      expect(path.dirname(cluster)).toBe(path.join(rootStateDir, 'clusters'));
      const clusterStat = fs.statSync(cluster);
      expect(clusterStat.mode & 0o777).toBe(0o700);
      expect(clusterStat.uid).not.toBe(0);
      expect(stderr).toContain(`the cluster is kept in ${cluster}, linked from ${pgLink}`);
      // The postmaster runs the copy of the binaries, as the postgres user.
      const postmaster = Number(fs.readFileSync(path.join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(fs.realpathSync(`/proc/${postmaster}/exe`).startsWith(path.join(rootStateDir, 'postgres-'))).toBe(true);
      expect(fs.statSync(`/proc/${postmaster}`).uid).toBe(clusterStat.uid);
      // Nothing of the private folder was opened to others.
      expect(fs.statSync(privateDir).mode & 0o777).toBe(0o700);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 150_000);
});
