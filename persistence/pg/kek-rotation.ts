/**
 * KEK rotation: re-wrap every sealed secret under the current
 * key-encryption key. The secrets themselves do not change (a MAC key
 * re-wrapped is the same MAC key: masters notice nothing); only their
 * ciphertext, nonce, tag and kek_version do, each row bound to its identity
 * and new version by the AAD.
 *
 * The box must hold the new KEK as current and every older version still
 * in use (SIGPLANE_KEK_PREVIOUS, secret-box.ts). Rows are re-wrapped in
 * batches, each its own transaction with FOR UPDATE SKIP LOCKED, each
 * UPDATE guarded by the version it read: a concurrent rotation or
 * credential change is never overwritten, and stopping half way leaves
 * every row readable (old or new version). Running it again finishes the
 * job; with nothing left it changes nothing.
 *
 * Sealed columns today: mac_keys.ciphertext (AAD: macKeyAad). A new sealed
 * column adds its table here.
 */
import type { Pool } from 'pg';
import { secretsAtRest, SigplaneError } from '@sigplane/protocol';
import { macKeyAad } from './mac-key-store';
import { withTransaction } from './pool';
import type { SecretBox } from './secret-box';


export interface RewrapProgress {
  rewrapped: number;
  /** Rows still sealed under another version (at the last count). */
  remaining: number;
}

export interface RewrapResult {
  /** Rows re-wrapped by this call. */
  rewrapped: number;
  /** Rows under another version afterwards (0 when done; > 0 only if rows were locked by someone else). */
  remaining: number;
  /** The version every re-wrapped row now carries. */
  kekVersion: number;
}

export class KekRotationError extends SigplaneError<'KEK_VERSION_UNKNOWN' | 'KEK_OPEN_FAILED'> {
  constructor(code: 'KEK_VERSION_UNKNOWN' | 'KEK_OPEN_FAILED', message: string) {
    super(code, message);
    this.name = 'KekRotationError';
  }
}

/** Versions present in the database and how many rows each seals. */
export async function sealedVersions(pool: Pool): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ kek_version: number; n: number }>(
    'SELECT kek_version, count(*)::int AS n FROM mac_keys GROUP BY kek_version ORDER BY kek_version',
  );
  return new Map(rows.map((r) => [r.kek_version, r.n]));
}

export async function rewrapSecrets(
  pool: Pool,
  box: SecretBox,
  opts: { batchRows?: number; onProgress?: (p: RewrapProgress) => void } = {},
): Promise<RewrapResult> {
  const batchRows = opts.batchRows ?? secretsAtRest.kekRewrapBatchRows;
  if (!Number.isInteger(batchRows) || batchRows < 1 || batchRows > 10_000) throw new RangeError('batchRows must be 1..10000');
  const current = box.kekVersion;
  const known = new Set(box.versions());
  for (const version of (await sealedVersions(pool)).keys()) {
    if (!known.has(version)) {
      throw new KekRotationError(
        'KEK_VERSION_UNKNOWN',
        `rows are sealed under KEK version ${version}, which is not configured: set SIGPLANE_KEK_PREVIOUS and SIGPLANE_KEK_PREVIOUS_VERSION=${version}`,
      );
    }
  }
  let rewrapped = 0;
  for (;;) {
    const done = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{
        subscription_id: string;
        key_id: string;
        ciphertext: Buffer;
        nonce: Buffer;
        auth_tag: Buffer;
        kek_version: number;
      }>(
        `SELECT subscription_id, key_id, ciphertext, nonce, auth_tag, kek_version FROM mac_keys
          WHERE kek_version <> $1 ORDER BY subscription_id, key_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [current, batchRows],
      );
      for (const r of rows) {
        const aad = macKeyAad(r.subscription_id, r.key_id);
        let sealed;
        try {
          sealed = box.rewrap({ ciphertext: r.ciphertext, nonce: r.nonce, authTag: r.auth_tag, kekVersion: r.kek_version }, aad);
        } catch (error) {
          throw new KekRotationError('KEK_OPEN_FAILED', `mac_keys ${r.subscription_id}/${r.key_id}: ${(error as Error).message}`);
        }
        await client.query(
          `UPDATE mac_keys SET ciphertext = $3, nonce = $4, auth_tag = $5, kek_version = $6
            WHERE subscription_id = $1 AND key_id = $2 AND kek_version = $7`,
          [r.subscription_id, r.key_id, sealed.ciphertext, sealed.nonce, sealed.authTag, sealed.kekVersion, r.kek_version],
        );
      }
      return rows.length;
    });
    rewrapped += done;
    const remaining = [...(await sealedVersions(pool))].filter(([v]) => v !== current).reduce((n, [, c]) => n + c, 0);
    opts.onProgress?.({ rewrapped, remaining });
    if (done < batchRows) return { rewrapped, remaining, kekVersion: current };
  }
}
