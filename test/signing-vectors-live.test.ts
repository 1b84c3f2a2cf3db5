/**
 * The public v1 signing vectors (test/fixtures/signing-v1.json, made with an
 * independent implementation) against a live server, each with its own
 * subscription id and key imported as a provider moving an existing Master
 * EA would (createSubscriptionWithMacKey, importMacKey: issue 15 item 9).
 *
 * Each vector's frame is sent exactly as the vector gives it, signature
 * included (nothing is signed again here): it is accepted and delivered
 * with the vector's fields. Two things are set up around it, honestly:
 * - freshness: the vectors were generated on 2026-01-01, so the
 *   subscription's TTL is set to cover their age (the server has no clock
 *   of its own to set back);
 * - the sequence: the subscription is brought to the vector's sequence - 1
 *   by a snapshot the test signs (v2) with the same imported key.
 * A vector whose secret is not in the format of a sigplane MAC key (64
 * lowercase hex characters) cannot be imported: it is refused
 * INVALID_MAC_KEY, which this asserts too (test/signing-v1.test.ts checks
 * those vectors offline).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macV2 } from '../engine/signing-v2';
import { ConfigError } from '../persistence/pg/config-store';
import { encodeFrame, encodeSnapshotBody } from '../proto/codec';
import { openReceiver, openWelcomed, send } from './support/e2e';
import { loadSigningVectors, type SigningVector } from './support/signing-vectors';
import { startTestServer, type TestServer } from './support/test-server';

type Vector = SigningVector;

const vectors = loadSigningVectors().cases;
const dayMs = 24 * 3600 * 1000;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ shardCount: 1 });
});
afterAll(async () => {
  await t?.close();
});

/** The vector's own SignalV1 frame: its fields and its signature, as given. */
function vectorFrame(v: Vector): Uint8Array {
  return encodeFrame({
    signalV1: {
      subscriptionId: v.subscription_id,
      sequenceNumber: v.sequence_number,
      generatedAt: v.generated_at,
      symbol: v.symbol,
      orderType: v.order_type,
      volume: v.volume,
      price: v.price,
      signature: v.signature,
    },
  });
}

/** A snapshot with no positions at `sequence`, signed (v2) with the key's bytes. */
function emptySnapshot(subscriptionId: string, sequence: number, keyId: string, keyHex: string): Uint8Array {
  const body = encodeSnapshotBody({ subscriptionId, sequenceNumber: sequence, generatedAt: Date.now(), positions: [] });
  return encodeFrame({ snapshotFromMaster: { body, keyId, mac: macV2(Buffer.from(keyHex, 'hex'), body) } });
}

async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ConfigError) return error.code;
    throw error;
  }
  return 'imported';
}

describe('the public v1 vectors, live, with their own keys imported', () => {
  it('accepts each vector whose key is importable, exactly as signed; refuses the others\' keys INVALID_MAC_KEY', async () => {
    expect(vectors.length).toBeGreaterThan(0);
    const subscriptions = new Map<string, { masterToken: string; receiverToken: string }>();
    const live: number[] = [];
    const refused: number[] = [];
    for (const [index, v] of vectors.entries()) {
      const known = subscriptions.get(v.subscription_id);
      let keyId: string;
      if (known === undefined) {
        const outcome = { created: null as null | { masterToken: string; macKeyId: string } };
        const code = await refusal(async () => {
          outcome.created = await t.store.createSubscriptionWithMacKey({ name: `vectors ${v.subscription_id.slice(0, 8)}`, subscriptionId: v.subscription_id, macSecretHex: v.secret });
        });
        if (code !== 'imported') {
          expect(code, `vector ${index}`).toBe('INVALID_MAC_KEY');
          refused.push(index);
          continue;
        }
        const created = outcome.created!;
        await t.store.addAllowedIp(v.subscription_id, '127.0.0.1', {});
        const receiverToken = (await t.store.issueReceiverToken(v.subscription_id, {})).token;
        subscriptions.set(v.subscription_id, { masterToken: created.masterToken, receiverToken });
        keyId = created.macKeyId;
      } else {
        const outcome = { keyId: '' };
        const code = await refusal(async () => {
          outcome.keyId = (await t.store.importMacKey(v.subscription_id, { macSecretHex: v.secret, overlapMs: 0 })).macKeyId;
        });
        if (code !== 'imported') {
          expect(code, `vector ${index}`).toBe('INVALID_MAC_KEY');
          refused.push(index);
          continue;
        }
        keyId = outcome.keyId;
      }
      const { masterToken, receiverToken } = subscriptions.get(v.subscription_id)!;
      // Fresh enough: a TTL a day longer than the vector's age (settings are read when a master connects).
      await t.store.setSubscriptionSettings(v.subscription_id, { ttlMs: Date.now() - v.generated_at + dayMs });

      const receiver = await openReceiver(t, receiverToken, null);
      const master = await openWelcomed(t.masterUrl, masterToken);
      const welcome = master.frames.find((f) => f.kind === 'welcome');
      const last = welcome?.kind === 'welcome' ? Number(welcome.welcome.lastSequence) : 0;
      if (last < v.sequence_number - 1) master.send(emptySnapshot(v.subscription_id, v.sequence_number - 1, keyId, v.secret));
      expect(await send(master, vectorFrame(v)), `vector ${index}`).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: v.sequence_number });

      const delivery = await receiver.waitFor((f) => f.kind === 'delivery');
      if (delivery.kind !== 'delivery') throw new Error('unreachable');
      const d = delivery.delivery;
      expect({
        sequence: Number(d.sequenceNumber),
        signingVersion: d.signingVersion,
        generatedAt: Number(d.signal!.generatedAt),
        symbol: d.signal!.symbol,
        orderType: d.signal!.orderType,
        volume: d.signal!.volume,
        price: d.signal!.price,
      }).toEqual({
        sequence: v.sequence_number,
        signingVersion: 1,
        generatedAt: v.generated_at,
        symbol: v.symbol,
        orderType: v.order_type,
        volume: Number(v.volume.toFixed(5)),
        price: Number(v.price.toFixed(5)),
      });
      live.push(index);
      await master.close();
      await receiver.close();
    }
    // Every vector is accounted for, and at least one ran live.
    expect([...live, ...refused].sort()).toEqual(vectors.map((_, i) => i));
    expect(live.length).toBeGreaterThan(0);
  });
});
