/**
 * NATS core publish/subscribe on the machine's nats-server (127.0.0.1:4222
 * unless NATS_URL says otherwise): one connection per master and per
 * receiver, one subject per subscription. Core NATS has no ack; the "ack"
 * here is the PONG of a flush() after the publish, which tells that the
 * server has processed it (nothing is stored).
 */
import crypto from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { pidByCommand } from '../process-stats';
import { alternativePayload, sequenceOfPayload } from '../payload';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';

const natsUrl = (): string => process.env.NATS_URL ?? '127.0.0.1:4222';

interface NatsTarget extends MasterTarget, ReceiverTarget {
  servers: string;
  subject: string;
}

export class NatsAdapter implements SystemAdapter {
  readonly name = 'nats' as const;
  readonly description = `nats-server (core pub/sub, no persistence) at ${natsUrl()}; ack = PONG of flush() after each publish`;
  serverPid: number | null = null;

  async start(): Promise<void> {
    const nc = await connect({ servers: natsUrl() }).catch((error: Error) => {
      throw new Error(`NATS at ${natsUrl()} is not reachable: ${error.message}`);
    });
    await nc.close();
    this.serverPid = pidByCommand('nats-server');
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const target = (sub: number): NatsTarget => ({ sub, servers: natsUrl(), subject: `sigplane-bench.${run}.${sub}` });
    const masters = Array.from({ length: subscriptions }, (_, sub) => target(sub));
    const receivers = masters.flatMap((m) => Array.from({ length: receiversPerSubscription }, () => target(m.sub)));
    return { masters, receivers };
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

  async stop(): Promise<void> {}
}

async function closeNats(nc: NatsConnection): Promise<void> {
  if (!nc.isClosed()) await nc.close();
}

export const openNatsReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as NatsTarget;
  const nc = await connect({ servers: t.servers });
  nc.subscribe(t.subject, { callback: (_error, msg) => onDelivery(sequenceOfPayload(msg.data)) });
  await nc.flush(); // the server has the subscription before anything is published
  return { close: () => closeNats(nc) };
};
