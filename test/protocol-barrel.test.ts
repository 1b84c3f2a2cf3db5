/**
 * proto/index.ts, the @sigplane/protocol entry point, re-exports each value
 * as `export import name = module.name`, which tsc emits as a plain data
 * property; `export *` and `export { name } from` emit getters that made
 * every `protocol.X` read on the hot path slower (the header of
 * proto/index.ts). This keeps the list in that form and complete: every
 * module of the package is named in it, every value each module exports is
 * there, and the compiled entry point holds data properties only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const protoDir = path.resolve(__dirname, '../proto');
const barrelSource = fs.readFileSync(path.join(protoDir, 'index.ts'), 'utf8');
/** The generated schema and the direct frame writers are the codec's own; nothing outside proto/ reads them. */
const internalModules = new Set(['index', 'sigplane-schema', 'hot-frames']);

function packageModules(): string[] {
  return fs
    .readdirSync(protoDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -'.ts'.length))
    .filter((name) => !internalModules.has(name))
    .sort();
}

describe('the protocol package entry point', () => {
  it('re-exports values as export import, never with export * or export { } from', () => {
    expect(barrelSource).not.toMatch(/^\s*export\s*\*/m);
    expect(barrelSource).not.toMatch(/^\s*export\s*\{/m);
  });

  it('compiles to data properties, no getters', () => {
    const compiled = require(path.join(protoDir, 'dist/index.js')) as object;
    const getters = Object.entries(Object.getOwnPropertyDescriptors(compiled))
      .filter(([, descriptor]) => descriptor.get !== undefined)
      .map(([key]) => key);
    expect(Object.keys(compiled).length).toBeGreaterThan(50);
    expect(getters).toEqual([]);
  });

  it('names every module of the package', () => {
    const named = new Set([...barrelSource.matchAll(/from '\.\/([\w-]+)';/g)].map((match) => match[1]));
    expect(packageModules().filter((name) => !named.has(name))).toEqual([]);
  });

  it('exports every value each module exports', async () => {
    const barrel = (await import('../proto/index')) as Record<string, unknown>;
    const missing: string[] = [];
    for (const name of packageModules()) {
      const module = (await import(path.join(protoDir, `${name}.ts`))) as Record<string, unknown>;
      for (const [key, value] of Object.entries(module)) {
        if (barrel[key] !== value) missing.push(`${name}.${key}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
