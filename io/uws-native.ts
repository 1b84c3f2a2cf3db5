/**
 * uWebSockets.js through the npm alias silently falls back to a slow
 * Node.js implementation when its native build does not load. sigplane
 * refuses to run on the fallback: it checks that the module it got is the
 * native binary for this platform and Node ABI.
 */
import path from 'node:path';
import type * as Uws from 'uWebSockets.js';

export function nativeBinaryPath(): string {
  const packageDir = path.dirname(require.resolve('uWebSockets.js/package.json'));
  return path.join(packageDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

export function loadNativeUws(): typeof Uws {
  if (/^(1|true)$/i.test(process.env.UWS_USE_FALLBACK ?? '')) {
    throw new Error('UWS_USE_FALLBACK is set: sigplane runs only on the native uWebSockets.js build');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const uws = require('uWebSockets.js') as typeof Uws;
  let native: typeof Uws;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = require(nativeBinaryPath()) as typeof Uws;
  } catch (error) {
    throw new Error(`the native uWebSockets.js build does not load on this machine (${(error as Error).message})`);
  }
  if (uws.App !== native.App) {
    throw new Error('uWebSockets.js loaded its Node.js fallback, not the native build');
  }
  return uws;
}
