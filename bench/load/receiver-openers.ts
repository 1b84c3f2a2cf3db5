/** The receiver side of every adapter, by system name (what a receiver worker thread loads). */
import { openNatsReceiver } from './adapters/nats';
import { openRedisReceiver } from './adapters/redis';
import { openSigplaneReceiver } from './adapters/sigplane';
import { openWsRelayReceiver } from './adapters/ws-relay';
import type { ReceiverOpener } from './system';
import type { SystemName } from './workload';

export const receiverOpeners: Record<SystemName, ReceiverOpener> = {
  sigplane: openSigplaneReceiver,
  nats: openNatsReceiver,
  redis: openRedisReceiver,
  'ws-relay': openWsRelayReceiver,
};
