/**
 * Rate limits beyond the per-connection bucket, against the real Redis on
 * 127.0.0.1:6379 (each test its own key prefix): per source IP on upgrades
 * and per subscription on master frames, in memory and cluster-wide through
 * Redis (two servers, one budget); and with Redis unreachable (a closed
 * port) the stricter in-memory fallback, a warn line and the metric that say so.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseMetricsText } from '../io/metrics';
import { SigplaneServer } from '../io/server';
import { rateLimitKeyOfAddress } from '../io/rate-limit/address-key';
import { RedisGcra } from '../io/rate-limit/redis-gcra';
import { parseToken } from '../persistence/pg/tokens';
import { openMaster, openWelcomed, send } from './support/e2e';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient, type UpgradeRefusal } from './support/wire-client';

const redisUrl = 'redis://127.0.0.1:6379';
let redis: Redis;
const cleanup: (() => Promise<void>)[] = [];

function uniquePrefix(): string {
  return `sigplane:test:${crypto.randomUUID()}:`;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function upgradeStatus(url: string, localAddress = '127.0.0.1'): Promise<number> {
  const result = await WireClient.connect(url, null, { localAddress });
  if (result instanceof WireClient) {
    await result.close();
    return 101;
  }
  return (result as UpgradeRefusal).status;
}

async function metricsOf(port: number): Promise<Map<string, number>> {
  return parseMetricsText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

async function started(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const t = await startTestServer(options);
  cleanup.push(() => t.close());
  return t;
}

beforeAll(async () => {
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  try {
    expect(await redis.ping()).toBe('PONG');
  } catch (error) {
    throw new Error(`these tests need the Redis server on ${redisUrl}: ${(error as Error).message}`);
  }
});

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

afterAll(async () => {
  redis?.disconnect();
});

describe('the key of a source address', () => {
  it('is the IPv4 address itself, and an IPv6 address\'s /64 network', () => {
    expect(rateLimitKeyOfAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(rateLimitKeyOfAddress('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(rateLimitKeyOfAddress('2001:0db8:0000:0001::1')).toBe('2001:db8:0:1::/64');
    expect(rateLimitKeyOfAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(rateLimitKeyOfAddress('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitKeyOfAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    // Not an address: limited under its own text rather than merged with anything.
    expect(rateLimitKeyOfAddress('1:2:3')).toBe('1:2:3');
  });
});

describe('GCRA in Redis', () => {
  it('admits the burst, then refuses with a retry time; two clients share one budget', async () => {
    const prefix = uniquePrefix();
    const a = new RedisGcra({ url: redisUrl, keyPrefix: prefix, onUpChange: () => undefined });
    const b = new RedisGcra({ url: redisUrl, keyPrefix: prefix, onUpChange: () => undefined });
    try {
      const deadline = Date.now() + 10_000;
      while (!(a.up && b.up) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // 1 per 10 s, burst 4: what a and b take together is bounded by 4.
      const decisions = [];
      for (let i = 0; i < 6; i++) decisions.push(await (i % 2 === 0 ? a : b).take('k', 0.1, 4));
      expect(decisions.map((d) => d?.allowed)).toEqual([true, true, true, true, false, false]);
      expect(decisions[4]!.retryAfterMs).toBeGreaterThan(0);
      expect(decisions[4]!.retryAfterMs).toBeLessThanOrEqual(10_000);
      // The state lives in Redis under the prefix, and expires.
      const keys = await redis.keys(`${prefix}*`);
      expect(keys).toEqual([`${prefix}k`]);
      expect(await redis.pttl(keys[0]!)).toBeGreaterThan(0);
      // A cost larger than the burst is never admitted.
      expect((await a.take('big', 0.1, 4, 5))?.allowed).toBe(false);
    } finally {
      await a.close();
      await b.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});

describe('per source IP on upgrades', () => {
  it('in memory: refuses the address past its burst with 429 RATE_LIMITED, other addresses unaffected', async () => {
    const t = await started({ shardCount: 1, rateLimits: { upgradesPerIp: { ratePerSecond: 0.01, burst: 3 } } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await upgradeStatus(t.masterUrl));
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refusal = await WireClient.connect(t.masterUrl, null);
    expect(refusal).toMatchObject({ status: 429, body: '{"code":"RATE_LIMITED"}' });
    expect(await upgradeStatus(t.masterUrl, '127.0.0.2')).toBe(401);
    const m = await metricsOf(t.server.port);
    expect(m.get('sigplane_rate_limit_hits_total{limit="upgrade_ip"}')).toBe(3);
    expect(m.get('sigplane_upgrades_refused_total{reason="RATE_LIMITED"}')).toBe(3);
    expect(m.has('sigplane_rate_limit_redis_up')).toBe(false);
  });

  it('through Redis: two servers share one budget per address', async () => {
    const rateLimits = { redisUrl, redisKeyPrefix: uniquePrefix(), upgradesPerIp: { ratePerSecond: 0.01, burst: 4 } };
    const a = await started({ shardCount: 1, rateLimits });
    const b = await started({ shardCount: 1, rateLimits });
    const deadline = Date.now() + 10_000;
    while (a.server.rateLimitBackend.source !== 'redis' || b.server.rateLimitBackend.source !== 'redis') {
      if (Date.now() > deadline) throw new Error('the servers did not reach Redis');
      await new Promise((r) => setTimeout(r, 10));
    }
    const statuses = [await upgradeStatus(a.masterUrl), await upgradeStatus(b.masterUrl), await upgradeStatus(a.masterUrl), await upgradeStatus(b.masterUrl)];
    expect(statuses).toEqual([401, 401, 401, 401]);
    // Each server alone has seen 2 of a burst of 4: only the shared budget refuses now.
    expect(await upgradeStatus(a.masterUrl)).toBe(429);
    expect(await upgradeStatus(b.masterUrl)).toBe(429);
    expect((await metricsOf(a.server.port)).get('sigplane_rate_limit_redis_up')).toBe(1);
    const keys = await redis.keys(`${rateLimits.redisKeyPrefix}*`);
    expect(keys).toEqual([`${rateLimits.redisKeyPrefix}upgrade-ip:127.0.0.1`]);
    await redis.del(...keys);
  });

  it('Redis unreachable: the stricter in-memory limit takes over, and a log line and the metric say so', async () => {
    const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const port = await closedPort();
    const t = await started({
      shardCount: 1,
      rateLimits: { redisUrl: `redis://:hunter2-secret@127.0.0.1:${port}`, upgradesPerIp: { ratePerSecond: 0.01, burst: 8 } },
      log: (level, message, fields) => void lines.push({ level, message, fields }),
    });
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => /Redis unreachable/.test(l.message)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const warn = lines.find((l) => /Redis unreachable/.test(l.message));
    expect(warn?.level).toBe('warn');
    expect(JSON.stringify(warn)).not.toContain('hunter2');
    expect(t.server.rateLimitBackend.source).toBe('fallback');
    // A burst of 8 through Redis; 8 / fallbackStrictnessFactor (4) = 2 while it is unreachable.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await upgradeStatus(t.masterUrl));
    expect(statuses).toEqual([401, 401, 429, 429]);
    const m = await metricsOf(t.server.port);
    expect(m.get('sigplane_rate_limit_redis_up')).toBe(0);
    expect(m.get('sigplane_rate_limit_fallback_decisions_total')).toBe(4);
    // Said once, not per request.
    expect(lines.filter((l) => /Redis unreachable/.test(l.message))).toHaveLength(1);
  });
});

/** A TCP relay to the real Redis that the test can cut and restore, on the same port. */
class RedisRelay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(6379, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('Redis going away and coming back', () => {
  it('falls back while it is away, says so once each way, and shares the limits again when it returns', async () => {
    const relay = new RedisRelay();
    await relay.open();
    cleanup.push(() => relay.cut());
    const lines: { level: string; message: string }[] = [];
    const prefix = uniquePrefix();
    const t = await started({
      shardCount: 1,
      rateLimits: { redisUrl: `redis://127.0.0.1:${relay.port}`, redisKeyPrefix: prefix, upgradesPerIp: { ratePerSecond: 0.01, burst: 8 } },
      log: (level, message) => void lines.push({ level, message }),
    });
    const waitFor = async (source: string): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (t.server.rateLimitBackend.source !== source) {
        if (Date.now() > deadline) throw new Error(`rate limits never became ${source}: ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor('redis');
    expect(await upgradeStatus(t.masterUrl)).toBe(401); // 1 of 8 in Redis

    await relay.cut();
    await waitFor('fallback');
    // The fallback's own budget: 8 / 4 = 2.
    expect([await upgradeStatus(t.masterUrl), await upgradeStatus(t.masterUrl), await upgradeStatus(t.masterUrl)]).toEqual([401, 401, 429]);
    expect((await metricsOf(t.server.port)).get('sigplane_rate_limit_redis_up')).toBe(0);

    await relay.open();
    await waitFor('redis');
    // Redis still holds the 1 taken before the cut: 7 more, then refused.
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push(await upgradeStatus(t.masterUrl));
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 429]);
    expect((await metricsOf(t.server.port)).get('sigplane_rate_limit_redis_up')).toBe(1);
    const transitions = lines.filter((l) => /^rate limits: Redis/.test(l.message)).map((l) => `${l.level} ${/^rate limits: Redis (\w+)/.exec(l.message)![1]}`);
    expect(transitions).toEqual(['info reachable', 'warn unreachable', 'info reachable']);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
});

describe('per subscription on master frames', () => {
  it('in memory: two masters of one subscription share its limit; the frame over it is RATE_LIMITED', async () => {
    const t = await started({ shardCount: 1, rateLimits: { subscriptionSignals: { ratePerSecond: 0.01, burst: 4 } } });
    const s = await t.subscription({ settings: { rateLimitPerSecond: 1000, rateLimitBurst: 1000 } });
    const second = await t.store.issueMasterToken(s.subscriptionId);
    const m1 = await openMaster(t, s);
    const m2 = await openMaster(t, { ...s, masterToken: second.token });
    try {
      const answers = [];
      for (let seq = 1; seq <= 6; seq++) answers.push(await send(seq % 2 === 1 ? m1 : m2, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq))));
      expect(answers.map((a) => (a.kind === 'ack' ? a.status : a.code))).toEqual(['ACCEPTED', 'ACCEPTED', 'ACCEPTED', 'ACCEPTED', 'RATE_LIMITED', 'RATE_LIMITED']);
      // Another subscription is not limited by this one.
      const other = await t.subscription();
      const m3 = await openMaster(t, other);
      expect(await send(m3, v1Frame(other.macSecretHex, v1Fields(other.subscriptionId, 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
      await m3.close();
      expect((await metricsOf(t.server.port)).get('sigplane_rate_limit_hits_total{limit="subscription"}')).toBe(2);
    } finally {
      await m1.close();
      await m2.close();
    }
  });

  it('through Redis: a second server on the same database draws on the same budget (leases)', async () => {
    const prefix = uniquePrefix();
    const rateLimits = { redisUrl, redisKeyPrefix: prefix, subscriptionSignals: { ratePerSecond: 0.01, burst: 6 }, subscriptionLeaseSignals: 3 };
    const a = await started({ shardCount: 1, rateLimits });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-rl-b-'));
    // Node b: its own data folder and shards, the same system of record and Redis.
    const b = new SigplaneServer({
      host: '127.0.0.1',
      port: 0,
      shardCount: 1,
      dataDir,
      journalSync: 'normal',
      authenticator: a.store,
      tokenHash: (token) => parseToken(token)?.hash ?? null,
      databaseReady: async () => true,
      rateLimits,
    });
    await b.start();
    cleanup.push(async () => {
      await b.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    const deadline = Date.now() + 10_000;
    while (a.server.rateLimitBackend.source !== 'redis' || b.rateLimitBackend.source !== 'redis') {
      if (Date.now() > deadline) throw new Error('the servers did not reach Redis');
      await new Promise((r) => setTimeout(r, 10));
    }
    const s = await a.subscription({ settings: { rateLimitPerSecond: 1000, rateLimitBurst: 1000 } });
    const onA = await openMaster(a, s);
    const onB = await openWelcomed(`ws://127.0.0.1:${b.port}/v1/master`, s.masterToken);
    await onB.waitFor((f) => f.kind === 'welcome');
    try {
      // A spends the global budget of 6 in leases of 3; B's first lease, granted before Redis is asked, is the
      // most the cluster can overshoot by (one lease per node); once Redis refuses, B admits nothing more.
      const codes = async (master: WireClient, from: number, count: number): Promise<string[]> => {
        const out: string[] = [];
        for (let seq = from; seq < from + count; seq++) {
          const answer = await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
          out.push(answer.kind === 'ack' ? answer.status : answer.code);
          await new Promise((r) => setTimeout(r, 20)); // let a background lease request land
        }
        return out;
      };
      const fromA = await codes(onA, 1, 8);
      const fromB = await codes(onB, 1, 5);
      const accepted = [...fromA, ...fromB].filter((c) => c === 'ACCEPTED').length;
      expect(accepted, JSON.stringify({ fromA, fromB })).toBeGreaterThanOrEqual(6);
      expect(accepted, JSON.stringify({ fromA, fromB })).toBeLessThanOrEqual(6 + 3);
      expect(fromA.slice(-2)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
      expect(fromB.slice(-2)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
      // Without Redis each node would have admitted its own 6.
      expect(await redis.exists(`${prefix}subscription:${s.subscriptionId}`)).toBe(1);
    } finally {
      await onA.close();
      await onB.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});
