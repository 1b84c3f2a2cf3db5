/**
 * The catalogue of error codes (proto/errors.ts) stays whole: every code
 * defined, thrown or answered anywhere is in it, under the group where it
 * surfaces; every code in it is in docs/errors.md, in that group's section;
 * a code in two groups of one kind means one thing; and every error class
 * with a code is a SigplaneError.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  errorCatalogue,
  RejectCode,
  SettingsError,
  SettingsErrorCode,
  SigplaneError,
  UpgradeRefusalCode,
  validateCopySettingsOverrides,
  type ErrorCatalogueGroup,
  type ErrorCodeGroup,
} from '@sigplane/protocol';
import { UsageError, parseCommand } from '../cli/args';
import { ConfigError as CliConfigError, integer, resolveConfig } from '../cli/config';
import { ClientCloseCode } from '../client/connection';
import { SkipReason } from '../client/copy-rules';
import { ClientErrorCode, SigplaneClientError } from '../client/errors';
import { PaperRejectCode } from '../client/paper-broker';
import { RingError, RingErrorCode, createRing } from '../engine/ring-buffer';
import { shardExitCode } from '../engine/shard-protocol';
import { AdminErrorCode, AdminHttpError, asHttpError, configErrorStatus, invalidRequest } from '../io/admin/admin-errors';
import { IncidentCloseCode } from '../io/incident-control';
import { receiverSettingsUnavailableCloseCode } from '../io/receiver-connection';
import { CloseCode } from '../io/close-codes';
import { backpressureCloseCode } from '../io/slow-connections';
import { refusals } from '../io/upgrade';
import { JournalError, JournalErrorCode, checkCursor } from '../persistence/journal-codec';
import { ApplicationRoleError } from '../persistence/pg/app-role';
import { AuditRetentionError } from '../persistence/pg/audit-retention';
import { ConfigError, type ConfigErrorCode } from '../persistence/pg/config-errors';
import { MacSecretError, parseImportedMacSecret, weakMacKeyWarning } from '../persistence/pg/imported-mac-secret';
import { KekRotationError } from '../persistence/pg/kek-rotation';
import { ReceiverSettingsStoreError, ReceiverSettingsStoreErrorCode } from '../persistence/pg/receiver-settings-store';
import { assertUuid } from '../persistence/pg/store-checks';
import { TenantError } from '../persistence/pg/tenant';
import { ShipError, ShipErrorCode } from '../persistence/shipper/ship-errors';

const root = path.resolve(__dirname, '..');
const groups: Record<string, ErrorCodeGroup> = errorCatalogue;

function codesOf(group: ErrorCatalogueGroup): string[] {
  return Object.keys(errorCatalogue[group].codes).sort();
}

function sorted(values: Iterable<string | number>): string[] {
  return [...new Set([...values].map(String))].sort();
}

/** Every non-declaration TypeScript source of the layers that throw or answer codes. */
function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push({ file: path.relative(root, full), text: fs.readFileSync(full, 'utf8') });
    }
  };
  for (const dir of ['proto', 'actors', 'persistence', 'engine', 'io', 'client', 'cli']) walk(path.join(root, dir));
  return out;
}

/** The group whose codes each error class carries (a code thrown with it must be there). */
const groupOfClass: Record<string, ErrorCatalogueGroup> = {
  SettingsError: 'settings',
  ConfigError: 'store',
  MacSecretError: 'store',
  ReceiverSettingsStoreError: 'store',
  TenantError: 'store',
  KekRotationError: 'store',
  AuditRetentionError: 'store',
  ApplicationRoleError: 'store',
  JournalError: 'journal',
  ShipError: 'ship',
  RingError: 'ring',
  AdminHttpError: 'admin',
  SigplaneClientError: 'client',
  UsageError: 'cli',
};

/**
 * What `new XError(` is given as its code where it is a literal:
 * `new XError('CODE'`, `new AdminHttpError(404, 'CODE'`, and a UsageError's
 * code after its message, `new UsageError(message, 'CODE')` on one line.
 */
