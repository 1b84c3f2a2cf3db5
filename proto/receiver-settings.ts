/**
 * A receiver license's copy settings (proto ReceiverSettings) as one plain,
 * validated object. One definition for the three places that touch them:
 * the store validates what an operator sets, the server encodes them, the
 * receiver client decodes and checks what it was sent. docs/receivers.md
 * gives the rules a receiver applies with them.
 *
 * Stored as overrides of `copySettingsDefaults` (like subscription
 * settings): a key absent from the row follows the default.
 */
import { copySettings } from './limits';
import { encodeFrame, exactDecimal } from './codec';
import { SigplaneError } from './sigplane-error';
import type { Int64, ReceiverSettingsFrame } from './wire-types';

export const LotMode = {
  FIXED: 'FIXED',
  MULTIPLIER: 'MULTIPLIER',
  EQUITY_RATIO: 'EQUITY_RATIO',
  RISK_PERCENT: 'RISK_PERCENT',
} as const;
export type LotMode = (typeof LotMode)[keyof typeof LotMode];

/** proto LotMode numbers (the enum in proto/sigplane.proto). */
const lotModeNumbers: Record<LotMode, number> = { FIXED: 1, MULTIPLIER: 2, EQUITY_RATIO: 3, RISK_PERCENT: 4 };

export interface CopySettings {
  symbolPrefix: string;
  symbolSuffix: string;
  /** master symbol -> receiver symbol; wins over prefix and suffix. */
  symbolMap: Record<string, string>;
  lotMode: LotMode;
  /** FIXED: lots; MULTIPLIER and EQUITY_RATIO: a factor; RISK_PERCENT: percent of equity. */
  lotValue: number;
  /** EQUITY_RATIO: the provider's account size, in the receiver's account currency. */
  masterEquity: number;
  /** 0: the broker's minimum / maximum. */
  lotMin: number;
  lotMax: number;
  reverse: boolean;
  copyStopLoss: boolean;
  copyTakeProfit: boolean;
  /** Master symbols; empty: every symbol. */
  symbolsAllowed: string[];
  symbolsBlocked: string[];
  /** Master magic numbers as decimal uint64; empty: every magic number. */
  magicsAllowed: string[];
  magicsBlocked: string[];
  /** 0: no check. */
  priceDeviationPipsMax: number;
  /** 0: no check. */
  signalAgeMsMax: number;
  /** On a snapshot, open what the master already holds (else only what opens later is copied). */
  copyOpenPositions: boolean;
}

/** What a receiver copies with when nobody set anything: 1:1, stops included. */
export const copySettingsDefaults: Readonly<CopySettings> = Object.freeze({
  symbolPrefix: '',
  symbolSuffix: '',
  symbolMap: {},
  lotMode: LotMode.MULTIPLIER,
  lotValue: 1,
  masterEquity: 0,
  lotMin: 0,
  lotMax: 0,
  reverse: false,
  copyStopLoss: true,
  copyTakeProfit: true,
  symbolsAllowed: [],
  symbolsBlocked: [],
  magicsAllowed: [],
  magicsBlocked: [],
  priceDeviationPipsMax: 0,
  signalAgeMsMax: 0,
  copyOpenPositions: true,
});

/** Stable codes of a refused setting; `field` names the key. */
export const SettingsErrorCode = {
  NOT_AN_OBJECT: 'SETTINGS_NOT_AN_OBJECT',
  UNKNOWN_FIELD: 'SETTINGS_UNKNOWN_FIELD',
  INVALID_TYPE: 'SETTINGS_INVALID_TYPE',
  INVALID_SYMBOL: 'SETTINGS_INVALID_SYMBOL',
  INVALID_MAGIC: 'SETTINGS_INVALID_MAGIC',
  TOO_MANY_ENTRIES: 'SETTINGS_TOO_MANY_ENTRIES',
  OUT_OF_RANGE: 'SETTINGS_OUT_OF_RANGE',
  INVALID_LOT_MODE: 'SETTINGS_INVALID_LOT_MODE',
  LOT_RANGE_EMPTY: 'SETTINGS_LOT_RANGE_EMPTY',
  MASTER_EQUITY_REQUIRED: 'SETTINGS_MASTER_EQUITY_REQUIRED',
  FILTER_CONFLICT: 'SETTINGS_FILTER_CONFLICT',
} as const;
export type SettingsErrorCode = (typeof SettingsErrorCode)[keyof typeof SettingsErrorCode];

export class SettingsError extends SigplaneError<SettingsErrorCode> {
  constructor(
    code: SettingsErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(code, `${field}: ${message}`);
    this.name = 'SettingsError';
  }
}

