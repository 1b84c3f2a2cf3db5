/**
 * The codec's schema module (proto/sigplane-schema.ts) is generated from
 * proto/sigplane.proto and committed: it must say what the .proto says.
 * Importing the protocol package reads no file (the schema is a module), so
 * it works from wherever it is installed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { FrameType, decodeFrame, encodeWelcome } from '@sigplane/protocol';

const repo = path.resolve(__dirname, '..');

describe('proto/sigplane-schema.ts', () => {
  it('is what proto/scripts/generate-schema.js makes of sigplane.proto', () => {
    const run = spawnSync(process.execPath, [path.join(repo, 'proto/scripts/generate-schema.js'), '--check'], { encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('describes the same Frame as the .proto, field by field', () => {
    const fileRoot = protobuf.loadSync(path.join(repo, 'proto/sigplane.proto'));
    const fromFile = fileRoot.lookupType('sigplane.Frame');
    expect(FrameType.toJSON()).toEqual(fromFile.toJSON());
    const bytes = encodeWelcome('6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e', 'SYNCING', 12, 'master', { signalsPerSecond: 10, signalsBurst: 20 });
    expect(fromFile.toObject(fromFile.decode(bytes), { longs: Number })).toEqual({
      welcome: { subscriptionId: '6f1c2a4e-8b3d-4f5a-9c7e-1d2b3a4c5d6e', state: fileRoot.lookupEnum('sigplane.SubscriptionState').values.SYNCING, lastSequence: 12, role: 'master', signalsPerSecond: 10, signalsBurst: 20 },
    });
    expect(decodeFrame(bytes)?.kind).toBe('welcome');
  });

  it('is loaded without reading a file: the built package opens no .proto', () => {
    // A preload that records every file the process opens, then the built package is required.
    const preload = `
      const fs = require('node:fs');
      const opened = [];
      for (const name of ['openSync', 'readFileSync']) {
        const original = fs[name];
        fs[name] = function (file, ...rest) { opened.push(String(file)); return original.call(this, file, ...rest); };
      }
      process.on('exit', () => process.stdout.write(JSON.stringify(opened.filter((f) => !f.endsWith('.js') && !f.endsWith('.json')))));
    `;
    const run = spawnSync(process.execPath, ['-e', `${preload}; require(${JSON.stringify(path.join(repo, 'proto/dist/index.js'))}).encodeHeartbeat(1)`], {
      encoding: 'utf8',
      cwd: '/',
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual([]);
  });
});
