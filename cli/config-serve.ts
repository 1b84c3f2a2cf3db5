/**
 * The settings of `sigplane serve`, each with its flag, environment variable
 * and default (cli/config.ts resolves and validates them). Cross-setting
 * rules (a TLS certificate needs its key) are checked here, before anything
 * starts. DATABASE_URL and the key-encryption key keep their own readers
 * (cli/database.ts, persistence/pg/secret-box.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { admin, journalDisk, journalRetention, rateLimits } from '@sigplane/protocol';
import type { JournalDiskReserve } from '../engine/journal-space';
import { parseByteSize } from '../persistence/byte-size';
import { ConfigError, integer, oneOf, positiveNumber, readableFile, resolveConfig, text, type Resolved, type Schema } from './config';

/** A status token shorter than this is refused: it guards what every subscription is doing. */
const statusTokenCharsMin = 32;

const redisUrl = (value: string): string => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be a redis:// or rediss:// URL'); // the value may hold a password: not echoed
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`must be a redis:// or rediss:// URL, got ${url.protocol}//...`);
  return value;
};

const statusToken = (value: string): string => {
  if (value.length < statusTokenCharsMin || /\s/.test(value)) throw new Error(`must be at least ${statusTokenCharsMin} characters without spaces (its value is not shown)`);
  return value;
};

/** "256MiB", "5%", both ("256MiB,5%": the smaller applies), or "0" (no reserve). */
const journalDiskReserve = (value: string): JournalDiskReserve => {
  const reserve: JournalDiskReserve = {};
  const problem = new Error(`must be a size (256MiB), a percentage of the filesystem (5%), both (256MiB,5%: the smaller applies) or 0, got "${value}"`);
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length > 2) throw problem;
  for (const part of parts) {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (percent !== null) {
      const ratio = Number(percent[1]) / 100;
      if (reserve.ratio !== undefined || !(ratio < 1)) throw problem;
      reserve.ratio = ratio;
      continue;
    }
    const bytes = part === '0' ? 0 : parseByteSize(part);
    if (bytes === null || reserve.bytes !== undefined) throw problem;
    reserve.bytes = bytes;
  }
  return reserve;
};

export const serveSchema = {
  host: { help: 'address to listen on', env: 'SIGPLANE_HOST', default: '0.0.0.0', parse: text },
  port: { help: 'port to listen on (0: any free port)', env: 'SIGPLANE_PORT', default: '8080', parse: integer(0, 65535) },
  data: { help: 'data folder: journals, embedded Postgres, generated key-encryption key', env: 'SIGPLANE_DATA_DIR', default: './data', parse: text },
  shards: { help: 'shard worker threads', env: 'SIGPLANE_SHARDS', default: String(Math.max(1, os.availableParallelism() - 1)), parse: integer(1, 64) },
  'journal-sync': { help: "'full' (survives power loss) or 'normal' (survives kill -9)", env: 'SIGPLANE_JOURNAL_SYNC', default: 'full', parse: oneOf('full', 'normal') },
  'journal-budget': {
    help: 'disk budget of the shard journals (e.g. 8GiB): a warning and /readyz, /metrics as they fill',
    env: 'SIGPLANE_JOURNAL_BUDGET',
    default: String(journalRetention.diskBudgetBytesDefault),
    parse: (value: string): number => {
      const bytes = parseByteSize(value);
      if (bytes === null) throw new Error(`must be a size such as 8GiB or 500MB, got "${value}"`);
      return bytes;
    },
  },
  'journal-disk-reserve': {
    help: "free space kept on the data folder's filesystem: below it new signals are refused BUSY and /readyz is 503 (a size, a percentage, both: the smaller applies; 0: none)",
    env: 'SIGPLANE_JOURNAL_DISK_RESERVE',
    default: `${journalDisk.reserveBytesDefault / (1024 * 1024)}MiB,${journalDisk.reserveRatioDefault * 100}%`,
    parse: journalDiskReserve,
  },
  'tls-cert': { help: 'TLS certificate chain (PEM); with --tls-key serves wss/https', env: 'SIGPLANE_TLS_CERT', parse: readableFile },
  'tls-key': { help: 'TLS private key (PEM)', env: 'SIGPLANE_TLS_KEY', parse: readableFile },
  'tls-key-passphrase': { help: 'passphrase of an encrypted TLS key', env: 'SIGPLANE_TLS_KEY_PASSPHRASE', secret: true, parse: text },
  'redis-url': { help: 'Redis for rate limits shared by every node', env: 'REDIS_URL', secret: true, parse: redisUrl },
  'redis-prefix': { help: 'prefix of the rate-limit keys in Redis', env: 'SIGPLANE_REDIS_PREFIX', default: 'sigplane:rl:', parse: text },
  'upgrade-rate': { help: 'WebSocket upgrades per second per source address', env: 'SIGPLANE_UPGRADE_RATE', default: String(rateLimits.upgradesPerIpPerSecond), parse: positiveNumber(1e6) },
  'upgrade-burst': { help: 'burst of upgrades per source address', env: 'SIGPLANE_UPGRADE_BURST', default: String(rateLimits.upgradesPerIpBurst), parse: integer(1, 1e6) },
  'sub-rate': { help: 'master frames per second per subscription (all nodes)', env: 'SIGPLANE_SUB_RATE', default: String(rateLimits.subscriptionSignalsPerSecond), parse: positiveNumber(1e7) },
  'sub-burst': { help: 'burst of master frames per subscription', env: 'SIGPLANE_SUB_BURST', default: String(rateLimits.subscriptionSignalsBurst), parse: integer(1, 1e7) },
  'status-token': { help: 'bearer token of the read-only status page at /status (off without one)', env: 'SIGPLANE_STATUS_TOKEN', secret: true, parse: statusToken },
  'status-file': { help: "file holding the status page's bearer token", env: 'SIGPLANE_STATUS_FILE', parse: readableFile },
  'admin-host': { help: 'address of the admin API listener', env: 'SIGPLANE_ADMIN_HOST', default: admin.hostDefault, parse: text },
  'admin-port': { help: 'port of the admin API (0: any free port; off without it)', env: 'SIGPLANE_ADMIN_PORT', parse: integer(0, 65535) },
  'log-level': { help: 'least level logged: debug, info, warn, error', env: 'SIGPLANE_LOG_LEVEL', default: 'info', parse: oneOf('debug', 'info', 'warn', 'error') },
} satisfies Schema;

export type ServeConfig = Resolved<typeof serveSchema> & { statusToken: string | undefined };

export function loadServeConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): ServeConfig {
  const config = resolveConfig(serveSchema, flags, env);
  if ((config['tls-cert'] === undefined) !== (config['tls-key'] === undefined)) {
    throw new ConfigError(config['tls-cert'] === undefined ? 'tls-cert' : 'tls-key', 'rule', 'is missing: tls-cert and tls-key go together');
  }
  if (config['status-token'] !== undefined && config['status-file'] !== undefined) {
    throw new ConfigError('status-file', 'rule', 'conflicts with SIGPLANE_STATUS_TOKEN: give the status token or its file, not both');
  }
  let token = config['status-token'];
  const tokenFile = config['status-file'];
  if (tokenFile !== undefined) {
    try {
      token = statusToken(fs.readFileSync(tokenFile, 'utf8').trim());
    } catch (error) {
      throw new ConfigError('status-file', `file ${tokenFile}`, (error as Error).message);
    }
  }
  return { ...config, statusToken: token };
}
