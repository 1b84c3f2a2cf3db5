import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../persistence/crc32';

/** The definition, bit by bit: the oracle the fast implementation is checked against. */
function crc32Bitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  it('gives the standard check value and 0 for no bytes', () => {
    expect(crc32(Buffer.from('123456789', 'ascii'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('matches the bitwise definition on random inputs, views into larger buffers included, always unsigned', () => {
    for (let i = 0; i < 200; i++) {
      const backing = randomBytes(1 + (i * 37) % 700);
      const start = i % Math.max(1, backing.length >> 2);
      const view = new Uint8Array(backing.buffer, backing.byteOffset + start, backing.length - start);
      const value = crc32(view);
      expect(value).toBe(crc32Bitwise(view));
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(0xffffffff);
    }
  });
});
