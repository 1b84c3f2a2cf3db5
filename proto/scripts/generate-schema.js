#!/usr/bin/env node
/**
 * Writes proto/sigplane-schema.ts from proto/sigplane.proto: the schema as
 * protobufjs' JSON descriptor, so that the codec builds its types from a
 * module (no file read when it is imported, from any package or folder).
 * The .proto stays the one source of truth: `npm run build` runs this, and
 * test/proto-schema.test.ts fails when the committed module and the .proto
 * disagree.
 *
 *   node proto/scripts/generate-schema.js           write it
 *   node proto/scripts/generate-schema.js --check   exit 1 when it is not up to date
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const protobuf = require('protobufjs');

const protoDir = path.resolve(__dirname, '..');
const schemaFile = path.join(protoDir, 'sigplane.proto');
const moduleFile = path.join(protoDir, 'sigplane-schema.ts');

function generate() {
  const descriptor = protobuf.loadSync(schemaFile).toJSON({ keepComments: false });
  return [
    '// Generated from sigplane.proto by proto/scripts/generate-schema.js: do not edit.',
    '// The .proto is the source of truth; `npm run build` writes this file again.',
    '/* eslint-disable */',
    `export const sigplaneSchema = ${JSON.stringify(descriptor, null, 2)};`,
    '',
  ].join('\n');
}

const text = generate();
if (process.argv.includes('--check')) {
  const current = fs.existsSync(moduleFile) ? fs.readFileSync(moduleFile, 'utf8') : '';
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), moduleFile)} is not generated from sigplane.proto: run node proto/scripts/generate-schema.js`);
    process.exit(1);
  }
} else if (!fs.existsSync(moduleFile) || fs.readFileSync(moduleFile, 'utf8') !== text) {
  fs.writeFileSync(moduleFile, text);
}