const symbolPattern = /^[A-Za-z0-9._#+\-]+$/;
const affixPattern = /^[A-Za-z0-9._#+\-]*$/;
const magicPattern = /^(0|[1-9][0-9]{0,19})$/;
const uint64Max = 18446744073709551615n;

type Key = keyof CopySettings;
const keys = Object.keys(copySettingsDefaults) as Key[];

function fail(code: SettingsErrorCode, field: string, message: string): never {
  throw new SettingsError(code, field, message);
}

function checkSymbol(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > copySettings.symbolLengthMax || !symbolPattern.test(value)) {
    fail(SettingsErrorCode.INVALID_SYMBOL, field, `a symbol is 1..${copySettings.symbolLengthMax} of A-Z a-z 0-9 . _ # + -`);
  }
  return value;
}

function checkMagic(value: unknown, field: string): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !magicPattern.test(text) || BigInt(text) > uint64Max) {
    fail(SettingsErrorCode.INVALID_MAGIC, field, 'a magic number is a decimal uint64');
  }
  return text;
}

function checkList<T>(value: unknown, field: string, each: (v: unknown, f: string) => T): T[] {
  if (!Array.isArray(value)) fail(SettingsErrorCode.INVALID_TYPE, field, 'must be a list');
  if (value.length > copySettings.filterEntriesMax) {
    fail(SettingsErrorCode.TOO_MANY_ENTRIES, field, `at most ${copySettings.filterEntriesMax} entries`);
  }
  return [...new Set(value.map((v, i) => each(v, `${field}[${i}]`)))];
}

function checkNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(SettingsErrorCode.INVALID_TYPE, field, 'must be a finite number');
  if (value < min || value > max) fail(SettingsErrorCode.OUT_OF_RANGE, field, `must be in ${min}..${max}`);
  return value;
}

function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(SettingsErrorCode.INVALID_TYPE, field, 'must be true or false');
  return value;
}

function checkAffix(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > copySettings.symbolAffixLengthMax || !affixPattern.test(value)) {
    fail(SettingsErrorCode.INVALID_SYMBOL, field, `at most ${copySettings.symbolAffixLengthMax} of A-Z a-z 0-9 . _ # + -`);
  }
  return value;
}

/** One key's value, checked on its own. */
function checkField(key: Key, value: unknown): CopySettings[Key] {
  const l = copySettings;
  switch (key) {
    case 'symbolPrefix':
    case 'symbolSuffix':
      return checkAffix(value, key);
    case 'symbolMap': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(SettingsErrorCode.INVALID_TYPE, key, 'must be an object');
      const entries = Object.entries(value);
      if (entries.length > l.symbolMapEntriesMax) fail(SettingsErrorCode.TOO_MANY_ENTRIES, key, `at most ${l.symbolMapEntriesMax} entries`);
      const map: Record<string, string> = {};
      for (const [from, to] of entries) map[checkSymbol(from, `${key}.${from}`)] = checkSymbol(to, `${key}.${from}`);
      return map;
    }
    case 'lotMode':
      if (typeof value !== 'string' || !Object.hasOwn(lotModeNumbers, value)) {
        fail(SettingsErrorCode.INVALID_LOT_MODE, key, `one of ${Object.keys(lotModeNumbers).join(', ')}`);
      }
      return value as LotMode;
    case 'lotValue':
      return checkNumber(value, key, 0, l.lotValueMax);
    case 'masterEquity':
      return checkNumber(value, key, 0, l.masterEquityMax);
    case 'lotMin':
    case 'lotMax':
      return checkNumber(value, key, 0, l.lotsMax);
    case 'reverse':
    case 'copyStopLoss':
    case 'copyTakeProfit':
    case 'copyOpenPositions':
      return checkBoolean(value, key);
    case 'symbolsAllowed':
    case 'symbolsBlocked':
      return checkList(value, key, checkSymbol);
    case 'magicsAllowed':
    case 'magicsBlocked':
      return checkList(value, key, checkMagic);
    case 'priceDeviationPipsMax':
      return checkNumber(value, key, 0, l.priceDeviationPipsMax);
    case 'signalAgeMsMax': {
      const n = checkNumber(value, key, 0, l.signalAgeMsMax);
      if (!Number.isInteger(n)) fail(SettingsErrorCode.INVALID_TYPE, key, 'must be an integer');
      return n;
    }
  }
}

/** Rules between keys, on the complete settings. */
function checkWhole(s: CopySettings): void {
  if (!(s.lotValue > 0)) fail(SettingsErrorCode.OUT_OF_RANGE, 'lotValue', 'must be above 0');
  if (s.lotMode === LotMode.EQUITY_RATIO && !(s.masterEquity > 0)) {
    fail(SettingsErrorCode.MASTER_EQUITY_REQUIRED, 'masterEquity', 'EQUITY_RATIO needs the provider\'s account size');
  }
  if (s.lotMax > 0 && s.lotMin > s.lotMax) fail(SettingsErrorCode.LOT_RANGE_EMPTY, 'lotMin', 'lotMin is above lotMax');
  const blocked = new Set(s.symbolsBlocked);
  const both = s.symbolsAllowed.find((x) => blocked.has(x));
  if (both !== undefined) fail(SettingsErrorCode.FILTER_CONFLICT, 'symbolsAllowed', `${both} is both allowed and blocked`);
  const blockedMagics = new Set(s.magicsBlocked);
  const bothMagic = s.magicsAllowed.find((x) => blockedMagics.has(x));
  if (bothMagic !== undefined) fail(SettingsErrorCode.FILTER_CONFLICT, 'magicsAllowed', `${bothMagic} is both allowed and blocked`);
}

