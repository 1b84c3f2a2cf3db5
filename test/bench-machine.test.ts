/**
 * The commit RESULTS.md names: HEAD's hash, marked when the working tree
 * differs from HEAD, except in the files the benches write themselves
 * (RESULTS.md and its charts: `npm run bench:all` writes the micro section
 * before the load run reads the commit).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitCommit } from '../bench/machine';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-bench-machine-'));
const git = (...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { cwd: root, encoding: 'utf8' }).trim();
const write = (file: string, text: string): void => {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
};

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('gitCommit', () => {
  it('names HEAD, and marks changes other than the benches\' own outputs', () => {
    git('init', '-q');
    write('engine/a.ts', 'export const a = 1;\n');
    write('bench/RESULTS.md', '# results\n');
    write('bench/charts/x.svg', '<svg/>\n');
    git('add', '.');
    git('commit', '-qm', 'first');
    const head = git('rev-parse', '--short', 'HEAD');
    expect(gitCommit(root)).toBe(head);

    write('bench/RESULTS.md', '# results, rewritten by a run\n');
    write('bench/charts/x.svg', '<svg></svg>\n');
    write('bench/charts/new.svg', '<svg/>\n');
    expect(gitCommit(root)).toBe(head);

    write('engine/a.ts', 'export const a = 2;\n');
    expect(gitCommit(root)).toBe(`${head} (with uncommitted changes)`);
    git('checkout', '-q', '--', 'engine/a.ts');
    write('engine/untracked.ts', 'export {};\n');
    expect(gitCommit(root)).toBe(`${head} (with uncommitted changes)`);
  });

  it('says so when there is no repository', () => {
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-bench-nogit-'));
    try {
      expect(gitCommit(bare)).toBe('unknown (git failed)');
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });
});
