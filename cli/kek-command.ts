/**
 * `sigplane kek status|rotate`: KEK rotation of the secrets at rest.
 *
 *   1. Start every server with the new KEK as SIGPLANE_KEK (or _FILE), a
 *      higher SIGPLANE_KEK_VERSION, and the old one as SIGPLANE_KEK_PREVIOUS
 *      (or _FILE) with SIGPLANE_KEK_PREVIOUS_VERSION: they read both.
 *   2. `sigplane kek rotate` with the same environment: every sealed secret
 *      is re-wrapped under the new KEK (the secrets themselves are unchanged).
 *   3. Remove SIGPLANE_KEK_PREVIOUS*; destroy the old KEK.
 * Progress is printed per batch; the keys are never printed.
 */
import path from 'node:path';
import { rewrapSecrets, sealedVersions } from '../persistence/pg/kek-rotation';
import { SecretBox } from '../persistence/pg/secret-box';
import { parseCommand, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext } from './context';

const spec: CommandSpec = {
  usage: 'sigplane kek <status|rotate> [options]',
  summary:
    'status: which key-encryption-key versions seal the stored secrets. rotate: re-wrap them all under SIGPLANE_KEK ' +
    '(SIGPLANE_KEK_VERSION), opening older rows with SIGPLANE_KEK_PREVIOUS (SIGPLANE_KEK_PREVIOUS_VERSION).',
  options: { data: dataOption },
};

export async function kekCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    parseCommand(spec, ['--help']);
    return;
  }
  if (sub !== 'status' && sub !== 'rotate') throw new UsageError(`unknown kek command "${sub}"; try: sigplane kek --help`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  // Never generates a key: rotating to a key nobody saved would lose every secret.
  const box = SecretBox.fromEnvironment(process.env, { dataDir: path.resolve(values.data as string), allowGenerate: false });
  const context = await openContext(values.data as string);
  try {
    const before = await sealedVersions(context.database.pool);
    const describe = (m: Map<number, number>) => [...m].map(([v, n]) => `v${v}: ${n}`).join(', ') || 'no sealed secrets';
    process.stdout.write(`sealed secrets by KEK version: ${describe(before)}; current KEK version: ${box.kekVersion}\n`);
    if (sub === 'status') return;
    const result = await rewrapSecrets(context.database.pool, box, {
      onProgress: (p) => process.stdout.write(`re-wrapped ${p.rewrapped}, ${p.remaining} to go\n`),
    });
    // Who rotated, to which version, how far (never a key): after the work, in its own row.
    await context.store.audit({
      eventType: 'CONFIG',
      action: 'ROTATE_KEK',
      metadata: { ...cliAuditContext().metadata, kekVersion: result.kekVersion, rewrapped: result.rewrapped, remaining: result.remaining },
    });
    process.stdout.write(
      `done: ${result.rewrapped} secret(s) re-wrapped under KEK version ${result.kekVersion}` +
        (result.remaining > 0 ? `; ${result.remaining} were locked by another transaction: run it again\n` : '; the previous KEK is no longer needed\n'),
    );
  } finally {
    await context.close();
  }
}
