/** Close codes sigplane uses (4000-4999 are the application's; docs/protocol.md). */
import { IncidentCloseCode } from './incident-control';
import { backpressureCloseCode } from './slow-connections';

export const CloseCode = {
  SHARD_RESTART: 1012,
  BACKPRESSURE: backpressureCloseCode,
  SHUTDOWN: 1001,
  FRAME_TOO_LARGE: 1009,
  /** An operator isolated the subscription (docs/protocol.md: reconnecting is refused until lifted). */
  ISOLATED: IncidentCloseCode.ISOLATED,
  /** An operator revoked the token this session authenticated with. */
  REVOKED: IncidentCloseCode.REVOKED,
  /** Kept sending past RATE_LIMITED answers (wire.rateLimitedFramesPerSecondMax in one second). */
  RATE_LIMITED: 4029,
} as const;
