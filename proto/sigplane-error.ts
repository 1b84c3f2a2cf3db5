/**
 * The base of every error sigplane throws on purpose: a stable `code` that
 * callers act on without parsing the message (each code, what it means and
 * where it surfaces: proto/errors.ts, docs/errors.md). Each subclass keeps
 * its own name, message and fields; `instanceof SigplaneError` finds them
 * all.
 */
export class SigplaneError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
