/** The receiver side of every adapter, by system name (what a receiver worker thread loads). */
import { openNatsReceiver } from './adapters/nats';
import { openNatsJetStreamReceiver } from './adapters/nats-jetstream';
import { openPostgresNotifyReceiver } from './adapters/postgres-notify';
import { openRedisReceiver } from './adapters/redis';
import { openRedisStreamsReceiver } from './adapters/redis-streams';
import { openSigplaneReceiver } from './adapters/sigplane';
import { openRelayReceiver } from './adapters/relay';
import type { ReceiverOpener } from './system';
import type { SystemName } from './workload';

export const receiverOpeners: Record<SystemName, ReceiverOpener> = {
  sigplane: openSigplaneReceiver,
  'sigplane-sync-normal': openSigplaneReceiver,
  nats: openNatsReceiver,
  'nats-jetstream': openNatsJetStreamReceiver,
  redis: openRedisReceiver,
  'redis-streams': openRedisStreamsReceiver,
  'postgres-notify': openPostgresNotifyReceiver,
  'ws-relay': openRelayReceiver,
  floor: openRelayReceiver,
  'floor-sync-normal': openRelayReceiver,
};
