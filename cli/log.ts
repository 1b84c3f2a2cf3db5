/**
 * Structured JSON log lines (pino) on stderr, one object per line:
 * {"level":"info","time":"<ISO>","pid":..,"msg":..., ...fields}.
 *
 * Secrets never reach a line, by two independent guards:
 * - pino redaction of every field whose NAME says secret (token,
 *   authorization, secret, signature, key material, passwords and
 *   passphrases), at the top level and two levels down;
 * - a last scrub of the written line for anything SHAPED like a secret
 *   (sigplane tokens, a Bearer credential, 64-hex MAC keys, signatures and
 *   token hashes, 32-byte base64 keys, the password of a URL), in case a secret travelled inside a
 *   message or an error text.
 * Callers still pass ids (request id, connection id, subscription id), never
 * credentials: the guards are for mistakes.
 */
import pino from 'pino';

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type LogFunction = (level: LogLevel, message: string, fields?: LogFields) => void;

/** Field names whose values are never written. */
const secretFieldNames = [
  'token',
  'masterToken',
  'receiverToken',
  'adminToken',
  'authorization',
  'secret',
  'macSecretHex',
  'macKey',
  'signature',
  'password',
  'passphrase',
  'tlsKeyPassphrase',
  'privateKey',
  'kek',
  'tokenHash',
];

const redactPaths = secretFieldNames
  .flatMap((name) => [name, `*.${name}`, `*.*.${name}`])
  .concat(['["tls-key-passphrase"]', '*["tls-key-passphrase"]', 'headers.authorization', 'req.headers.authorization']);

/** Shapes of secrets, replaced wherever they appear in a written line. */
const secretShapes: { pattern: RegExp; replacement: string }[] = [
  // sigplane tokens (spm_, spr_ and any other sp?_ kind): prefix kept, so an operator still sees which kind.
  { pattern: /\b(sp[a-z])_[0-9a-fA-F]{16,}(?:_[0-9a-fA-F]{8})?/g, replacement: '$1_[Redacted]' },
  { pattern: /\bBearer\s+[^\s"\\]+/gi, replacement: 'Bearer [Redacted]' },
  // MAC keys as shown to providers, v1 signatures, token hashes.
  { pattern: /\b[0-9a-fA-F]{64,}\b/g, replacement: '[Redacted]' },
  // 32-byte keys in base64 (KEK, v2 MAC keys).
  { pattern: /[A-Za-z0-9+/]{43}=/g, replacement: '[Redacted]' },
  // The password of a URL (postgres://user:password@host): the user and host stay.
  { pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"]+:)[^\s@"/]+@/gi, replacement: '$1[Redacted]@' },
];

/** The line with every secret-shaped substring replaced. */
export function scrubSecrets(line: string): string {
  let out = line;
  for (const { pattern, replacement } of secretShapes) out = out.replace(pattern, replacement);
  return out;
}

/** The process's logger: synchronous writes, so the last lines before an exit are not lost. */
const logger = pino(
  {
    level: 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: redactPaths, censor: '[Redacted]' },
    hooks: { streamWrite: scrubSecrets },
  },
  pino.destination({ dest: 2, sync: true }),
);

/** Set from the validated configuration (cli/config.ts). */
export function setLogLevel(level: LogLevel | 'debug'): void {
  logger.level = level;
}

/** The call sites' shape: a level, a message, fields. */
export function log(level: LogLevel, message: string, fields: LogFields = {}): void {
  logger[level](fields, message);
}

/** A log function whose lines all carry `bindings` (a request id, a connection id). */
export function logWith(bindings: LogFields): LogFunction {
  const child = logger.child(bindings);
  return (level, message, fields = {}) => child[level](fields, message);
}
