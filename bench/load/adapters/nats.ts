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
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { startNatsServer, type OwnNatsServer } from './nats-server';

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

export class NatsAdapter implements SystemAdapter {
  readonly name = 'nats' as const;
  readonly durability = 'not durable' as const;
  description = 'nats-server, core publish/subscribe (nothing stored); ack = PONG of flush() after each publish';
  private server: OwnNatsServer | null = null;

  get serverPid(): number | null {
    return this.server?.pid ?? null;
  }

  serverProcessIds(): number[] {
    return this.server === null ? [] : [this.server.pid];
  }

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startNatsServer({ jetStream: false, cpus });
    this.description = `nats-server ${await natsServerVersion(this.server.url)}, core publish/subscribe (nothing stored); ack = PONG of flush() after each publish`;
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const target = (sub: number): NatsTarget => ({ sub, servers: this.server!.url, subject: `sigplane-bench.${run}.${sub}` });
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

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }
}

export const openNatsReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as NatsTarget;
  const nc = await connect({ servers: t.servers });
  nc.subscribe(t.subject, { callback: (_error, msg) => onDelivery(sequenceOfPayload(msg.data)) });
  await nc.flush(); // the server has the subscription before anything is published
  return { close: () => closeNats(nc) };
};
