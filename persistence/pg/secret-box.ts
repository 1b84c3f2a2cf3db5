/**
 * Envelope encryption of recoverable secrets (v2 HMAC keys) in the
 * application: AES-256-GCM under a key-encryption key (KEK) that never
 * travels to Postgres. Postgres stores ciphertext, nonce and tag; the SQL text
 * and parameters never carry the KEK or a plaintext secret (the seed's
 * pgp_sym_encrypt(secret, 'encryption_key') puts the key in the SQL text, and
 * from there into logs and pg_stat_activity: not done here).
 *
 * KEK sources, in order:
 *   SIGPLANE_KEK        base64 of 32 bytes
 *   SIGPLANE_KEK_FILE   a file holding that base64
 *   <dataDir>/kek       made by a previous start with allowGenerate
 *   generated           only with allowGenerate (`serve` on a fresh data
 *                       folder): 32 random bytes to <dataDir>/kek, mode 0600,
 *                       reported through `notice`
 * There is no built-in default key.
 *
 * SIGPLANE_KEK_VERSION (default 1) is stored beside each ciphertext and bound
 * into its AAD, so a later rotation can tell which KEK sealed a row and re-wrap.
 *
 * Rotation (persistence/pg/kek-rotation.ts, `sigplane kek rotate`): the new
 * KEK becomes SIGPLANE_KEK (or _FILE) with a higher SIGPLANE_KEK_VERSION, and
 * the old one SIGPLANE_KEK_PREVIOUS (or SIGPLANE_KEK_PREVIOUS_FILE) with
 * SIGPLANE_KEK_PREVIOUS_VERSION: such a box opens rows of both versions and
 * seals with the new one. Once every row is re-wrapped, drop the previous.
 *
 * AAD: the row identity (table, row id, column) and the KEK version. A
 * ciphertext copied to another row, column or table does not open.
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { secretsAtRest } from '@sigplane/protocol';

const kekBytes = 32;
const nonceBytes = 12;
const authTagBytes = 16;
const aadDomain = 'sigplane.secret-box.v1';
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;
const kekFileName = 'kek';

export interface SecretAad {
  table: string;
  rowId: string;
  column: string;
}

export interface SealedSecret {
  ciphertext: Buffer;
  /** 12 random bytes, new for every seal. */
  nonce: Buffer;
  /** 16-byte GCM tag. */
  authTag: Buffer;
  kekVersion: number;
}

export interface SecretBoxEnvironment {
  SIGPLANE_KEK?: string;
  SIGPLANE_KEK_FILE?: string;
  SIGPLANE_KEK_VERSION?: string;
  SIGPLANE_KEK_PREVIOUS?: string;
  SIGPLANE_KEK_PREVIOUS_FILE?: string;
  SIGPLANE_KEK_PREVIOUS_VERSION?: string;
  [name: string]: string | undefined;
}

export interface SecretBoxSourceOptions {
  /** The data folder: where a generated KEK lives (`<dataDir>/kek`). */
  dataDir?: string;
  /** Generate `<dataDir>/kek` if no KEK is configured (first `serve` on a fresh data folder). */
  allowGenerate?: boolean;
}

function decodeKek(text: string, source: string): Buffer {
  const b64 = text.trim();
  if (!base64Pattern.test(b64)) throw new Error(`key-encryption key from ${source} is not base64`);
  const key = Buffer.from(b64, 'base64');
  if (key.length !== kekBytes) {
    throw new Error(`key-encryption key from ${source} must be ${kekBytes} bytes (base64), got ${key.length}`);
  }
  return key;
}

function parseVersion(text: string | undefined, name = 'SIGPLANE_KEK_VERSION'): number {
  if (text === undefined || text.trim() === '') return 1;
  const v = Number(text.trim());
  if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return v;
}

/** A KEK given inline (`name`) or in a file (`name`_FILE), or undefined when neither is set. */
function kekFromEnvironment(env: SecretBoxEnvironment, name: 'SIGPLANE_KEK' | 'SIGPLANE_KEK_PREVIOUS'): Buffer | undefined {
  const inline = env[name] !== undefined && env[name] !== '' ? env[name] : undefined;
  const fileName = `${name}_FILE`;
  const file = env[fileName] !== undefined && env[fileName] !== '' ? env[fileName] : undefined;
  if (inline !== undefined && file !== undefined) throw new Error(`set either ${name} or ${fileName}, not both`);
  if (inline !== undefined) return decodeKek(inline, name);
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${fileName} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return decodeKek(text, `${fileName} ${file}`);
}

/** The previous KEK of a rotation, by version, or an empty map. */
function previousFromEnvironment(env: SecretBoxEnvironment, version: number): Map<number, Buffer> {
  const previous = kekFromEnvironment(env, 'SIGPLANE_KEK_PREVIOUS');
  if (previous === undefined) return new Map();
  if (env.SIGPLANE_KEK_PREVIOUS_VERSION === undefined || env.SIGPLANE_KEK_PREVIOUS_VERSION.trim() === '') {
    throw new Error('SIGPLANE_KEK_PREVIOUS needs SIGPLANE_KEK_PREVIOUS_VERSION (the version its rows carry)');
  }
  const previousVersion = parseVersion(env.SIGPLANE_KEK_PREVIOUS_VERSION, 'SIGPLANE_KEK_PREVIOUS_VERSION');
  if (previousVersion === version) throw new Error('SIGPLANE_KEK_PREVIOUS_VERSION must differ from SIGPLANE_KEK_VERSION');
  return new Map([[previousVersion, previous]]);
}

