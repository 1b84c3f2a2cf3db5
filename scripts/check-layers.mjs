#!/usr/bin/env node
/**
 * The import rules of docs/architecture.md, checked from the sources:
 *
 *   1. no import runs upward: a file may import only from its own layer or
 *      the layers below it (LAYERS, bottom first);
 *   2. no circles: no two files import each other, directly or through others;
 *   3. the SDK packages stand alone: proto/ imports nothing of the project
 *      outside itself, client/ nothing but proto/; and everything outside a
 *      package imports it by its name (@sigplane/protocol, @sigplane/client),
 *      never by a relative path, which would not exist once it is installed.
 *
 * Every static import, export-from, require() and import() of a string
 * literal is read (type-only imports too: a type is a dependency of the
 * design). Prints each violation and exits 1 when there is one.
 *
 *   node scripts/check-layers.mjs [root]
 */
import fs from 'node:fs';
import path from 'node:path';

/** Bottom first. A file may import from its layer and any layer before it. */
export const LAYERS = [
  { name: 'protocol', dirs: ['proto'] },
  { name: 'actors', dirs: ['actors'] },
  { name: 'persistence', dirs: ['persistence'] },
  { name: 'runtime', dirs: ['engine'] },
  { name: 'io', dirs: ['io'] },
  { name: 'client', dirs: ['client'] },
  { name: 'cli', dirs: ['cli'] },
  { name: 'bench', dirs: ['bench'] },
];

/** Packages that must install on their own: what each may import of the project. */
export const PACKAGES = {
  proto: { name: '@sigplane/protocol', mayImport: [] },
  client: { name: '@sigplane/client', mayImport: ['proto'] },
};

const sourceExtensions = ['.ts', '.mts', '.cts'];
const importPattern =
  /(?:^|[\s;})])(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+\s+from\s+)?['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function listSources(root, dir) {
  const out = [];
  const walk = (abs) => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const full = path.join(abs, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (sourceExtensions.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith('.d.ts')) out.push(full);
    }
  };
  const start = path.join(root, dir);
  if (fs.existsSync(start)) walk(start);
  return out;
}

function resolveRelative(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base, ...sourceExtensions.map((e) => base + e), ...sourceExtensions.map((e) => path.join(base, 'index' + e))];
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  return null;
}

/** The project file an import names, or null for node builtins and third-party packages. */
function resolveImport(root, fromFile, spec) {
  if (spec.startsWith('.')) return resolveRelative(fromFile, spec);
  for (const [dir, pkg] of Object.entries(PACKAGES)) {
    if (spec === pkg.name) return resolveRelative(path.join(root, dir, 'x'), './index');
    if (spec.startsWith(pkg.name + '/')) return resolveRelative(path.join(root, dir, 'x'), './' + spec.slice(pkg.name.length + 1));
  }
  return null;
}

function layerIndexOf(root, file) {
  const top = path.relative(root, file).split(path.sep)[0];
  return LAYERS.findIndex((l) => l.dirs.includes(top));
}

export function readGraph(root) {
  const files = LAYERS.flatMap((l) => l.dirs.flatMap((d) => listSources(root, d)));
  const edges = new Map();
  const unresolved = [];
  for (const file of files) {
    const text = stripComments(fs.readFileSync(file, 'utf8'));
    const targets = new Set();
    for (const m of text.matchAll(importPattern)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = resolveImport(root, file, spec);
      if (target !== null) targets.add(target);
      else if (spec.startsWith('.')) unresolved.push({ file, spec });
    }
    edges.set(file, [...targets]);
  }
  return { files, edges, unresolved };
}

/** Strongly connected components of more than one file (Tarjan, iterative). */
function circles(edges) {
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const result = [];
  for (const start of edges.keys()) {
    if (indexOf.has(start)) continue;
    const work = [{ node: start, next: 0 }];
    indexOf.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const targets = edges.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const t = targets[frame.next++];
        if (!edges.has(t)) continue;
        if (!indexOf.has(t)) {
          indexOf.set(t, index);
          low.set(t, index++);
          stack.push(t);
          onStack.add(t);
          work.push({ node: t, next: 0 });
        } else if (onStack.has(t)) low.set(frame.node, Math.min(low.get(frame.node), indexOf.get(t)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent), low.get(frame.node)));
      }
      if (low.get(frame.node) === indexOf.get(frame.node)) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1 || (edges.get(frame.node) ?? []).includes(frame.node)) result.push(component.sort());
      }
    }
  }
  return result;
}

/** Does `file` name `target` by a relative path (rather than by its package's name)? */
function importsByPath(file, target) {
  const text = stripComments(fs.readFileSync(file, 'utf8'));
  for (const m of text.matchAll(importPattern)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.') && resolveRelative(file, spec) === target) return true;
  }
  return false;
}

export function checkLayers(root) {
  const { edges, unresolved } = readGraph(root);
  const violations = [];
  const rel = (f) => path.relative(root, f);
  for (const u of unresolved) violations.push({ rule: 'unresolved', message: `${rel(u.file)} imports '${u.spec}', which is not a file` });
  for (const [file, targets] of edges) {
    const from = layerIndexOf(root, file);
    const fromTop = rel(file).split(path.sep)[0];
    for (const target of targets) {
      const to = layerIndexOf(root, target);
      const toTop = rel(target).split(path.sep)[0];
      if (to > from) {
        violations.push({ rule: 'upward', message: `${rel(file)} (${LAYERS[from].name}) imports ${rel(target)} (${LAYERS[to].name}, above it)` });
      }
      const pkg = PACKAGES[fromTop];
      if (pkg !== undefined && toTop !== fromTop && !pkg.mayImport.includes(toTop)) {
        violations.push({ rule: 'package', message: `${rel(file)} is in ${pkg.name}, which may not import ${rel(target)}` });
      }
      const targetPkg = PACKAGES[toTop];
      if (targetPkg !== undefined && toTop !== fromTop && importsByPath(file, target)) {
        // A relative path into a package does not exist once it is installed (nor in dist/).
        violations.push({ rule: 'package', message: `${rel(file)} imports ${rel(target)} by a relative path: import it as ${targetPkg.name}` });
      }
    }
  }
  // Tests may import anything, but a package folder by a relative path resolves to its package.json's
  // build (dist/), not its sources: a second copy of the package beside the one the code under test uses.
  for (const file of listSources(root, 'test')) {
    const text = stripComments(fs.readFileSync(file, 'utf8'));
    for (const m of text.matchAll(importPattern)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      const folder = path.relative(root, path.resolve(path.dirname(file), spec));
      const pkg = PACKAGES[folder];
      if (pkg !== undefined) violations.push({ rule: 'package', message: `${rel(file)} imports the folder ${folder}/ (its build, not its sources): import it as ${pkg.name}` });
    }
  }
  for (const component of circles(edges)) {
    violations.push({ rule: 'circle', message: `import circle: ${component.map(rel).join(' -> ')}` });
  }
  return violations;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
  const violations = checkLayers(root);
  for (const v of violations) console.error(`${v.rule}: ${v.message}`);
  if (violations.length > 0) {
    console.error(`${violations.length} import rule violation(s): see docs/architecture.md`);
    process.exit(1);
  }
  console.log('imports: no upward import, no circle, the SDK packages stand alone');
}
