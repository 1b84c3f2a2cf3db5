/** The layout most adapters use: one master per subscription, and its receivers, each given the same target as their master. */
import type { MasterTarget, ReceiverTarget, RunTargets } from './system';

export function targetsBySubscription<T extends MasterTarget & ReceiverTarget>(
  subscriptions: number,
  receiversPerSubscription: number,
  target: (sub: number) => T,
): RunTargets {
  const masters = Array.from({ length: subscriptions }, (_, sub) => target(sub));
  const receivers = masters.flatMap((m) => Array.from({ length: receiversPerSubscription }, () => target(m.sub)));
  return { masters, receivers };
}
