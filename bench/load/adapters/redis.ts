/**
 * Redis publish/subscribe on the bench's own redis-server (redis-server.ts,
 * nothing on disk): one connection per master and per receiver, one channel
 * per subscription. The "ack" is PUBLISH's reply (the number of subscribers
 * it reached); nothing is stored.
 */
import crypto from 'node:crypto';
import { alternativePayload, sequenceOfPayload } from '../payload';
import { targetsBySubscription } from '../run-targets';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { openRedis, startRedisServer, type OwnRedisServer } from './redis-server';
import { OneProcessServer } from './one-process-server';

interface RedisTarget extends MasterTarget, ReceiverTarget {
  url: string;
  channel: string;
}

export class RedisAdapter extends OneProcessServer<OwnRedisServer> implements SystemAdapter {
  readonly name = 'redis' as const;
  readonly durability = 'not durable' as const;
  description = 'redis-server, PUBLISH/SUBSCRIBE (nothing stored, no persistence); ack = the reply to PUBLISH';

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startRedisServer({ appendFsyncAlways: false, cpus });
    this.description = `redis-server ${this.server.version}, PUBLISH/SUBSCRIBE (nothing stored, no persistence); ack = the reply to PUBLISH`;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    return targetsBySubscription(subscriptions, receiversPerSubscription, (sub): RedisTarget => ({
      sub,
      url: this.server!.url,
      channel: `sigplane-bench:${run}:${sub}`,
    }));
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
