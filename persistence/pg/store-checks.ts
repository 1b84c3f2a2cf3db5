/**
 * What the stores of persistence/pg/ check alike: ids, emails, reasons,
 * free text, and the keyset pages the admin stores answer with. Every
 * refusal is a ConfigError INVALID_ARGUMENT.
 */
import { admin, auditLog } from '@sigplane/protocol';
import { ConfigError } from './config-errors';

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const emailPattern = /^[^\s@]+@[^\s@]+$/;
/** A cursor is base64url of [timestamptz text, uuid]; the text as Postgres printed it. */
const cursorTimePattern = /^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{8,15}[+-][0-9:]{2,5}$/;

export function invalid(message: string): never {
  throw new ConfigError('INVALID_ARGUMENT', message);
}

export function assertUuid(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || !uuidPattern.test(value)) invalid(`${what} must be a UUID`);
}

export function normaliseEmail(value: unknown): string {
  const email = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (email.length < 3 || email.length > admin.emailLengthMax || !emailPattern.test(email)) invalid('bad email address');
  return email;
}

/** An operator's reason, trimmed: 1..auditLog.reasonCharsMax characters. */
export function assertReason(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.length === 0 || text.length > auditLog.reasonCharsMax) invalid(`reason must be 1..${auditLog.reasonCharsMax} characters`);
  return text;
}

/** Postgres text cannot hold NUL (it would fail as SQLSTATE 22021): refused up front with a stable code. */
const nulCharacter = /\u0000/;

/** Optional text: absent, or a string of at most `max` characters without NUL. */
export function assertText(value: string | null | undefined, what: string, max: number): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || value.length > max) invalid(`${what} must be a string of at most ${max} characters`);
  if (nulCharacter.test(value)) invalid(`${what} must not contain NUL characters`);
}

/** Required text: trimmed, 1..`max` characters, without NUL. */
export function assertName(value: unknown, what: string, max: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.length === 0 || text.length > max) invalid(`${what} must be 1..${max} characters`);
  if (nulCharacter.test(text)) invalid(`${what} must not contain NUL characters`);
  return text;
}

/** An operator's reason for a configuration change or an incident action: assertName's rule (assertReason, and no NUL). */
export function assertNulFreeReason(value: unknown): string {
  return assertName(value, 'reason', auditLog.reasonCharsMax);
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return admin.pageSizeDefault;
  if (!Number.isInteger(limit) || limit < 1 || limit > admin.pageSizeMax) invalid(`limit must be an integer in 1..${admin.pageSizeMax}`);
  return limit;
}

export function encodeCursor(time: string, id: string): string {
  return Buffer.from(JSON.stringify([time, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { time: string; id: string } {
  if (typeof cursor !== 'string' || cursor.length > admin.cursorCharsMax || !/^[A-Za-z0-9_-]+$/.test(cursor)) invalid('bad cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    invalid('bad cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) invalid('bad cursor');
  const [time, id] = parsed as unknown[];
  if (typeof time !== 'string' || !cursorTimePattern.test(time) || typeof id !== 'string' || !uuidPattern.test(id)) invalid('bad cursor');
  return { time, id };
}

/** 22007/22008: a cursor's time Postgres does not read (crafted by hand). */
export function isBadTimestamp(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === '22007' || code === '22008';
}

/** SQL fragment: a parameter holding ms since the epoch, as timestamptz. */
export const ts = (n: number): string => `to_timestamp($${n}::float8 / 1000)`;
