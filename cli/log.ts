/**
 * Structured JSON log lines on stderr. Fields are caller-chosen; nothing
 * here ever receives a token, key or signature (the callers pass ids and
 * redacted URLs only).
 */
export type LogLevel = 'info' | 'warn' | 'error';

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`);
}
