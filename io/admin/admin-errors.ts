/**
 * The admin API's answers to what goes wrong: an HTTP status and a stable
 * code a client acts on without parsing the message. Store errors
 * (ConfigError) map onto them here, in one table.
 */
import { SigplaneError } from '@sigplane/protocol';
import { ConfigError, type ConfigErrorCode } from '../../persistence/pg/config-errors';

export const AdminErrorCode = {
  MISSING_CREDENTIAL: 'MISSING_CREDENTIAL',
  INVALID_CREDENTIAL: 'INVALID_CREDENTIAL',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  INVALID_JSON: 'INVALID_JSON',
  INVALID_REQUEST: 'INVALID_REQUEST',
  INTERNAL: 'INTERNAL',
} as const;

export class AdminHttpError extends SigplaneError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    /** Extra answer headers (`allow` of a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
    this.name = 'AdminHttpError';
  }
}

export function invalidRequest(message: string): never {
  throw new AdminHttpError(400, AdminErrorCode.INVALID_REQUEST, message);
}

export const configErrorStatus: Record<ConfigErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_MAC_KEY: 400,
  UNKNOWN_SUBSCRIPTION: 404,
  UNKNOWN_TOKEN: 404,
  UNKNOWN_USER: 404,
  UNKNOWN_CREDENTIAL: 404,
  UNKNOWN_ALLOWED_IP: 404,
  ROTATION_IN_PROGRESS: 409,
  ALREADY_ERASED: 409,
  EMAIL_TAKEN: 409,
  SUBSCRIPTION_EXISTS: 409,
};

/** Any error of a handler as the answer it gives; null: not ours (answer 500 INTERNAL, log it). */
export function asHttpError(error: unknown): AdminHttpError | null {
  if (error instanceof AdminHttpError) return error;
  if (error instanceof ConfigError) {
    const code = error.code === 'INVALID_ARGUMENT' ? AdminErrorCode.INVALID_REQUEST : error.code;
    return new AdminHttpError(configErrorStatus[error.code] ?? 500, code, error.message);
  }
  return null;
}

/** uWS wants the whole status line. */
export const statusLines: Readonly<Record<number, string>> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
};