function literalCodeSites(): { file: string; errorClass: string; status: number | null; code: string }[] {
  const site = /new (\w+Error)\(\s*(?:(\d{3}),\s*)?'([A-Z][A-Z0-9_]*)'|new (UsageError)\(.*, '([A-Z][A-Z0-9_]*)'\)/g;
  return sources().flatMap(({ file, text }) =>
    [...text.matchAll(site)].map((m) => ({
      file,
      errorClass: m[1] ?? m[4]!,
      status: m[2] === undefined ? null : Number(m[2]),
      code: m[3] ?? m[5]!,
    })),
  );
}

describe('the error catalogue holds every code defined', () => {
  const storeErrorCodes = [
    ...Object.keys(configErrorStatus),
    ...Object.keys(ReceiverSettingsStoreErrorCode),
    new MacSecretError('m').code,
    new TenantError('m').code,
    new AuditRetentionError('m').code,
    new ApplicationRoleError('m').code,
    ...literalCodeSites()
      .filter((s) => s.errorClass === 'KekRotationError')
      .map((s) => s.code),
  ];
  /** The store's codes the admin API answers as they are (INVALID_ARGUMENT becomes INVALID_REQUEST). */
  const storeCodesAnswered = Object.keys(configErrorStatus).filter((c) => c !== 'INVALID_ARGUMENT');

  const defined: Record<ErrorCatalogueGroup, (string | number)[]> = {
    reject: Object.values(RejectCode),
    upgradeRefusal: Object.values(UpgradeRefusalCode),
    serverClose: [...Object.values(CloseCode), ...Object.values(IncidentCloseCode), receiverSettingsUnavailableCloseCode, backpressureCloseCode],
    clientClose: Object.values(ClientCloseCode),
    admin: [...Object.values(AdminErrorCode), ...storeCodesAnswered],
    store: storeErrorCodes,
    warning: [weakMacKeyWarning(['SHORT'])!.code],
    settings: Object.values(SettingsErrorCode),
    journal: Object.values(JournalErrorCode),
    ship: Object.values(ShipErrorCode),
    ring: Object.values(RingErrorCode),
    client: Object.values(ClientErrorCode),
    skipReason: Object.values(SkipReason),
    paperBroker: Object.values(PaperRejectCode),
    cli: [new UsageError('m').code, new CliConfigError('port', '--port', 'm').code],
    cliExit: cliExitStatuses(),
    shardExit: Object.values(shardExitCode),
  };

  for (const group of Object.keys(errorCatalogue) as ErrorCatalogueGroup[]) {
    it(`${group}: the catalogue's codes are the ones defined`, () => {
      const catalogued = codesOf(group);
      const live = sorted(defined[group]);
      expect({ notInCatalogue: live.filter((c) => !catalogued.includes(c)), notDefined: catalogued.filter((c) => !live.includes(c)) }).toEqual({
        notInCatalogue: [],
        notDefined: [],
      });
    });
  }

  it('close codes carry the names of the constants that hold them', () => {
    const names: Record<string, string> = {};
    for (const [name, code] of Object.entries({ ...CloseCode, ...IncidentCloseCode, ...ClientCloseCode })) names[code] = name;
    names[receiverSettingsUnavailableCloseCode] = 'SETTINGS_UNAVAILABLE';
    names[backpressureCloseCode] = 'BACKPRESSURE';
    for (const group of [errorCatalogue.serverClose, errorCatalogue.clientClose]) {
      for (const [code, entry] of Object.entries(group.codes)) expect({ code, name: entry.name }).toEqual({ code, name: names[code] });
    }
    expect(errorCatalogue.shardExit.codes[shardExitCode.journalOutOfSpace].name).toBe('journalOutOfSpace');
  });

  it('every close code written as a number (a `...CloseCode = N` constant, a close or end call) is in a close group', () => {
    const numbered = /\w*CloseCode\s*=\s*(\d{4})\b|(?:closeSocket|\.end|\.drop|\.close)\([^,()]*,\s*(\d{4})\b/g;
    const found = sources()
      .filter((s) => s.file.startsWith(`io${path.sep}`) || s.file.startsWith(`client${path.sep}`))
      .flatMap((s) => [...s.text.matchAll(numbered)].map((m) => ({ file: s.file, code: m[1] ?? m[2]! })));
    expect(found.length).toBeGreaterThan(0);
    // 1006 is what the WebSocket layer reports for a socket closed without a close frame (io/async-upgrade-guard.ts reads it): no one sends it.
    const closeCodes = [...Object.keys(errorCatalogue.serverClose.codes), ...Object.keys(errorCatalogue.clientClose.codes), '1006'];
    expect(found.filter((f) => !closeCodes.includes(f.code))).toEqual([]);
  });
});

/** The statuses the CLI exits with on failure: process.exit(N) and process.exitCode = N. */
function cliExitStatuses(): number[] {
  const exits = /process\.exit(?:Code\s*=\s*|\()(\d+)/g;
  return sources()
    .filter((s) => s.file.startsWith(`cli${path.sep}`))
    .flatMap((s) => [...s.text.matchAll(exits)].map((m) => Number(m[1])))
    .filter((status) => status !== 0);
}

describe('the error catalogue holds every code thrown or answered', () => {
  const sites = literalCodeSites();

  it('finds the literal code sites (the scan works)', () => {
    expect(sites.some((s) => s.errorClass === 'ConfigError' && s.code === 'UNKNOWN_SUBSCRIPTION')).toBe(true);
    expect(sites.some((s) => s.errorClass === 'AdminHttpError' && s.status === 404)).toBe(true);
  });

  it("every `new XError('CODE'` is in its class's group, and an answer's status is the catalogue's", () => {
    const outside = sites.filter((s) => {
      const group = groupOfClass[s.errorClass];
      if (group === undefined) return true;
      const entry = groups[group]!.codes[s.code];
      return entry === undefined || (s.status !== null && entry.httpStatus !== s.status);
    });
    expect(outside).toEqual([]);
  });

  it('the admin API answers each code with its catalogue status', () => {
    const answers = /new AdminHttpError\((\d{3}), AdminErrorCode\.(\w+)|status: (\d{3}),\s*body: \{ code: AdminErrorCode\.(\w+)/g;
    const found = sources()
      .filter((s) => s.file.startsWith(path.join('io', 'admin')))
      .flatMap((s) => [...s.text.matchAll(answers)].map((m) => ({ code: m[2] ?? m[4]!, status: Number(m[1] ?? m[3]) })));
    expect(found.length).toBeGreaterThan(5);
    for (const { code, status } of found) expect({ code, status }).toEqual({ code, status: groups.admin!.codes[code]?.httpStatus });
  });

  it("the admin status map: each store code's status is the catalogue's (INVALID_ARGUMENT is answered INVALID_REQUEST)", () => {
    for (const [code, status] of Object.entries(configErrorStatus) as [ConfigErrorCode, number][]) {
      const answeredAs = code === 'INVALID_ARGUMENT' ? AdminErrorCode.INVALID_REQUEST : code;
      expect({ code, status }).toEqual({ code, status: groups.admin!.codes[answeredAs]?.httpStatus });
      const answer = asHttpError(new ConfigError(code, 'm'));
      expect({ code: answer?.code, status: answer?.status }).toEqual({ code: answeredAs, status });
    }
  });

  it("every upgrade refusal's status is the catalogue's", () => {
    for (const [code, refusal] of Object.entries(refusals)) {
      expect({ code, status: Number.parseInt(refusal.status, 10) }).toEqual({ code, status: groups.upgradeRefusal!.codes[code]?.httpStatus });
    }
  });
});

describe('the error catalogue means one thing by each code', () => {
  it('a code in two groups of one kind has one meaning (and one name)', () => {
    const seen = new Map<string, { group: string; meaning: string; name?: string }>();
    const conflicts: string[] = [];
    for (const [group, { kind, codes }] of Object.entries(groups)) {
      for (const [code, entry] of Object.entries(codes)) {
        const key = `${kind} ${code}`;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, { group, meaning: entry.meaning, name: entry.name });
        else if (first.meaning !== entry.meaning || first.name !== entry.name) conflicts.push(`${key}: ${first.group} and ${group}`);
      }
    }
    expect(conflicts).toEqual([]);
  });

  it('every entry has a meaning of one line, and every group a docs section of its own', () => {
    const titles = Object.values(groups).map((g) => g.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const group of Object.values(groups)) {
      for (const [code, entry] of Object.entries(group.codes)) expect({ code, ok: entry.meaning.length > 0 && !entry.meaning.includes('\n') }).toEqual({ code, ok: true });
    }
  });
});

describe('docs/errors.md', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8');
  /** `## Title` -> the section's text. */
  const sections = new Map(
    doc
      .split(/^## /m)
      .slice(1)
      .map((s) => [s.slice(0, s.indexOf('\n')).trim(), s] as const),
  );
  /** The first cell of each table row of a section: `CODE` or a number. */
  const rowCodes = (section: string): string[] => [...section.matchAll(/^\| (?:`([A-Z][A-Z0-9_]*)`|(\d+)) \|/gm)].map((m) => m[1] ?? m[2]!);

  for (const [group, { title, codes }] of Object.entries(groups)) {
    it(`${group}: section "${title}" has a row for each code, and none else`, () => {
      const section = sections.get(title);
      expect(section, `docs/errors.md has no "## ${title}"`).toBeDefined();
      const rows = rowCodes(section!);
      const catalogued = Object.keys(codes);
      expect({ noRow: catalogued.filter((c) => !rows.includes(c)), notInCatalogue: rows.filter((c) => !catalogued.includes(c)) }).toEqual({ noRow: [], notInCatalogue: [] });
    });
  }

  it('is linked from docs/architecture.md and from the reject codes of docs/protocol.md', () => {
    expect(fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8')).toContain('(errors.md)');
    const protocol = fs.readFileSync(path.join(root, 'docs', 'protocol.md'), 'utf8');
    expect(protocol.slice(protocol.indexOf('## Reject codes'))).toContain('(errors.md');
  });
});

describe('every error class with a code is a SigplaneError', () => {
  /** Thrown by the code where that needs neither Postgres nor a socket; made directly otherwise. */
  function thrown(fn: () => unknown): unknown {
    try {
      fn();
    } catch (error) {
      return error;
    }
    throw new Error('did not throw');
  }
  const cases: [string, unknown, ErrorCatalogueGroup][] = [
    ['SettingsError', thrown(() => validateCopySettingsOverrides({ notASetting: 1 })), 'settings'],
    ['RingError', thrown(() => createRing(3)), 'ring'],
    ['JournalError', thrown(() => checkCursor({ subscriptionId: 'x', receiverId: 'y', sequence: -1 })), 'journal'],
    ['ShipError', new ShipError(ShipErrorCode.BATCH_REFUSED, 'm'), 'ship'],
    ['ConfigError', thrown(() => assertUuid('not-a-uuid', 'subscription id')), 'store'],
    ['MacSecretError', thrown(() => parseImportedMacSecret('short', { legacyV1: false })), 'store'],
    ['ReceiverSettingsStoreError', new ReceiverSettingsStoreError('UNKNOWN_RECEIVER_TOKEN', 'm'), 'store'],
    ['TenantError', new TenantError('m'), 'store'],
    ['KekRotationError', new KekRotationError('KEK_OPEN_FAILED', 'm'), 'store'],
    ['AuditRetentionError', new AuditRetentionError('m'), 'store'],
    ['ApplicationRoleError', new ApplicationRoleError('m'), 'store'],
    ['AdminHttpError', thrown(() => invalidRequest('m')), 'admin'],
    ['SigplaneClientError', new SigplaneClientError(ClientErrorCode.TIMEOUT, 'm'), 'client'],
    ['UsageError', thrown(() => parseCommand({ usage: 'u', summary: 's', options: {} }, ['--not-an-option'])), 'cli'],
    ['ConfigError (cli)', thrown(() => resolveConfig({ port: { help: 'h', parse: integer(1, 10) } }, { port: '99' }, {})), 'cli'],
  ];

  for (const [name, error, group] of cases) {
    it(`${name}: instanceof SigplaneError, its code in the catalogue's ${group}`, () => {
      expect(error).toBeInstanceOf(SigplaneError);
      expect(error).toBeInstanceOf(Error);
      const code = (error as SigplaneError).code;
      expect(Object.keys(groups[group]!.codes)).toContain(code);
    });
  }

  it('the classes keep their names, messages and fields', () => {
    const settings = thrown(() => validateCopySettingsOverrides({ notASetting: 1 })) as SettingsError;
    expect(settings).toBeInstanceOf(SettingsError);
    expect([settings.name, settings.code, settings.field, settings.message]).toEqual(['SettingsError', 'SETTINGS_UNKNOWN_FIELD', 'notASetting', 'notASetting: not a copy setting']);
    const ring = thrown(() => createRing(3)) as RingError;
    expect([ring.name, ring.code, ring.message.startsWith('RING_LAYOUT: ')]).toEqual(['RingError', 'RING_LAYOUT', true]);
    const cause = new Error('disk');
    const journal = new JournalError(JournalErrorCode.FAILED, 'm', { cause });
    expect([journal.name, journal.code, journal.message, journal.cause]).toEqual(['JournalError', 'JOURNAL_FAILED', 'JOURNAL_FAILED: m', cause]);
    const admin = asHttpError(new ConfigError('UNKNOWN_USER', 'no user'))!;
    expect(admin).toBeInstanceOf(AdminHttpError);
    expect([admin.name, admin.status, admin.code, admin.message]).toEqual(['AdminHttpError', 404, 'UNKNOWN_USER', 'no user']);
    const client = new SigplaneClientError('REPLAY', 'm', { sequence: 7, cause });
    expect([client.name, client.code, client.sequence, client.httpStatus, client.cause]).toEqual(['SigplaneClientError', 'REPLAY', 7, null, cause]);
    const cli = thrown(() => resolveConfig({ port: { help: 'h', parse: integer(1, 10) } }, { port: '99' }, {})) as CliConfigError;
    expect(cli).toBeInstanceOf(UsageError);
    expect([cli.code, cli.key, cli.source]).toEqual(['INVALID_SETTING', 'port', '--port']);
  });
});
