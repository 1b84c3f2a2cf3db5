/**
 * `npm run build` (which `npm start`, `npm run demo`, the benches and
 * `npm test` run first) compiles once and then only what changed: with
 * nothing changed it rewrites no compiled file, and after a source changes
 * the new output is there while files the change does not touch stay as
 * they were. tsc's build mode with its build info in dist/ (tsconfig.json
 * `incremental`, the packages proto/ and client/ as project references);
 * deleting dist/ forces a full build. Runs the real scripts
 * on a copy of the sources; what it compares is which files were written,
 * never how long it took.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '..');
const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The sources tsconfig.json compiles (its own folders and the packages it
 * references), the tsconfigs, package.json and the .proto, in a new folder;
 * node_modules linked entry by entry, the workspace packages to the copies.
 */
function copyOfSources(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-build-'));
  copies.push(dir);
  const config = JSON.parse(fs.readFileSync(path.join(repo, 'tsconfig.json'), 'utf8')) as { include: string[]; references: { path: string }[] };
  const packages = config.references.map((r) => path.normalize(r.path));
  for (const entry of [...config.include, ...packages, 'tsconfig.json', 'tsconfig.base.json', 'package.json']) {
    fs.cpSync(path.join(repo, entry), path.join(dir, entry), {
      recursive: true,
      filter: (source) => !/[\\/](dist|node_modules)$/.test(source),
    });
  }
  fs.mkdirSync(path.join(dir, 'node_modules/@sigplane'), { recursive: true });
  for (const entry of fs.readdirSync(path.join(repo, 'node_modules'))) {
    if (entry !== '@sigplane') fs.symlinkSync(path.join(repo, 'node_modules', entry), path.join(dir, 'node_modules', entry));
  }
  fs.symlinkSync(path.join(dir, 'proto'), path.join(dir, 'node_modules/@sigplane/protocol'));
  fs.symlinkSync(path.join(dir, 'client'), path.join(dir, 'node_modules/@sigplane/client'));
  return dir;
}

function build(dir: string): void {
  const run = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
}

/** Modification time of every compiled file under dist/ and the packages' dist/. */
function compiledFiles(dir: string): Map<string, number> {
  const times = new Map<string, number>();
  const walk = (folder: string): void => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.js(\.map)?$/.test(entry.name)) times.set(path.relative(dir, full), fs.statSync(full).mtimeMs);
    }
  };
  for (const out of ['dist', 'proto/dist', 'client/dist']) walk(path.join(dir, out));
  return times;
}

describe('npm run build', () => {
  it('compiles once, then only what changed', () => {
    const dir = copyOfSources();
    build(dir);
    const first = compiledFiles(dir);
    expect(first.has('dist/cli/main.js')).toBe(true);
    expect(first.has('proto/dist/codec.js')).toBe(true);
    expect(first.has('client/dist/master-client.js')).toBe(true);

    // Nothing changed: nothing is written.
    build(dir);
    const unchanged = [...compiledFiles(dir)].filter(([file, mtime]) => first.get(file) !== mtime).map(([file]) => file);
    expect(unchanged).toEqual([]);

    // One source changed: its output is new; a file it does not reach is not rewritten.
    fs.appendFileSync(path.join(dir, 'cli/log.ts'), '\nexport const buildFreshnessProbe = 1;\n');
    build(dir);
    expect(fs.readFileSync(path.join(dir, 'dist/cli/log.js'), 'utf8')).toContain('buildFreshnessProbe');
    expect(fs.statSync(path.join(dir, 'proto/dist/limits.js')).mtimeMs).toBe(first.get('proto/dist/limits.js'));
    expect(fs.statSync(path.join(dir, 'client/dist/copier.js')).mtimeMs).toBe(first.get('client/dist/copier.js'));
  }, 600_000);
});
