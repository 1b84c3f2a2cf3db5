import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../persistence/pg/secret-box';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-kek-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const aad = { table: 'mac_keys', rowId: 'sub-a/k1-00000000', column: 'secret' };

describe('SecretBox (AES-256-GCM, KEK in the application)', () => {
  it('round-trips with a fresh 12-byte nonce each time', () => {
    const box = SecretBox.fromKey(randomBytes(32));
    const secret = randomBytes(32);
    const a = box.seal(secret, aad);
    const b = box.seal(secret, aad);
    expect(a.nonce.length).toBe(12);
    expect(a.authTag.length).toBe(16);
    expect(a.kekVersion).toBe(1);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(secret)).toBe(false);
    expect(box.open(a, aad).equals(secret)).toBe(true);
    expect(box.open(b, aad).equals(secret)).toBe(true);
  });

  it('refuses a ciphertext moved to another row, column or table', () => {
    const box = SecretBox.fromKey(randomBytes(32));
    const sealed = box.seal(randomBytes(32), aad);
    expect(() => box.open(sealed, { ...aad, rowId: 'sub-b/k1-00000000' })).toThrow(/authentication failed/);
    expect(() => box.open(sealed, { ...aad, column: 'other' })).toThrow(/authentication failed/);
    expect(() => box.open(sealed, { ...aad, table: 'users' })).toThrow(/authentication failed/);
  });

  it('refuses tampered ciphertext, tag or nonce, and a wrong key', () => {
    const box = SecretBox.fromKey(randomBytes(32));
    const sealed = box.seal(randomBytes(32), aad);
    const flip = (b: Buffer): Buffer => {
      const c = Buffer.from(b);
      c[0] ^= 1;
      return c;
    };
    expect(() => box.open({ ...sealed, ciphertext: flip(sealed.ciphertext) }, aad)).toThrow(/authentication failed/);
    expect(() => box.open({ ...sealed, authTag: flip(sealed.authTag) }, aad)).toThrow(/authentication failed/);
    expect(() => box.open({ ...sealed, nonce: flip(sealed.nonce) }, aad)).toThrow(/authentication failed/);
    expect(() => SecretBox.fromKey(randomBytes(32)).open(sealed, aad)).toThrow(/authentication failed/);
    expect(() => box.open({ ...sealed, kekVersion: 2 }, aad)).toThrow(/version 2/);
  });

  it('binds the KEK version and opens rows of an older version with the previous key', () => {
    const v1 = randomBytes(32);
    const old = SecretBox.fromKey(v1, 1).seal(Buffer.from('secret'), aad);
    const rotated = SecretBox.fromKey(randomBytes(32), 2, new Map([[1, v1]]));
    expect(rotated.open(old, aad).toString()).toBe('secret');
    expect(rotated.seal(Buffer.from('x'), aad).kekVersion).toBe(2);
  });

  it('without a KEK and without allowGenerate: a clear error, and no file made', () => {
    const dataDir = tempDir();
    expect(() => SecretBox.fromEnvironment({}, { dataDir })).toThrow(/no key-encryption key: set SIGPLANE_KEK/);
    expect(() => SecretBox.fromEnvironment({}, {})).toThrow(/no key-encryption key/);
    expect(fs.existsSync(path.join(dataDir, 'kek'))).toBe(false);
  });

  it('reads SIGPLANE_KEK and SIGPLANE_KEK_FILE, and refuses bad or ambiguous keys without echoing them', () => {
    const kek = randomBytes(32).toString('base64');
    const a = SecretBox.fromEnvironment({ SIGPLANE_KEK: kek });
    const file = path.join(tempDir(), 'kek.b64');
    fs.writeFileSync(file, `${kek}\n`);
    const b = SecretBox.fromEnvironment({ SIGPLANE_KEK_FILE: file, SIGPLANE_KEK_VERSION: '3' });
    expect(b.kekVersion).toBe(3);
    const sealed = a.seal(Buffer.from('hello'), aad);
    expect(SecretBox.fromKey(Buffer.from(kek, 'base64'), 1).open(sealed, aad).toString()).toBe('hello');

    const short = randomBytes(16).toString('base64');
    let message = '';
    try {
      SecretBox.fromEnvironment({ SIGPLANE_KEK: short });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/32 bytes/);
    expect(message).not.toContain(short);
    expect(() => SecretBox.fromEnvironment({ SIGPLANE_KEK: 'not base64!!' })).toThrow(/not base64/);
    expect(() => SecretBox.fromEnvironment({ SIGPLANE_KEK: kek, SIGPLANE_KEK_FILE: file })).toThrow(/not both/);
    expect(() => SecretBox.fromEnvironment({ SIGPLANE_KEK: kek, SIGPLANE_KEK_VERSION: '0' })).toThrow(/VERSION/);
    expect(() => SecretBox.fromEnvironment({ SIGPLANE_KEK_FILE: path.join(tempDir(), 'missing') })).toThrow(/cannot read/);
  });

  it('with allowGenerate on a fresh data folder: makes <dataDir>/kek (0600) once, says so, and reuses it', () => {
    const dataDir = tempDir();
    const first = SecretBox.fromEnvironment({}, { dataDir, allowGenerate: true });
    const kekFile = path.join(dataDir, 'kek');
    expect(first.notice).toMatch(/generated a new key-encryption key/);
    expect(fs.statSync(kekFile).mode & 0o777).toBe(0o600);
    expect(Buffer.from(fs.readFileSync(kekFile, 'utf8').trim(), 'base64').length).toBe(32);
    const sealed = first.seal(Buffer.from('kept'), aad);

    const second = SecretBox.fromEnvironment({}, { dataDir, allowGenerate: true });
    expect(second.notice).toBeNull();
    expect(second.open(sealed, aad).toString()).toBe('kept');
    // An existing <dataDir>/kek is used even without allowGenerate.
    expect(SecretBox.fromEnvironment({}, { dataDir }).open(sealed, aad).toString()).toBe('kept');
    // ... but not if other users can read it.
    fs.chmodSync(kekFile, 0o644);
    expect(() => SecretBox.fromEnvironment({}, { dataDir })).toThrow(/chmod 600/);
  });
});
