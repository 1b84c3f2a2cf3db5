/**
 * NATS core publish/subscribe on the bench's own nats-server
 * (nats-server.ts): one connection per master and per receiver, one subject
 * per subscription. Core NATS has no ack; the "ack" here is the PONG of a
 * flush() after the publish, which tells that the server has processed it
 * (nothing is stored).
 */
import crypto from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { alternativePayload, sequenceOfPayload } from '../payload';
import { targetsBySubscription } from '../run-targets';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { startNatsServer, type OwnNatsServer } from './nats-server';
import { OneProcessServer } from './one-process-server';

interface NatsTarget extends MasterTarget, ReceiverTarget {
  servers: string;
  subject: string;
}

export async function closeNats(nc: NatsConnection): Promise<void> {
  if (!nc.isClosed()) await nc.close();
}

/** The server's version, as it says in its INFO. */
export async function natsServerVersion(servers: string): Promise<string> {
  const nc = await connect({ servers });
  const version = nc.info?.version ?? 'unknown';
  await closeNats(nc);
  return version;
}

export class NatsAdapter extends OneProcessServer<OwnNatsServer> implements SystemAdapter {
  readonly name = 'nats' as const;
  readonly durability = 'not durable' as const;
  description = 'nats-server, core publish/subscribe (nothing stored); ack = PONG of flush() after each publish';

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startNatsServer({ jetStream: false, cpus });
    this.description = `nats-server ${await natsServerVersion(this.server.url)}, core publish/subscribe (nothing stored); ack = PONG of flush() after each publish`;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    return targetsBySubscription(subscriptions, receiversPerSubscription, (sub): NatsTarget => ({
      sub,
      servers: this.server!.url,
      subject: `sigplane-bench.${run}.${sub}`,
    }));
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as NatsTarget;
    const nc = await connect({ servers: t.servers });
    return {
      prepare() {},
      resent: 0,
      send(sequence) {
        nc.publish(t.subject, alternativePayload(t.sub, sequence));
        nc.flush().then(
          () => events.onAck(sequence),
          () => events.onRefused(sequence, 'FLUSH_FAILED'),
        );
      },
      close: () => closeNats(nc),
    };
  }
}

export const openNatsReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as NatsTarget;
  const nc = await connect({ servers: t.servers });
  nc.subscribe(t.subject, { callback: (_error, msg) => onDelivery(sequenceOfPayload(msg.data)) });
  await nc.flush(); // the server has the subscription before anything is published
  return { close: () => closeNats(nc) };
};
