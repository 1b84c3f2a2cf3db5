/**
 * The public v1 signing vectors (test/fixtures/signing-v1.json, made with an
 * independent implementation) against a live server, EVERY one with its own
 * subscription id and secret imported as a provider moving an existing
 * Master EA would (createSubscriptionWithMacKey, importMacKey: issue 15
 * item 9). Four of the five secrets are not in the format of a sigplane key
 * ("s", "k3y-For-Subscription-A", ...): without the legacy v1 opt-in each
 * is refused INVALID_MAC_KEY (the default denies), with it each is taken as
 * the EA's v1 secret, v1 only. The fifth is a sigplane-format key and
 * needs no opt-in.
 *
 * Each vector's frame is sent exactly as the vector gives it, signature
 * included (nothing is signed again here): it is accepted and delivered
 * with the vector's fields; the same frame with one byte of its MAC changed
 * is refused SIGNATURE_INVALID first. Two things are set up around it,
 * honestly:
 * - freshness: the vectors were generated on 2026-01-01, so the
 *   subscription's TTL is set to cover their age (the server has no clock
 *   of its own to set back);
 * - the sequence: the subscription is brought to the vector's sequence - 1
 *   by a snapshot the test signs (v2). A v2 snapshot cannot be signed with
 *   a v1-only secret, so there it is signed with a generated key made just
 *   before the import ("the bridge"), which stays valid for the import's
 *   overlap; the vector's secret is the current key either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macV2, encodeFrame, encodeSnapshotBody } from '@sigplane/protocol';
import { ConfigError } from '../persistence/pg/config-errors';
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

/** A snapshot with no positions at `sequence`, signed (v2) with a v2 key's bytes. */
function emptySnapshot(subscriptionId: string, sequence: number, keyId: string, key: Buffer): Uint8Array {
  const body = encodeSnapshotBody({ subscriptionId, sequenceNumber: sequence, generatedAt: Date.now(), positions: [] });
  return encodeFrame({ snapshotFromMaster: { body, keyId, mac: macV2(key, body) } });
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

/** The vector's frame with one byte of its MAC (one hex pair of the signature) changed. */
function tamperedFrame(v: Vector): Uint8Array {
  const mac = Buffer.from(v.signature, 'hex');
  mac[mac.length >> 1] ^= 0x01;
  return vectorFrame({ ...v, signature: mac.toString('hex') });
}

/** A secret in the format sigplane generates (v1 and v2); any other is imported only as a legacy v1 secret. */
const generatedFormat = (secret: string): boolean => /^[0-9a-f]{64}$/.test(secret);

interface LiveSubscription {
  masterToken: string;
  receiverToken: string;
  lastSequence: number;
}

const hourMs = 3600 * 1000;

describe('the public v1 vectors, live, each with its own secret imported', () => {
  it('accepts every vector exactly as signed and refuses it with one MAC byte changed; a non-sigplane secret needs the legacy v1 opt-in', async () => {
    expect(vectors.length).toBeGreaterThan(0);
    const subscriptions = new Map<string, LiveSubscription>();
    const live: number[] = [];
    for (const [index, v] of vectors.entries()) {
      const legacyV1 = !generatedFormat(v.secret);
      const known = subscriptions.get(v.subscription_id);
      const gap = (known?.lastSequence ?? 0) < v.sequence_number - 1;
      // Without the opt-in, a secret that is not a sigplane key is refused and changes nothing.
      if (legacyV1 && known !== undefined) {
        expect(await refusal(() => t.store.importMacKey(v.subscription_id, { macSecret: v.secret, overlapMs: 0 })), `vector ${index}`).toBe('INVALID_MAC_KEY');
      }
      if (legacyV1 && known === undefined) {
        const code = await refusal(() => t.store.createSubscriptionWithMacKey({ name: 'no opt-in', subscriptionId: v.subscription_id, macSecret: v.secret }));
        expect(code, `vector ${index}`).toBe('INVALID_MAC_KEY');
      }

      let snapshotKey: { keyId: string; key: Buffer } | null = null;
      let keyId: string;
      let subscription = known;
      if (subscription === undefined && !gap) {
        const created = await t.store.createSubscriptionWithMacKey({ name: `vectors ${index}`, subscriptionId: v.subscription_id, macSecret: v.secret, legacyV1 });
        expect(created.legacyV1, `vector ${index}`).toBe(legacyV1);
        subscription = { masterToken: created.masterToken, receiverToken: '', lastSequence: 0 };
        keyId = created.macKeyId;
      } else {
        if (subscription === undefined) {
          const created = await t.store.createSubscription({ name: `vectors ${index}`, subscriptionId: v.subscription_id });
          subscription = { masterToken: created.masterToken, receiverToken: '', lastSequence: 0 };
          snapshotKey = { keyId: created.macKeyId, key: Buffer.from(created.macSecretHex, 'hex') };
        } else if (gap && legacyV1) {
          const bridge = await t.store.rotateMacKey(v.subscription_id, { overlapMs: 0 });
          snapshotKey = { keyId: bridge.keyId, key: Buffer.from(bridge.secretHex, 'hex') };
        }
        const imported = await t.store.importMacKey(v.subscription_id, { macSecret: v.secret, legacyV1, overlapMs: snapshotKey === null ? 0 : hourMs });
        expect(imported.legacyV1, `vector ${index}`).toBe(legacyV1);
        keyId = imported.macKeyId;
      }
      if (gap && snapshotKey === null) snapshotKey = { keyId, key: Buffer.from(v.secret, 'hex') };
      if (known === undefined) {
        await t.store.addAllowedIp(v.subscription_id, '127.0.0.1', {});
        subscription.receiverToken = (await t.store.issueReceiverToken(v.subscription_id, {})).token;
        subscriptions.set(v.subscription_id, subscription);
      }
      // Fresh enough: a TTL a day longer than the vector's age (settings are read when a master connects).
      await t.store.setSubscriptionSettings(v.subscription_id, { ttlMs: Date.now() - v.generated_at + dayMs });

      const receiver = await openReceiver(t, subscription.receiverToken, subscription.lastSequence === 0 ? null : subscription.lastSequence);
      const master = await openWelcomed(t.masterUrl, subscription.masterToken);
      const welcome = master.frames.find((f) => f.kind === 'welcome');
      expect(welcome?.kind === 'welcome' ? Number(welcome.welcome.lastSequence) : -1, `vector ${index}`).toBe(subscription.lastSequence);
      if (snapshotKey !== null) master.send(emptySnapshot(v.subscription_id, v.sequence_number - 1, snapshotKey.keyId, snapshotKey.key));
      expect(await send(master, tamperedFrame(v)), `vector ${index}`).toEqual({ kind: 'reject', code: 'SIGNATURE_INVALID', sequence: v.sequence_number });
      expect(await send(master, vectorFrame(v)), `vector ${index}`).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: v.sequence_number });

      const delivery = await receiver.waitFor((f) => f.kind === 'delivery' && Number(f.delivery.sequenceNumber) === v.sequence_number);
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
      subscription.lastSequence = v.sequence_number;
      live.push(index);
      await master.close();
      await receiver.close();
    }
    // Every vector ran live, with its own secret.
    expect(live).toEqual(vectors.map((_, i) => i));
    expect(vectors.filter((v) => !generatedFormat(v.secret)).length).toBeGreaterThan(0);
  });
});
