import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../persistence/crc32';
import { generateToken, parseToken, tokenFormatError, tokenLength } from '../persistence/pg/tokens';

describe('license tokens', () => {
  it('have the format spm_/spr_ + 64 hex + _ + 8 hex CRC-32', () => {
    const master = generateToken('master');
    const receiver = generateToken('receiver');
    expect(master.token).toMatch(/^spm_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(receiver.token).toMatch(/^spr_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(master.token.length).toBe(tokenLength);
    const body = receiver.token.slice(0, 68);
    const expected = crc32(Buffer.from(body)).toString(16).padStart(8, '0');
    expect(receiver.token.slice(69)).toBe(expected);
    expect(receiver.tokenPrefix).toBe(receiver.token.slice(0, 12));
  });

  it('hash = SHA-256 of the 32 random bytes (the seed), found by parseToken without a database', () => {
    const t = generateToken('receiver');
    const bytes = Buffer.from(t.token.slice(4, 68), 'hex');
    expect(bytes.length).toBe(32);
    expect(t.tokenHash).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(parseToken(t.token)).toEqual({ role: 'receiver', hash: t.tokenHash, tokenPrefix: t.tokenPrefix });
    expect(parseToken(generateToken('master').token)?.role).toBe('master');
  });

  it('catches typos with the checksum and refuses other formats', () => {
    const t = generateToken('master').token;
    for (let i = 4; i < t.length; i++) {
      if (t[i] === '_') continue;
      const typo = t.slice(0, i) + (t[i] === '0' ? '1' : '0') + t.slice(i + 1);
      expect(parseToken(typo)).toBeNull();
      expect(tokenFormatError(typo)).toBe('CHECKSUM');
    }
    expect(tokenFormatError(t)).toBeNull();
    expect(tokenFormatError(t.toUpperCase())).toBe('MALFORMED');
    expect(tokenFormatError('spx' + t.slice(3))).toBe('MALFORMED');
    expect(tokenFormatError(t + 'a')).toBe('MALFORMED');
    expect(tokenFormatError(t.slice(4, 68))).toBe('MALFORMED'); // the seed's bare 64-hex form
    expect(tokenFormatError('')).toBe('MALFORMED');
    // A role swap (spm_ <-> spr_) changes the checksum too.
    expect(tokenFormatError('spr' + t.slice(3))).toBe('CHECKSUM');
  });

  it('are unique', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateToken('receiver').tokenHash));
    expect(seen.size).toBe(200);
  });
});
