/**
 * What a SigplaneServer is built from (io/server.ts): where it listens, its
 * shards and journals, how it authenticates, what it reports, and the test
 * hooks. And how its parts log.
 */
import type { ReceiverSettingsMessage } from '@sigplane/protocol';
import type { JournalDiskReserve } from '../engine/journal-space';
import type { RefusalBudget } from '../engine/shard-security-events';
import type { JournalSync } from '../persistence/journal';
import type { ShipperStatus } from '../persistence/shipper/shipper';
import type { RateLimit } from './rate-limit/rate-limit-backend';
import type { Authenticator } from './upgrade';

/** How the server's parts log: the `log` option (pino in `sigplane serve`), or nowhere. */
export type ServerLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface ServerOptions {
  host: string;
  /** 0 picks a free port (see `port` after listen). */
  port: number;
  shardCount: number;
  dataDir: string;
  journalSync: JournalSync;
  authenticator: Authenticator;
  tokenHash: (token: string) => string | null;
  /** Is the system of record reachable (for /readyz)? */
  databaseReady: () => Promise<boolean>;
  tls?: { certFile: string; keyFile: string; passphrase?: string };
  /** The journal -> Postgres shipper, when one runs: /readyz and /metrics report it. */
  shipperStatus?: () => ShipperStatus;
  log?: ServerLog;
  /**
   * The operators' control channel (LISTEN sigplane_control): isolations,
   * lifts and revocations act on live connections. Without it they act only
   * on new upgrades (the store refuses them).
   */
  controlDatabaseUrl?: string;
  /** application_name of the control connection (default sigplane_control). */
  controlApplicationName?: string;
  /** Receiver licenses' copy settings (persistence/pg/receiver-settings-store.ts): sent on subscribe and, with the control channel, on change. */
  receiverSettings?: (tokenId: string) => Promise<ReceiverSettingsMessage>;
  /** Per source IP on upgrades and per subscription on master frames; cluster-wide through Redis with redisUrl. */
  rateLimits?: {
    redisUrl?: string;
    redisKeyPrefix?: string;
    upgradesPerIp?: RateLimit;
    subscriptionSignals?: RateLimit;
    subscriptionLeaseSignals?: number;
  };
  /** The read-only status page (/status): off (404) without a token. */
  statusToken?: string;
  /** Free space kept on the data folder's filesystem: below it new signals are refused BUSY (engine/journal-space.ts). */
  journalDiskReserve?: JournalDiskReserve;
  /** Test hook (fault injection). */
  crashShardAfterRecords?: { shardIndex: number; records: number };
  /** Test hook: the shards' ring size (proto/limits.ts ringBytes otherwise). */
  ringBytes?: number;
  /** Test hook: signals each shard's delivery windows hold together (proto/limits.ts engine.deliveryWindowRecordsPerShardMax otherwise). */
  windowRecordsPerShardMax?: number;
  /** Test hook: the shards' own refusals recorded one by one (proto/limits.ts securityEvents otherwise). */
  shardRefusalBudget?: RefusalBudget;
}
