/**
 * `sigplane receiver-settings show|set|reset`: a receiver license's copy
 * settings (symbol mapping, lot sizing, reverse, SL/TP, filters, price and
 * age guards; docs/receivers.md). A change is validated whole, audited and
 * announced on the control channel: running servers resend the settings to
 * the license's live sessions at once.
 */
import { copySettings, SettingsError } from '@sigplane/protocol';
import { ReceiverSettingsStore, ReceiverSettingsStoreError, type StoredReceiverSettings } from '../persistence/pg/receiver-settings-store';
import { parseCommand, required, UsageError, type CommandSpec } from './args';
import { cliAuditContext, dataOption, openContext, uuidOption } from './context';

const common = {
  'token-id': { type: 'string', help: 'the receiver license: license_tokens.token_id (printed by token issue)' },
  json: { type: 'boolean', help: 'print JSON instead of text', default: false },
  data: dataOption,
} as const;

const showSpec: CommandSpec = {
  usage: 'sigplane receiver-settings show --token-id ID [options]',
  summary: 'Show the copy settings a receiver license is sent (defaults plus what was set).',
  options: { ...common },
};

const setSpec: CommandSpec = {
  usage: `sigplane receiver-settings set --token-id ID --settings JSON [options]`,
  summary:
    'Change copy settings. --settings is a JSON object of the keys to change (null puts a key back to its default), e.g. ' +
    `'{"symbolSuffix":".m","lotMode":"MULTIPLIER","lotValue":2,"reverse":false}'. Keys: symbolPrefix, symbolSuffix, symbolMap, ` +
    'lotMode (FIXED, MULTIPLIER, EQUITY_RATIO, RISK_PERCENT), lotValue, masterEquity, lotMin, lotMax, reverse, copyStopLoss, ' +
    'copyTakeProfit, symbolsAllowed, symbolsBlocked, magicsAllowed, magicsBlocked, priceDeviationPipsMax, signalAgeMsMax, copyOpenPositions. Audited.',
  options: { ...common, settings: { type: 'string', help: 'JSON object of settings to change' } },
};

const resetSpec: CommandSpec = {
  usage: 'sigplane receiver-settings reset --token-id ID [options]',
  summary: 'Put every copy setting of a license back to its default. Audited.',
  options: { ...common },
};

const actionsHelp = 'usage: sigplane receiver-settings <action> [options]\n\nActions: show, set, reset. Try: sigplane receiver-settings set --help\n';

const settingsJsonCharsMax = copySettings.cliJsonCharsMax;

export async function receiverSettingsCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    process.stdout.write(actionsHelp);
    return;
  }
  const spec = action === 'show' ? showSpec : action === 'set' ? setSpec : action === 'reset' ? resetSpec : null;
  if (spec === null) throw new UsageError(action === undefined ? actionsHelp : `unknown action "${action}"; actions: show, set, reset`);
  const values = parseCommand(spec, rest);
  if (values === null) return;
  const tokenId = uuidOption(required(values, 'token-id', spec), 'token-id');
  const patch = action === 'set' ? parsePatch(required(values, 'settings', spec)) : null;
  const context = await openContext(values.data as string);
  try {
    const store = new ReceiverSettingsStore(context.database.pool);
    const result =
      action === 'show' ? await store.load(tokenId) : action === 'set' ? await store.update(tokenId, patch!, cliAuditContext()) : await store.reset(tokenId, cliAuditContext());
    print(result, values.json === true, action !== 'show');
  } catch (error) {
    // Stable codes first: scripts switch on them.
    if (error instanceof SettingsError || error instanceof ReceiverSettingsStoreError) throw new UsageError(`${error.code}: ${error.message}`);
    throw error;
  } finally {
    await context.close();
  }
}

function parsePatch(text: string): Record<string, unknown> {
  if (text.length > settingsJsonCharsMax) throw new UsageError(`SETTINGS_NOT_AN_OBJECT: --settings is longer than ${settingsJsonCharsMax} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`SETTINGS_NOT_AN_OBJECT: --settings is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('SETTINGS_NOT_AN_OBJECT: --settings must be a JSON object');
  return parsed as Record<string, unknown>;
}

function print(result: StoredReceiverSettings, json: boolean, changed: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = [`token ${result.tokenId} (subscription ${result.subscriptionId}) revision ${result.revision}${changed ? ': running servers resend it now' : ''}`];
  for (const [key, value] of Object.entries(result.settings)) {
    const set = Object.hasOwn(result.overrides, key) ? '' : '  (default)';
    lines.push(`  ${key.padEnd(22)}${JSON.stringify(value)}${set}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
