/**
 * The configuration stores' refusals: one error class with a stable code
 * (ConfigErrorCode), thrown by every store under persistence/pg/ and turned
 * into HTTP answers by the admin API (io/admin/admin-errors.ts) and into
 * messages by the CLI. A refusal changes nothing.
 */
import { SigplaneError } from '@sigplane/protocol';

export type ConfigErrorCode =
  | 'INVALID_ARGUMENT'
  // A MAC key brought by a provider is not 64 lowercase hex characters that look random (the format of a
  // generated one), or with the legacy v1 opt-in not a string within proto/limits.ts importedMacSecret's bounds (imported-mac-secret.ts).
  | 'INVALID_MAC_KEY'
  // A subscription id asked for (moving an existing Master EA) is taken.
  | 'SUBSCRIPTION_EXISTS'
  | 'UNKNOWN_SUBSCRIPTION'
  | 'UNKNOWN_TOKEN'
  // Of the admin API (admin-store.ts, credential-rotation.ts's refuseWhileOverlapOpen):
  | 'ROTATION_IN_PROGRESS'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_CREDENTIAL'
  | 'UNKNOWN_ALLOWED_IP'
  | 'ALREADY_ERASED'
  | 'EMAIL_TAKEN';

export class ConfigError extends SigplaneError<ConfigErrorCode> {
  constructor(code: ConfigErrorCode, message: string) {
    super(code, message);
    this.name = 'ConfigError';
  }
}