/** Overrides as stored (or given by an operator), checked key by key; unknown keys refused. */
export function validateCopySettingsOverrides(overrides: unknown): Partial<CopySettings> {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    fail(SettingsErrorCode.NOT_AN_OBJECT, '(settings)', 'must be an object');
  }
  const out: Partial<CopySettings> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!(keys as string[]).includes(key)) fail(SettingsErrorCode.UNKNOWN_FIELD, key, 'not a copy setting');
    (out as Record<string, unknown>)[key] = checkField(key as Key, value);
  }
  resolveCopySettings(out);
  return out;
}

/** Defaults plus checked overrides, checked as a whole. Throws SettingsError. */
export function resolveCopySettings(overrides: Partial<CopySettings>): CopySettings {
  const merged: CopySettings = { ...copySettingsDefaults, symbolMap: { ...copySettingsDefaults.symbolMap }, ...overrides };
  for (const key of keys) checkField(key, merged[key]);
  checkWhole(merged);
  return merged;
}

// ---- wire ----

export interface ReceiverSettingsMessage {
  subscriptionId: string;
  /** Grows with every change of this license's settings. */
  revision: number;
  settings: CopySettings;
}

/** The object protobufjs' fromObject takes for Frame.receiverSettings. */
export function receiverSettingsObject(message: ReceiverSettingsMessage): Record<string, unknown> {
  const s = message.settings;
  return {
    subscriptionId: message.subscriptionId,
    revision: message.revision,
    settings: {
      symbolPrefix: s.symbolPrefix,
      symbolSuffix: s.symbolSuffix,
      symbolMap: s.symbolMap,
      lotMode: lotModeNumbers[s.lotMode],
      lotValue: s.lotValue,
      masterEquity: s.masterEquity,
      lotMin: s.lotMin,
      lotMax: s.lotMax,
      reverse: s.reverse,
      copyStopLoss: s.copyStopLoss,
      copyTakeProfit: s.copyTakeProfit,
      symbolsAllowed: s.symbolsAllowed,
      symbolsBlocked: s.symbolsBlocked,
      magicsAllowed: s.magicsAllowed,
      magicsBlocked: s.magicsBlocked,
      priceDeviationPipsMax: s.priceDeviationPipsMax,
      signalAgeMsMax: s.signalAgeMsMax,
      copyOpenPositions: s.copyOpenPositions,
    },
  };
}

export function encodeReceiverSettings(message: ReceiverSettingsMessage): Uint8Array {
  return encodeFrame({ receiverSettings: receiverSettingsObject(message) });
}

/** A received frame as checked settings; throws SettingsError when they break a rule. */
export function fromReceiverSettingsFrame(frame: ReceiverSettingsFrame, revision: number): ReceiverSettingsMessage {
  const w = frame.settings;
  if (w === null || w === undefined) fail(SettingsErrorCode.NOT_AN_OBJECT, 'settings', 'missing');
  const lotMode = (Object.keys(lotModeNumbers) as LotMode[]).find((m) => lotModeNumbers[m] === w.lotMode) ?? LotMode.MULTIPLIER;
  const settings = resolveCopySettings({
    symbolPrefix: w.symbolPrefix,
    symbolSuffix: w.symbolSuffix,
    symbolMap: { ...(w.symbolMap ?? {}) },
    lotMode,
    lotValue: w.lotMode === 0 ? 1 : w.lotValue,
    masterEquity: w.masterEquity,
    lotMin: w.lotMin,
    lotMax: w.lotMax,
    reverse: w.reverse,
    copyStopLoss: w.copyStopLoss,
    copyTakeProfit: w.copyTakeProfit,
    symbolsAllowed: [...(w.symbolsAllowed ?? [])],
    symbolsBlocked: [...(w.symbolsBlocked ?? [])],
    magicsAllowed: (w.magicsAllowed ?? []).map((m) => exactDecimal(m)),
    magicsBlocked: (w.magicsBlocked ?? []).map((m) => exactDecimal(m)),
    priceDeviationPipsMax: w.priceDeviationPipsMax,
    signalAgeMsMax: w.signalAgeMsMax,
    copyOpenPositions: w.copyOpenPositions,
  });
  return { subscriptionId: frame.subscriptionId, revision, settings };
}
