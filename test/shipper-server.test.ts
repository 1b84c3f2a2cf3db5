/**
 * The shipper beside a real server: journals written by real shard worker
 * threads (signals from a master over WebSockets, cursors from receiver
 * acks, security events from a forged signal), shipped while the server
 * runs and across a server restart (the shards close and reopen their
 * journals under the shipper's read-only connections).
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShipper, type Shipper } from '../persistence/shipper/shipper';
import { deliveryAckFrame, v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import { openMaster, openReceiver, send, waitForDeliveries } from './support/e2e';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';

const shardCount = 2;
let t: TestServer;
let shipper: Shipper;

beforeAll(async () => {
  t = await startTestServer({ shardCount });
  shipper = startShipper({
    databaseUrl: t.databaseUrl,
    dataDir: t.dataDir,
    shardCount,
    nodeId: 'node-e2e',
    limits: { shipIntervalMs: 20, shipRetryInitialMs: 50, shipRetryMaxMs: 300, shipReconnectMaxMs: 300, shipStatusIntervalMs: 30 },
  });
});
afterAll(async () => {
  await shipper?.stop();
  await t?.close();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(shipper.status())}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function query<R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function shippedSequences(subscriptionId: string): Promise<number[]> {
  const rows = await query<{ seq: string }>('SELECT sequence::text AS seq FROM signals WHERE subscription_id = $1 ORDER BY signals.sequence', [subscriptionId]);
  return rows.map((r) => Number(r.seq));
}

describe('shipper beside a running server', () => {
  let subs: TestSubscription[];

  it('ships what the shards journal: signals, receiver cursors, security events', async () => {
    subs = [await t.subscription(), await t.subscription()];
    for (const s of subs) {
      const receiver = await openReceiver(t, s.receiverToken, 0);
      const master = await openMaster(t, s);
      for (let seq = 1; seq <= 30; seq++) {
        const frame =
          seq % 2 === 1
            ? v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq, { symbol: 'XAUUSD', price: 2345.67 }))
            : v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, seq, { positionId: 9000 + seq, magic: 42 }));
        expect(await send(master, frame)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
      }
      await waitForDeliveries(receiver, 30);
      receiver.send(deliveryAckFrame(30));
      // A forged signal: refused, and journaled as a security event.
      const signed = v1Fields(s.subscriptionId, 31);
      const forged = await send(master, v1Frame(s.macSecretHex, signed, { ...signed, price: 9.99 }));
      expect(forged).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
      await Promise.all([master.close(), receiver.close()]);
    }

    for (const s of subs) await until('the signals in Postgres', async () => (await shippedSequences(s.subscriptionId)).length === 30);
    for (const s of subs) {
      expect(await shippedSequences(s.subscriptionId)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const [v1, v2] = await query<{ symbol: string; price: number; signing_version: number; position_id: string | null; magic: string; content: Buffer }>(
        'SELECT symbol, price, signing_version, position_id::text, magic, content FROM signals WHERE subscription_id = $1 AND sequence IN (1, 2) ORDER BY sequence',
        [s.subscriptionId],
      );
      expect(v1).toMatchObject({ symbol: 'XAUUSD', price: 2345.67, signing_version: 1, position_id: null, magic: '' });
      expect(v1.content.toString()).toContain(s.subscriptionId); // the v1 payload the MAC covered
      expect(v2).toMatchObject({ signing_version: 2, position_id: '9002', magic: '42' });
    }
    for (const s of subs) {
      await until('the receiver cursor', async () => {
        const rows = await query<{ sequence: string }>(
          'SELECT sequence::text FROM receiver_cursors WHERE subscription_id = $1 AND receiver_id = $2',
          [s.subscriptionId, s.receiverTokenId],
        );
        return rows[0]?.sequence === '30';
      });
      await until('the security event', async () => {
        const rows = await query<{ n: number }>(
          "SELECT count(*)::int AS n FROM security_events WHERE code = 'SIGNATURE_INVALID' AND subscription_id = $1",
          [s.subscriptionId],
        );
        return rows[0].n === 1;
      });
    }
    const status = shipper.status();
    expect(status.postgresUp).toBe(true);
    expect(status.insertedRows).toBe(status.shippedRows);
  });

  it('keeps shipping across a server restart (the shards reopen their journals)', async () => {
    await t.restart();
    for (const s of subs) {
      const master = await openMaster(t, s);
      for (let seq = 31; seq <= 40; seq++) {
        expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
      }
      await master.close();
    }
    for (const s of subs) {
      await until('the signals after the restart', async () => (await shippedSequences(s.subscriptionId)).length === 40);
      expect(await shippedSequences(s.subscriptionId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    }
    await until('no lag', async () => shipper.status().lagRows === 0);
    const status = shipper.status();
    expect(status.insertedRows).toBe(status.shippedRows);
    expect(status.restarts).toBe(0);
  });
});
