/**
 * Redis Streams on the bench's own redis-server with the append-only file
 * fsynced before every reply (redis-server.ts: `appendonly yes`,
 * `appendfsync always`): one stream per subscription. A master XADDs each
 * signal (its ack is XADD's reply, sent after the fsync); each receiver
 * has its own connection and reads with XREAD BLOCK from the last id it
 * got. The run's streams are deleted after it.
 */
import crypto from 'node:crypto';
import { alternativePayload, sequenceOfPayload } from '../payload';
import { targetsBySubscription } from '../run-targets';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { openRedis, startRedisServer, type OwnRedisServer } from './redis-server';
import { OneProcessServer } from './one-process-server';

interface StreamTarget extends MasterTarget, ReceiverTarget {
  url: string;
  key: string;
}

/** An XREAD reply: [[key, [[id, [field, value, ...]], ...]]], or null. */
type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

export class RedisStreamsAdapter extends OneProcessServer<OwnRedisServer> implements SystemAdapter {
  readonly name = 'redis-streams' as const;
  readonly durability = 'durable' as const;
  description = 'redis-server, Streams with appendfsync always; ack = the reply to XADD (after the fsync); receivers XREAD BLOCK from their last id';

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startRedisServer({ appendFsyncAlways: true, cpus });
    this.description =
      `redis-server ${this.server.version}, Streams, appendonly yes, appendfsync always (no background rewrite); ` +
      'ack = the reply to XADD (after the fsync); receivers XREAD BLOCK from their last id';
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    return targetsBySubscription(subscriptions, receiversPerSubscription, (sub): StreamTarget => ({
      sub,
      url: this.server!.url,
      key: `sigplane-bench:${run}:${sub}`,
    }));
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as StreamTarget;
    const redis = await openRedis(t.url);
    return {
      prepare() {},
      resent: 0,
      send(sequence) {
        redis.xadd(t.key, '*', 'd', alternativePayload(t.sub, sequence)).then(
          () => events.onAck(sequence),
          () => events.onRefused(sequence, 'XADD_FAILED'),
        );
      },
      async close() {
        redis.disconnect();
      },
    };
  }

  async finishRun(targets: RunTargets): Promise<void> {
    const redis = await openRedis(this.server!.url);
    try {
      await redis.del(...targets.masters.map((m) => (m as StreamTarget).key));
    } finally {
      redis.disconnect();
    }
  }
}

export const openRedisStreamsReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as StreamTarget;
  const redis = await openRedis(t.url);
  let closing = false;
  const readFrom = async (lastId: string): Promise<void> => {
    while (!closing) {
      const reply = (await redis.xreadBuffer('BLOCK', 0, 'STREAMS', t.key, lastId)) as XReadReply;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          onDelivery(sequenceOfPayload(fields[1]));
          lastId = id.toString();
        }
      }
    }
  };
  readFrom('0-0').catch((error: Error) => {
    if (!closing) throw error;
  });
  return {
    async close() {
      closing = true;
      redis.disconnect();
    },
  };
};
