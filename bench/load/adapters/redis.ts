/**
 * Redis publish/subscribe on the bench's own redis-server (redis-server.ts,
 * nothing on disk): one connection per master and per receiver, one channel
 * per subscription. The "ack" is PUBLISH's reply (the number of subscribers
 * it reached); nothing is stored.
 */
import crypto from 'node:crypto';
import { alternativePayload, sequenceOfPayload } from '../payload';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { openRedis, startRedisServer, type OwnRedisServer } from './redis-server';

interface RedisTarget extends MasterTarget, ReceiverTarget {
  url: string;
  channel: string;
}

export class RedisAdapter implements SystemAdapter {
  readonly name = 'redis' as const;
  readonly durability = 'not durable' as const;
  description = 'redis-server, PUBLISH/SUBSCRIBE (nothing stored, no persistence); ack = the reply to PUBLISH';
  private server: OwnRedisServer | null = null;

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startRedisServer({ appendFsyncAlways: false, cpus });
    this.description = `redis-server ${this.server.version}, PUBLISH/SUBSCRIBE (nothing stored, no persistence); ack = the reply to PUBLISH`;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const target = (sub: number): RedisTarget => ({ sub, url: this.server!.url, channel: `sigplane-bench:${run}:${sub}` });
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

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
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
