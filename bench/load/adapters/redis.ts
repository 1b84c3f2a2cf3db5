/**
 * Redis publish/subscribe on the machine's redis-server (127.0.0.1:6379
 * unless REDIS_URL says otherwise): one connection per master and per
 * receiver, one channel per subscription. The "ack" is PUBLISH's reply
 * (the number of subscribers it reached); nothing is stored.
 */
import crypto from 'node:crypto';
import Redis from 'ioredis';
import { pidByCommand } from '../process-stats';
import { alternativePayload, sequenceOfPayload } from '../payload';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface RedisTarget extends MasterTarget, ReceiverTarget {
  url: string;
  channel: string;
}

async function openRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  await redis.connect();
  return redis;
}

export class RedisAdapter implements SystemAdapter {
  readonly name = 'redis' as const;
  readonly description = `redis-server (PUBLISH/SUBSCRIBE, no persistence) at ${redisUrl()}; ack = the reply to PUBLISH`;
  serverPid: number | null = null;

  async start(): Promise<void> {
    const redis = await openRedis(redisUrl()).catch((error: Error) => {
      throw new Error(`Redis at ${redisUrl()} is not reachable: ${error.message}`);
    });
    redis.disconnect();
    this.serverPid = pidByCommand('redis-server');
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const target = (sub: number): RedisTarget => ({ sub, url: redisUrl(), channel: `sigplane-bench:${run}:${sub}` });
    const masters = Array.from({ length: subscriptions }, (_, sub) => target(sub));
    const receivers = masters.flatMap((m) => Array.from({ length: receiversPerSubscription }, () => target(m.sub)));
    return { masters, receivers };
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as RedisTarget;
    const redis = await openRedis(t.url);
    return {
      prepare() {},
      resent: 0,
      send(sequence) {
        redis.publish(t.channel, alternativePayload(t.sub, sequence)).then(
          () => events.onAck(sequence),
          () => events.onRefused(sequence, 'PUBLISH_FAILED'),
        );
      },
      async close() {
        redis.disconnect();
      },
    };
  }

  async stop(): Promise<void> {}
}

export const openRedisReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as RedisTarget;
  const redis = await openRedis(t.url);
  redis.on('messageBuffer', (_channel: Buffer, message: Buffer) => onDelivery(sequenceOfPayload(message)));
  await redis.subscribe(t.channel);
  return {
    async close() {
      redis.disconnect();
    },
  };
};