function aadBytes(aad: SecretAad, kekVersion: number): Buffer {
  for (const [k, v] of Object.entries(aad)) {
    if (typeof v !== 'string' || v.length === 0) throw new Error(`SecretBox: aad.${k} must be a non-empty string`);
  }
  // JSON array: unambiguous, whatever characters the parts hold.
  return Buffer.from(JSON.stringify([aadDomain, aad.table, aad.rowId, aad.column, kekVersion]), 'utf8');
}

export class SecretBox {
  /** Set when this box generated a new KEK file: tell the operator (no key material in it). */
  readonly notice: string | null;
  readonly kekVersion: number;
  readonly #keys: Map<number, Buffer>;

  private constructor(keys: Map<number, Buffer>, kekVersion: number, notice: string | null) {
    if (!keys.has(kekVersion)) throw new Error('SecretBox: no key for the current version');
    for (const k of keys.values()) if (k.length !== kekBytes) throw new Error(`SecretBox: KEK must be ${kekBytes} bytes`);
    this.#keys = keys;
    this.kekVersion = kekVersion;
    this.notice = notice;
  }

  /**
   * A box holding `kek` as the current key (version `kekVersion`), plus any
   * older keys by version, which `open` uses for rows sealed before a rotation.
   */
  static fromKey(kek: Buffer, kekVersion = 1, previous: ReadonlyMap<number, Buffer> = new Map()): SecretBox {
    const keys = new Map<number, Buffer>();
    for (const [v, k] of previous) keys.set(v, Buffer.from(k));
    keys.set(kekVersion, Buffer.from(kek));
    return new SecretBox(keys, kekVersion, null);
  }

  static fromEnvironment(env: SecretBoxEnvironment, opts: SecretBoxSourceOptions = {}): SecretBox {
    const version = parseVersion(env.SIGPLANE_KEK_VERSION);
    const configured = kekFromEnvironment(env, 'SIGPLANE_KEK');
    if (configured !== undefined) return SecretBox.fromKey(configured, version, previousFromEnvironment(env, version));

    const kekPath = opts.dataDir !== undefined ? path.join(path.resolve(opts.dataDir), kekFileName) : undefined;
    if (kekPath !== undefined && fs.existsSync(kekPath)) {
      const mode = fs.statSync(kekPath).mode;
      if ((mode & 0o077) !== 0) {
        throw new Error(`${kekPath} is readable by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
      }
      return SecretBox.fromKey(decodeKek(fs.readFileSync(kekPath, 'utf8'), kekPath), version, previousFromEnvironment(env, version));
    }
    if (kekPath !== undefined && opts.allowGenerate === true) {
      const kek = randomBytes(kekBytes);
      fs.mkdirSync(path.dirname(kekPath), { recursive: true, mode: 0o700 });
      // 'wx': never overwrite a key that appeared meanwhile (it may already seal rows).
      fs.writeFileSync(kekPath, kek.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      const keys = new Map([[version, kek]]);
      return new SecretBox(
        keys,
        version,
        `generated a new key-encryption key in ${kekPath} (mode 0600). Back it up: without it the stored MAC keys cannot be read. ` +
          'To keep it outside the data folder, move it and set SIGPLANE_KEK_FILE.',
      );
    }
    throw new Error(
      'no key-encryption key: set SIGPLANE_KEK (base64 of 32 random bytes) or SIGPLANE_KEK_FILE (a file holding it)' +
        (kekPath !== undefined ? `, or put it in ${kekPath}` : '') +
        ". Make one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"",
    );
  }

  seal(plaintext: Buffer, aad: SecretAad): SealedSecret {
    if (!Buffer.isBuffer(plaintext)) throw new Error('SecretBox.seal: plaintext must be a Buffer');
    if (plaintext.length > secretsAtRest.sealedPlaintextBytesMax) throw new Error('SecretBox.seal: plaintext too large');
    const key = this.#keys.get(this.kekVersion);
    if (key === undefined) throw new Error('SecretBox: current key missing');
    const nonce = randomBytes(nonceBytes);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: authTagBytes });
    cipher.setAAD(aadBytes(aad, this.kekVersion));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { ciphertext, nonce, authTag: cipher.getAuthTag(), kekVersion: this.kekVersion };
  }

  /** KEK versions this box can open. */
  versions(): number[] {
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  /**
   * Re-wrap for a KEK rotation: open with whichever key sealed it, seal
   * again under the current KEK (new nonce; the AAD carries the new
   * version). The plaintext exists only inside this call and is wiped.
   */
  rewrap(sealed: SealedSecret, aad: SecretAad): SealedSecret {
    const plaintext = this.open(sealed, aad);
    try {
      return this.seal(plaintext, aad);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Throws if the key version is unknown, or the ciphertext, tag or AAD (row identity) do not match. */
  open(sealed: SealedSecret, aad: SecretAad): Buffer {
    const key = this.#keys.get(sealed.kekVersion);
    if (key === undefined) {
      throw new Error(`SecretBox.open: sealed under KEK version ${sealed.kekVersion}, which this box does not hold`);
    }
    if (sealed.nonce.length !== nonceBytes || sealed.authTag.length !== authTagBytes) {
      throw new Error('SecretBox.open: bad nonce or tag length');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce, { authTagLength: authTagBytes });
    decipher.setAAD(aadBytes(aad, sealed.kekVersion));
    decipher.setAuthTag(sealed.authTag);
    try {
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch {
      throw new Error(`SecretBox.open: authentication failed for ${aad.table}/${aad.rowId}/${aad.column} (wrong key, row or tampered data)`);
    }
  }
}
