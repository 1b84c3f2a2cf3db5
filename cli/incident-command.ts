/**
 * Incident response from the command line (the admin API will offer the same):
 *
 *   sigplane subscription isolate --subscription ID --reason TEXT
 *   sigplane subscription lift --subscription ID --reason TEXT
 *   sigplane subscription rotate-credentials --subscription ID [--overlap-minutes N]
 *
 * Each is one Postgres transaction: the change, its audit_log row and a
 * NOTIFY on the control channel, which running servers act on at once
 * (close the connections, isolate or lift the actor).
 */
import { auditLog, control } from '@sigplane/protocol';
import { parseCommand, required, UsageError, type CommandSpec, type OptionSpec } from './args';
import { cliAuditContext, dataOption, openContext, uuidOption } from './context';

/** How long a replaced MAC key stays valid: rotate-credentials and import-mac-key (cli/mac-key-command.ts). */
export const overlapMinutesOption: OptionSpec = {
  type: 'string',
  help: 'minutes the previous MAC key stays valid (0: none)',
  default: String(control.macKeyOverlapMsDefault / 60_000),
};

/** --overlap-minutes as ms, or a UsageError. */
export function overlapMsOption(value: string | boolean | undefined): number {
  const overlapMinutes = Number(value);
  if (!Number.isInteger(overlapMinutes) || overlapMinutes < 0 || overlapMinutes > control.macKeyOverlapMinutesMax) {
    throw new UsageError(`--overlap-minutes must be a whole number from 0 to ${control.macKeyOverlapMinutesMax}`);
  }
  return overlapMinutes * 60_000;
}

const isolateSpec: CommandSpec = {
  usage: 'sigplane subscription isolate --subscription ID --reason TEXT [options]',
  summary:
    'Cut a subscription off: state ISOLATED, every connection (masters and receivers) closed at once by every running server (close code 4003), new ones refused (403 SUBSCRIPTION_ISOLATED), signals refused ISOLATED. Audited with the reason.',
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    reason: { type: 'string', help: 'why (kept in the audit log only, never sent to clients)' },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

const liftSpec: CommandSpec = {
  usage: 'sigplane subscription lift --subscription ID --reason TEXT [options]',
  summary: 'Lift an isolation: state ACTIVE, connections allowed again; the sequence continues where it stopped. Audited with the reason.',
  options: isolateSpec.options,
};

const rotateSpec: CommandSpec = {
  usage: 'sigplane subscription rotate-credentials --subscription ID [options]',
  summary:
    "Rotate every credential of the provider in one transaction: a new MAC key (printed ONCE; the previous key stays valid for the overlap), a new master token (printed ONCE), and every previous master token revoked at once (their live sessions closed, code 4004). Receiver licenses are revoked one by one: sigplane token revoke.",
  options: {
    subscription: { type: 'string', help: 'subscription id' },
    'overlap-minutes': overlapMinutesOption,
    reason: { type: 'string', help: 'why (kept in the audit log)' },
    json: { type: 'boolean', help: 'print JSON instead of text', default: false },
    data: dataOption,
  },
};

export const incidentActions: Record<string, { spec: CommandSpec; run: (argv: string[]) => Promise<void> }> = {
  isolate: { spec: isolateSpec, run: (argv) => isolation('isolate', argv) },
  lift: { spec: liftSpec, run: (argv) => isolation('lift', argv) },
  'rotate-credentials': { spec: rotateSpec, run: rotateCredentials },
};

async function isolation(action: 'isolate' | 'lift', argv: string[]): Promise<void> {
  const spec = action === 'isolate' ? isolateSpec : liftSpec;
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const subscriptionId = uuidOption(required(values, 'subscription', spec), 'subscription');
  const reason = required(values, 'reason', spec).trim();
  if (reason.length === 0 || reason.length > auditLog.reasonCharsMax) throw new UsageError(`--reason must be 1..${auditLog.reasonCharsMax} characters`);
  const context = await openContext(values.data as string);
  try {
    const opts = { reason, audit: cliAuditContext() };
    const change =
      action === 'isolate'
        ? await context.store.isolateSubscription(subscriptionId, opts)
        : await context.store.liftIsolation(subscriptionId, opts);
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(change)}\n`);
      return;
    }
    const what =
      action === 'isolate'
        ? change.previousState === 'ISOLATED'
          ? 'was already ISOLATED (running servers close any connection left)'
          : `isolated (was ${change.previousState}): running servers close its connections now`
        : change.previousState === 'ISOLATED'
          ? 'lifted: ACTIVE, connections allowed again'
          : `was not isolated (${change.previousState}): nothing to lift`;
    process.stdout.write(`subscription ${change.subscriptionId} ${what}\naudit_log_id: ${change.auditLogId}\n`);
  } finally {
    await context.close();
  }
}

async function rotateCredentials(argv: string[]): Promise<void> {
  const values = parseCommand(rotateSpec, argv);
  if (values === null) return;
  const subscriptionId = uuidOption(required(values, 'subscription', rotateSpec), 'subscription');
  const overlapMs = overlapMsOption(values['overlap-minutes']);
  const reason = values.reason === undefined ? undefined : String(values.reason).trim();
  if (reason !== undefined && (reason.length === 0 || reason.length > auditLog.reasonCharsMax)) throw new UsageError(`--reason must be 1..${auditLog.reasonCharsMax} characters`);
  const context = await openContext(values.data as string);
  try {
    const rotated = await context.store.rotateCredentials(subscriptionId, {
      overlapMs,
      reason,
      audit: cliAuditContext(),
    });
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(rotated)}\n`);
      return;
    }
    process.stdout.write(
      [
        `subscription_id:        ${rotated.subscriptionId}`,
        `master_token:           ${rotated.masterToken}`,
        `master_token_id:        ${rotated.masterTokenId}`,
        `mac_key_id:             ${rotated.macKeyId}`,
        `mac_secret:             ${rotated.macSecretHex}`,
        `previous_mac_key_until: ${rotated.previousMacKeysValidUntil.toISOString()}`,
        `revoked_master_tokens:  ${rotated.revokedMasterTokenIds.join(', ') || '(none)'}`,
        `audit_log_id:           ${rotated.auditLogId}`,
        '',
        'IMPORTANT: the master token and MAC secret are shown only now. Store them securely.',
        'Sessions of the revoked master tokens are being closed by every running server.',
        '',
      ].join('\n'),
    );
  } finally {
    await context.close();
  }
}
