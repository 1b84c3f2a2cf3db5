/**
 * docs/architecture.md's import rules, checked on the sources by
 * scripts/check-layers.mjs: nothing imports upward, no import circle, the
 * packages (proto/ as @sigplane/protocol, client/ as @sigplane/client)
 * stand alone and are imported by name. The checker itself is tried on a
 * small tree that breaks each rule, so a checker that sees nothing fails.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(__dirname, '..');
const checker = path.join(repo, 'scripts/check-layers.mjs');
const trees: string[] = [];
afterAll(() => {
  for (const dir of trees) fs.rmSync(dir, { recursive: true, force: true });
});

function check(root: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [checker, root], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-layers-'));
  trees.push(dir);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('import rules', () => {
  it('hold for this repository', () => {
    const result = check(repo);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('are broken by an upward import, a circle, a package importing the server, and a relative path into a package', () => {
    const root = tree({
      'proto/index.ts': "export * from './records';\n",
      'proto/records.ts': "import { shardOf } from '../engine/shard';\nexport const x = shardOf;\n",
      'actors/a.ts': "import { b } from './b';\nexport const a = b;\n",
      'actors/b.ts': "import type { a } from './a';\nexport const b = 1 as unknown as typeof a;\n",
      'engine/shard.ts': "import { x } from '../proto/records';\nexport const shardOf = x;\n",
      'client/index.ts': "import { Journal } from '../persistence/journal';\nexport const j = Journal;\n",
      'persistence/journal.ts': "import { x } from '@sigplane/protocol';\nexport const Journal = x;\n",
      'test/copier.test.ts': "import { Copier } from '../client';\nimport { x } from '../client/copier';\n",
      // Comments are not imports.
      'io/server.ts': "// import { y } from '../cli/main';\n/* import '../cli/main'; */\nexport const s = 1;\n",
    });
    const result = check(root);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toContain('upward: proto/records.ts (protocol) imports engine/shard.ts (runtime, above it)');
    expect(lines).toContain('package: proto/records.ts is in @sigplane/protocol, which may not import engine/shard.ts');
    expect(lines).toContain('circle: import circle: actors/a.ts -> actors/b.ts');
    expect(lines).toContain('circle: import circle: engine/shard.ts -> proto/records.ts');
    expect(lines).toContain('package: client/index.ts is in @sigplane/client, which may not import persistence/journal.ts');
    expect(lines).toContain('package: engine/shard.ts imports proto/records.ts by a relative path: import it as @sigplane/protocol');
    expect(lines).toContain('package: test/copier.test.ts imports the folder client/ (its build, not its sources): import it as @sigplane/client');
    expect(lines.filter((l) => l.includes('io/server.ts') || l.includes("'../client/copier'"))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^\d+ import rule violation\(s\)/);
  });
});
