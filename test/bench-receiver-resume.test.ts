/**
 * The load bench's sigplane receiver (bench/load/adapters/sigplane.ts)
 * behaves as a real receiver when the server closes it: it opens a new
 * connection and resumes from the last sequence it got, so what follows is
 * delivered, not counted as lost, and it says how often that happened. The
 * close here is an operator's isolation (4003; reconnecting is refused
 * until the lift), the way a real server closes a receiver; a slow
 * receiver's BACKPRESSURE close takes the same path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSigplaneReceiver, type SigplaneReceiverTarget } from '../bench/load/adapters/sigplane';
import { openMaster, range, send, sleep } from './support/e2e';
import { until } from './support/fault-server-process';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import type { WireClient } from './support/wire-client';

const closeIsolated = 4003;
/** Longest wait for a delivery or a close: liveness, not speed. */
const waitMs = 15_000;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ control: true });
});

afterAll(async () => {
  await t?.close();
});

async function publish(master: WireClient, s: TestSubscription, from: number, to: number): Promise<void> {
  for (const sequence of range(from, to)) {
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, sequence)))).toMatchObject({ kind: 'ack', sequence });
  }
}

describe('the bench receiver', () => {
  it('resumes from its last sequence on a new connection when the server closes it, and counts it', async () => {
    const s = await t.subscription();
    const target: SigplaneReceiverTarget = { sub: 0, url: t.receiverUrl, token: s.receiverToken, ackEvery: 1, ackIntervalMs: 0 };
    const delivered: number[] = [];
    const receiver = await openSigplaneReceiver(target, (sequence) => delivered.push(sequence));
    try {
      const master = await openMaster(t, s);
      await publish(master, s, 1, 3);
      await until('3 deliveries', () => delivered.length >= 3, waitMs);
      expect(receiver.reconnects).toBe(0);

      await t.store.isolateSubscription(s.subscriptionId, { reason: 'bench receiver test' });
      expect(await master.waitForClose(waitMs)).toBe(closeIsolated);
      await until('the receiver was closed', () => (receiver.reconnects ?? 0) >= 1, waitMs);
      await sleep(300); // a few refused reopen attempts while isolated
      await t.store.liftIsolation(s.subscriptionId, { reason: 'bench receiver test' });

      const again = await openMaster(t, s);
      await publish(again, s, 4, 6);
      await until('6 deliveries', () => delivered.length >= 6, waitMs);
      await again.close();
      expect(delivered).toEqual(range(1, 6));
      expect(receiver.reconnects).toBe(1);
    } finally {
      await receiver.close();
    }
  });
});
