/**
 * Runs command lines through the C++ build's selftest binary (the shared
 * MQL5/C++ code's pure parts) and returns one answer per line.
 * Doubles travel as their IEEE 754 bits (16 hex digits).
 */
import { spawnSync } from 'node:child_process';
import { eaBinaries } from './ea-build';

export function selftest(lines: string[]): string[] {
  const result = spawnSync(eaBinaries().selftest, [], { input: lines.join('\n') + '\n', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`selftest exited ${result.status}: ${result.stderr}`);
  const out = result.stdout.split('\n');
  out.pop();
  return out;
}

export function bits(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString('hex');
}

export function fromBits(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE();
}
