/**
 * What this machine can check of the MQL5 build (only MetaEditor compiles
 * MQL5; docs/metatrader.md says what is checked where):
 *   - clang reads both experts as MetaEditor would assemble them, with the
 *     MQL5 platform layer (Include/Sigplane/Platform/Mql5*.mqh) and the
 *     shared code under MQL5's built-ins only (mql5/cpp/mql5-check/
 *     mql5-shim.hpp declares them with MQL5's signatures; the MQL5-only
 *     syntax is rewritten first: test/metatrader/support/mql5-to-cpp.ts):
 *     no error. It catches an undeclared or misspelt MQL5 function, a call
 *     with the wrong arguments, and shared code leaning on a helper only the
 *     C++ prelude has (checked below on altered copies).
 *   - the shared files keep to the common subset of MQL5 and C++: no
 *     pointers, heap objects, templates, exceptions, operators, namespaces,
 *     member initializers, `char`, or identifiers MQL5 reserves.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mql5Root } from './support/ea-build';
import { mql5ToCpp } from './support/mql5-to-cpp';

let dir: string;

function copyRewritten(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyRewritten(source, target);
    else fs.writeFileSync(target, mql5ToCpp(fs.readFileSync(source, 'utf8')));
  }
}

function clang(expert: string, include = path.join(dir, 'Include')): { status: number | null; output: string } {
  const result = spawnSync(
    'clang++',
    [
      '-fsyntax-only',
      '-std=c++17',
      '-Werror=return-type',
      '-include',
      path.join(mql5Root, 'cpp/mql5-check/mql5-shim.hpp'),
      '-I',
      include,
      '-I',
      path.join(mql5Root, 'cpp/mql5-check'),
      '-x',
      'c++',
      path.join(dir, 'Experts', `${expert}.mq5`),
    ],
    { encoding: 'utf8' },
  );
  if (result.error !== undefined) throw new Error(`clang++ is missing (scripts/ci-system-packages.sh installs it): ${result.error.message}`);
  return { status: result.status, output: result.stderr };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-mql5-check-'));
  copyRewritten(path.join(mql5Root, 'Include'), path.join(dir, 'Include'));
  copyRewritten(path.join(mql5Root, 'Experts'), path.join(dir, 'Experts'));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of the rewritten tree with one file altered. */
function altered(file: string, from: string, to: string): string {
  const tree = path.join(dir, `altered-${Math.random().toString(36).slice(2)}`);
  fs.cpSync(path.join(dir, 'Include'), tree, { recursive: true });
  const target = path.join(tree, file);
  const text = fs.readFileSync(target, 'utf8');
  expect(text.includes(from), `${file} contains ${from}`).toBe(true);
  fs.writeFileSync(target, text.replace(from, to));
  return tree;
}

describe('the MQL5 build, read by clang against MQL5 built-in declarations', () => {
  it('has no error in either expert with the MQL5 platform layer', () => {
    for (const expert of ['SigplaneMaster', 'SigplaneReceiver']) {
      const result = clang(expert);
      expect(result.output, expert).toBe('');
      expect(result.status, expert).toBe(0);
    }
  });

  it('catches a misspelt MQL5 function, a wrong argument list, and a C++-only helper in the shared code', () => {
    const misspelt = clang('SigplaneMaster', altered('Sigplane/Platform/Mql5Platform.mqh', 'SocketTlsHandshake(socket, host)', 'SocketTlsHandshakes(socket, host)'));
    expect(misspelt.output).toMatch(/undeclared identifier 'SocketTlsHandshakes'/);
    const arity = clang('SigplaneReceiver', altered('Sigplane/Platform/Mql5Platform.mqh', 'DatabaseOpen(name, DATABASE_OPEN_READWRITE', 'DatabaseOpen(DATABASE_OPEN_READWRITE'));
    expect(arity.status).not.toBe(0);
    const cppOnly = clang('SigplaneMaster', altered('Sigplane/Text.mqh', 'return StringSubstr(text, 0, n) == prefix;', 'return text.Std().size() > 0 && StringSubstr(text, 0, n) == prefix;'));
    expect(cppOnly.output).toMatch(/no member named 'Std'/);
  });
});

/** The source without comments, and with every string and character literal emptied. */
function codeOnly(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      while (i < source.length && source[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && source[i + 1] === '*') {
      i += 2;
      while (i < source.length && !(source[i] === '*' && source[i + 1] === '/')) i++;
      i++;
    } else if (c === '"' || c === "'") {
      out += c + c;
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
    } else {
      out += c;
    }
  }
  return out;
}

describe('the shared files keep to the common subset of MQL5 and C++', () => {
  const forbidden: [RegExp, string][] = [
    [/->/, 'pointer member access (MQL5 writes a pointer member with a dot)'],
    [/\bnew\b|\bdelete\b/, 'heap objects'],
    [/std::/, 'the C++ standard library'],
    [/\btemplate\b|\bauto\b|\bnullptr\b|\bunsigned\b|long\s+long|_cast\s*</, 'C++-only types and casts'],
    [/\boperator\b|\bnamespace\b|\busing\b|\btypedef\b/, 'operators, namespaces, aliases'],
    [/\bthrow\b|\btry\b|\bcatch\b/, 'exceptions'],
    [/\bsizeof\b/, 'sizeof'],
    [/\bchar\b/, 'char (signed in MQL5, either in C++)'],
    [/\binput\b|\bsinput\b/, 'MQL5 keywords as names'],
    [/^ {3}\w+\s{2,}\w+(\[[^\]]*\])?\s*=/m, 'member initializers'],
    [/\.(Std|StdMutable|Data|MutableData|c_str)\s*\(/, 'C++-prelude-only accessors'],
  ];
  const shared = fs
    .readdirSync(path.join(mql5Root, 'Include/Sigplane'))
    .filter((f) => f.endsWith('.mqh') && f !== 'Platform.mqh')
    .map((f) => path.join(mql5Root, 'Include/Sigplane', f));

  it('in every shared file (comments and strings aside)', () => {
    expect(shared.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const file of [...shared, path.join(mql5Root, 'Experts/SigplaneMaster.mq5'), path.join(mql5Root, 'Experts/SigplaneReceiver.mq5')]) {
      // The experts declare their inputs with MQL5's keyword, at the start of a line.
      const code = codeOnly(fs.readFileSync(file, 'utf8')).replace(/^input\s/gm, '');
      for (const [pattern, what] of forbidden) if (pattern.test(code)) problems.push(`${path.basename(file)}: ${what} (${pattern})`);
    }
    expect(problems).toEqual([]);
  });

  it('and the lint finds what it looks for', () => {
    const sample = 'class A\n  {\npublic:\n   int               m_x = 0;\n   void F(void) { B *b = new B(); b->Go(); }\n  };\n';
    const hits = forbidden.filter(([pattern]) => pattern.test(sample)).map(([, what]) => what);
    expect(hits).toEqual(['pointer member access (MQL5 writes a pointer member with a dot)', 'heap objects', 'member initializers']);
  });
});
