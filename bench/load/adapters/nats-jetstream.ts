/**
 * NATS JetStream with file storage on the bench's own nats-server
 * (nats-server.ts, `-js`): one stream per run with a subject per
 * subscription. A master publishes through JetStream; its ack is the
 * stream's PubAck, sent once the message is stored. Each receiver has its
 * own push consumer on its subscription's subject, from the first message,
 * with ack policy "all", and acks every `ackEvery`-th delivery (which acks
 * everything before it), as sigplane's receivers send their cursor.
 *
 * nats-server 2.9 writes each message to the stream's file before the
 * PubAck but does not fsync it: the file store syncs in the background on a
 * timer, and 2.9 has no setting to sync each message (it rejects
 * `sync_interval`, which 2.10 added). Stored, then, is "survives the
 * server's crash", not "survives the machine's".
 */
import crypto from 'node:crypto';
import { connect, consumerOpts, createInbox, StorageType, type NatsConnection } from 'nats';
import { alternativePayload, sequenceOfPayload } from '../payload';
import { targetsBySubscription } from '../run-targets';
import type { MasterEvents, MasterLink, MasterTarget, ReceiverOpener, ReceiverTarget, RunTargets, SystemAdapter } from '../system';
import { closeNats, natsServerVersion } from './nats';
import { startNatsServer, type OwnNatsServer } from './nats-server';
import { OneProcessServer } from './one-process-server';

/** Deliveries a receiver may hold unacked before the server waits (far above `ackEvery`: the bench measures the stream, not this window). */
const maxAckPending = 10_000;

interface JetStreamTarget extends MasterTarget, ReceiverTarget {
  servers: string;
  stream: string;
  subject: string;
  ackEvery: number;
}

export class NatsJetStreamAdapter extends OneProcessServer<OwnNatsServer> implements SystemAdapter {
  readonly name = 'nats-jetstream' as const;
  readonly durability = 'crash-safe' as const;
  description = '';

  constructor(private readonly receiverAckEvery: number) {
    super();
    this.description = this.describe('2.x');
  }

  private describe(version: string): string {
    return (
      `nats-server ${version} JetStream, file storage, one stream, a subject per subscription; ack = the stream's PubAck; ` +
      `each receiver a push consumer (ack all) acking every ${this.receiverAckEvery} deliveries; ` +
      'each message is written to the file before the ack, fsynced later on a timer (2.9 has no per-message sync setting)'
    );
  }

  async start(cpus: string | null = null): Promise<void> {
    this.server = await startNatsServer({ jetStream: true, cpus });
    this.description = this.describe(await natsServerVersion(this.server.url));
  }

  async prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets> {
    const run = crypto.randomBytes(4).toString('hex');
    const stream = `sigplane_bench_${run}`;
    const nc = await connect({ servers: this.server!.url });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [`sigplane-bench.${run}.*`], storage: StorageType.File, num_replicas: 1 });
    } finally {
      await closeNats(nc);
    }
    return targetsBySubscription(subscriptions, receiversPerSubscription, (sub): JetStreamTarget => ({
      sub,
      servers: this.server!.url,
      stream,
      subject: `sigplane-bench.${run}.${sub}`,
      ackEvery: this.receiverAckEvery,
    }));
  }

  async openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink> {
    const t = target as JetStreamTarget;
    const nc = await connect({ servers: t.servers });
    const js = nc.jetstream();
    return {
      prepare() {},
      resent: 0,
      send(sequence) {
        js.publish(t.subject, alternativePayload(t.sub, sequence)).then(
          () => events.onAck(sequence),
          (error: Error) => events.onRefused(sequence, error.message.slice(0, 40) || 'PUBLISH_FAILED'),
        );
      },
      close: () => closeNats(nc),
    };
  }

  /** Deletes the run's stream (and its consumers) once its connections are closed. */
  async finishRun(targets: RunTargets): Promise<void> {
    const stream = (targets.masters[0] as JetStreamTarget | undefined)?.stream;
    if (stream === undefined || this.server === null) return;
    const nc = await connect({ servers: this.server.url });
    try {
      await (await nc.jetstreamManager()).streams.delete(stream);
    } finally {
      await closeNats(nc);
    }
  }
}

export const openNatsJetStreamReceiver: ReceiverOpener = async (target, onDelivery) => {
  const t = target as JetStreamTarget;
  const nc: NatsConnection = await connect({ servers: t.servers });
  const opts = consumerOpts();
  opts.bindStream(t.stream);
  opts.filterSubject(t.subject);
  opts.deliverTo(createInbox());
  opts.deliverAll();
  opts.ackAll();
  opts.manualAck();
  opts.maxAckPending(maxAckPending);
  let unacked = 0;
  opts.callback((error, msg) => {
    if (error !== null || msg === null) return;
    onDelivery(sequenceOfPayload(msg.data));
    if (++unacked >= t.ackEvery) {
      unacked = 0;
      msg.ack();
    }
  });
  await nc.jetstream().subscribe(t.subject, opts); // resolves once the consumer exists
  return { close: () => closeNats(nc) };
};
