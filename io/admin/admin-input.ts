/**
 * Checking what an admin request carries: a JSON body whose fields are
 * named, typed and bounded (an unknown field is refused, not ignored), path
 * ids that must be UUIDs, query numbers and times. Every refusal is a 400
 * INVALID_REQUEST with a message that names the field.
 */
import { invalidRequest } from './admin-errors';

export type FieldSpec =
  | { type: 'string'; required?: boolean; maxChars: number }
  | { type: 'integer'; required?: boolean; min: number; max: number }
  | { type: 'time'; required?: boolean }
  | { type: 'boolean'; required?: boolean };

type FieldValue<S extends FieldSpec> = S extends { type: 'string' }
  ? string
  : S extends { type: 'boolean' }
    ? boolean
    : number;

export type Fields<T extends Record<string, FieldSpec>> = { [K in keyof T]?: FieldValue<T[K]> };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The body's fields as `spec` says (times as ms since the epoch), or a 400. */
export function bodyFields<T extends Record<string, FieldSpec>>(body: unknown, spec: T): Fields<T> {
  const input = body === undefined ? {} : body;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) invalidRequest('the body must be a JSON object');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) if (!Object.prototype.hasOwnProperty.call(spec, key)) invalidRequest(`unknown field ${key}`);
  for (const [name, field] of Object.entries(spec)) {
    const value = (input as Record<string, unknown>)[name];
    if (value === undefined || value === null) {
      if (field.required === true) invalidRequest(`${name} is required`);
      continue;
    }
    out[name] = fieldValue(name, value, field);
  }
  return out as Fields<T>;
}

function fieldValue(name: string, value: unknown, field: FieldSpec): unknown {
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string' || value.length === 0 || value.length > field.maxChars) {
        invalidRequest(`${name} must be a string of 1..${field.maxChars} characters`);
      }
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < field.min || value > field.max) {
        invalidRequest(`${name} must be an integer in ${field.min}..${field.max}`);
      }
      return value;
    case 'time':
      return timeValue(name, value);
    case 'boolean':
      if (typeof value !== 'boolean') invalidRequest(`${name} must be true or false`);
      return value;
  }
}

/** An ISO-8601 time with a date and a time of day, as ms since the epoch. */
export function timeValue(name: string, value: unknown): number {
  if (typeof value !== 'string' || value.length > 40 || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
    invalidRequest(`${name} must be an ISO-8601 time (2026-01-31T12:00:00Z)`);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) invalidRequest(`${name} must be an ISO-8601 time (2026-01-31T12:00:00Z)`);
  return ms;
}

export function uuidParam(value: string, name: string): string {
  if (!uuidPattern.test(value)) invalidRequest(`${name} must be a UUID`);
  return value.toLowerCase();
}

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** Query parameters: only the known ones, each at most once. */
export function queryParams(query: URLSearchParams, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    if (!known.includes(key)) invalidRequest(`unknown query parameter ${key}`);
    if (key in out) invalidRequest(`query parameter ${key} given twice`);
    out[key] = value;
  }
  return out;
}

export function integerParam(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) invalidRequest(`${name} must be an integer in ${min}..${max}`);
  return Number(value);
}
