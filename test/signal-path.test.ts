/**
 * The signal path end to end, over real WebSockets, real shard threads,
 * real journals and a real Postgres: accept and deliver, duplicates and
 * replays, tampering, freshness, forged and genuine gaps, resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectCodeName, safeInteger } from '@sigplane/protocol';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import { snapshotFrame, v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import {
  answerFor,
  deliveredSequences,
  openMaster,
  openReceiver,
  range,
  send,
  sleep,
  states,
  waitForDeliveries,
} from './support/e2e';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t?.close();
});

async function freshSubscription(): Promise<TestSubscription> {
  return t.subscription();
}

describe('accept and deliver', () => {
  it('acks v1 signals after journaling and delivers them to every receiver in order, once', async () => {
    const s = await freshSubscription();
    const second = await t.receiverToken(s.subscriptionId);
    const r1 = await openReceiver(t, s.receiverToken, 0);
    const r2 = await openReceiver(t, second.token, 0);
    const master = await openMaster(t, s);
    for (let seq = 1; seq <= 20; seq++) {
      const answer = await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
      expect(answer).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: seq });
    }
    expect(await waitForDeliveries(r1, 20)).toEqual(range(1, 20));
    expect(await waitForDeliveries(r2, 20)).toEqual(range(1, 20));
    const first = r1.ofKind('delivery')[0]!.delivery;
    expect(first.signingVersion).toBe(1);
    expect(first.signal?.symbol).toBe('EURUSD');
    expect(first.signal?.price).toBe(1.08765);
    await Promise.all([master.close(), r1.close(), r2.close()]);
  });

  it('carries every v2 field to receivers', async () => {
    const s = await freshSubscription();
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    const open = v2Body(s.subscriptionId, 1, { action: 1, positionId: 777, stopLoss: 1.07, takeProfit: 1.1, magic: 42 });
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, open))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    const modify = v2Body(s.subscriptionId, 2, { action: 2, positionId: 777, stopLoss: 1.075, takeProfit: 1.11 });
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, modify))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    await waitForDeliveries(receiver, 2);
    const [d1, d2] = receiver.ofKind('delivery').map((f) => f.delivery);
    expect(d1!.signingVersion).toBe(2);
    expect(d1!.signal).toMatchObject({ action: 1, stopLoss: 1.07, takeProfit: 1.1 });
    expect(safeInteger(d1!.signal!.positionId)).toBe(777);
    expect(safeInteger(d1!.signal!.magic)).toBe(42);
    expect(d2!.signal).toMatchObject({ action: 2, stopLoss: 1.075, takeProfit: 1.11 });
    await Promise.all([master.close(), receiver.close()]);
  });
});

describe('v1 executes what was signed', () => {
  it('delivers volume and price as the %.5f the MAC covered, not unsigned extra digits', async () => {
    const s = await freshSubscription();
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    const fields = v1Fields(s.subscriptionId, 1, { volume: 0.1000049, price: 1.0876549 });
    expect(await send(master, v1Frame(s.macSecretHex, fields))).toMatchObject({ status: 'ACCEPTED' });
    await waitForDeliveries(receiver, 1);
    const d = receiver.ofKind('delivery')[0]!.delivery;
    expect(d.signal).toMatchObject({ volume: 0.1, price: 1.08765 });
    await Promise.all([master.close(), receiver.close()]);
  });
});

describe('duplicates and replays', () => {
  it('acks an exact copy as DUPLICATE without delivering it again, and refuses other content as REPLAY', async () => {
    const s = await freshSubscription();
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    const frames = range(1, 3).map((seq) => v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    for (const frame of frames) await send(master, frame);
    expect(await send(master, frames[1]!)).toEqual({ kind: 'ack', status: 'DUPLICATE', sequence: 2 });
    const other = v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2, { volume: 0.2 }));
    expect(await send(master, other)).toEqual({ kind: 'reject', code: 'REPLAY', sequence: 2 });
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 4)))).toMatchObject({ status: 'ACCEPTED' });
    await waitForDeliveries(receiver, 4);
    await sleep(100);
    expect(deliveredSequences(receiver)).toEqual([1, 2, 3, 4]);
    await Promise.all([master.close(), receiver.close()]);
  });
});

describe('authenticity', () => {
  it('refuses a v1 signal with any one signed field changed after signing', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    const signed = v1Fields(s.subscriptionId, 1);
    const tampered: Partial<typeof signed>[] = [
      { subscriptionId: s.subscriptionId.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) },
      { sequence: 2 },
      { generatedAt: Number(signed.generatedAt) - 1 },
      { symbol: 'GBPUSD' },
      { orderType: 1 },
      { volume: 0.11 },
      { price: 1.08766 },
    ];
    for (const change of tampered) {
      const answer = await send(master, v1Frame(s.macSecretHex, signed, { ...signed, ...change }));
      expect(answer, JSON.stringify(change)).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    }
    const flipped = v1Frame(s.macSecretHex, signed, signed, 'f'.repeat(64));
    expect(await send(master, flipped)).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    // A signal signed with another subscription's key.
    const other = await freshSubscription();
    expect(await send(master, v1Frame(other.macSecretHex, signed))).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    // Nothing of that moved the sequence: 1 is still next.
    expect(await send(master, v1Frame(s.macSecretHex, signed))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 1 });
    await master.close();
  });

  it('refuses a v2 signal with any body byte changed, an unknown key id or a short mac', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    const body = v2Body(s.subscriptionId, 1);
    const length = v2Frame(s.macKey, s.macKeyId, body).length;
    for (let i = 0; i < 40; i++) {
      const frame = v2Frame(s.macKey, s.macKeyId, body, (bytes) => {
        bytes[i % bytes.length]! ^= 0x01;
        return bytes;
      });
      const answer = await send(master, frame);
      expect(answer.kind, `byte ${i} of ${length}`).toBe('reject');
      expect((answer as { code: string }).code).toBe('SIGNATURE_INVALID');
    }
    const unknownKey = v2Frame(s.macKey, 'k1-00000000', body);
    expect(await send(master, unknownKey)).toMatchObject({ kind: 'reject', code: 'UNKNOWN_KEY' });
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, body))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    await master.close();
  });

  it('refuses a signal signed for another subscription with this one\'s key as WRONG_SUBSCRIPTION', async () => {
    const s = await freshSubscription();
    const other = await freshSubscription();
    const master = await openMaster(t, s);
    const answer = await send(master, v1Frame(s.macSecretHex, v1Fields(other.subscriptionId, 1)));
    expect(answer).toMatchObject({ kind: 'reject', code: 'WRONG_SUBSCRIPTION' });
    await master.close();
  });
});

describe('freshness and field rules', () => {
  it('refuses stale and future signals and the seed\'s invalid fields, without moving the sequence', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    const now = Date.now();
    const cases: [Partial<ReturnType<typeof v1Fields>>, string][] = [
      [{ generatedAt: now - 61_000 }, 'STALE'],
      [{ generatedAt: now + 5_000 }, 'FUTURE'],
      [{ symbol: 'EUR/USD' }, 'INVALID_FIELD'],
      [{ symbol: 'A'.repeat(21) }, 'INVALID_FIELD'],
      [{ volume: 0 }, 'INVALID_FIELD'],
      [{ volume: 100.5 }, 'INVALID_FIELD'],
      [{ price: -1 }, 'INVALID_FIELD'],
      [{ sequence: 0 }, 'INVALID_FIELD'],
      [{ sequence: '9007199254740993' }, 'SEQUENCE_OUT_OF_RANGE'],
    ];
    for (const [change, code] of cases) {
      const fields = v1Fields(s.subscriptionId, 1, change);
      expect(await send(master, v1Frame(s.macSecretHex, fields)), JSON.stringify(change)).toMatchObject({ kind: 'reject', code });
    }
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)))).toMatchObject({ status: 'ACCEPTED', sequence: 1 });
    await master.close();
  });

  it('answers MALFORMED to bytes that are not a frame and to text messages', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    expect(await send(master, new Uint8Array([0xff, 0xff, 0xff, 0x01]))).toMatchObject({ kind: 'reject', code: 'MALFORMED' });
    expect(await send(master, 'hello')).toMatchObject({ kind: 'reject', code: 'MALFORMED' });
    await master.close();
  });

  it('closes a connection that sends a frame over the size limit', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    master.send(new Uint8Array(300 * 1024));
    const answer = await master.waitFor((f) => f.kind === 'reject');
    expect(answer.kind === 'reject' && rejectCodeName(answer.reject.code)).toBe('FRAME_TOO_LARGE');
    expect(await master.waitForClose()).toBe(1009);
  });
});

describe('gaps', () => {
  it('a forged gap (no valid MAC) changes no state', async () => {
    const s = await freshSubscription();
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const master = await openMaster(t, s);
    await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)));
    const forged = v1Frame(Buffer.from('not the key'), v1Fields(s.subscriptionId, 1000));
    expect(await send(master, forged)).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2)))).toMatchObject({ status: 'ACCEPTED', sequence: 2 });
    await waitForDeliveries(receiver, 2);
    expect(states(receiver)).toEqual([]);
    expect(master.ofKind('syncRequest')).toEqual([]);
    await Promise.all([master.close(), receiver.close()]);
  });

  it('a genuine gap: DEGRADED, the master is asked to resend, ACTIVE again, every receiver sees each signal once in order', async () => {
    const s = await freshSubscription();
    const second = await t.receiverToken(s.subscriptionId);
    const r1 = await openReceiver(t, s.receiverToken, 0);
    const r2 = await openReceiver(t, second.token, 0);
    const master = await openMaster(t, s);
    const frames = range(1, 8).map((seq) => v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    await send(master, frames[0]!);
    await send(master, frames[1]!);
    master.send(frames[5]!); // 6: a gap of 3..5
    const sync = await master.waitFor((f) => f.kind === 'syncRequest');
    expect(sync.kind === 'syncRequest' && safeInteger(sync.syncRequest.fromSequence)).toBe(3);
    expect(sync.kind === 'syncRequest' && safeInteger(sync.syncRequest.toSequence)).toBe(5);
    await r1.waitFor((f) => f.kind === 'stateChange');
    expect(states(r1)).toEqual(['DEGRADED']);
    // While degraded nothing past the gap is delivered.
    await sleep(50);
    expect(deliveredSequences(r1)).toEqual([1, 2]);
    for (const i of [2, 3, 4]) master.send(frames[i]!);
    for (const seq of [3, 4, 5, 6]) expect(await answerFor(master, seq)).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    master.send(frames[6]!);
    master.send(frames[7]!);
    expect(await waitForDeliveries(r1, 8)).toEqual(range(1, 8));
    expect(await waitForDeliveries(r2, 8)).toEqual(range(1, 8));
    expect(states(r1)).toEqual(['DEGRADED', 'ACTIVE']);
    expect(states(r2)).toEqual(['DEGRADED', 'ACTIVE']);
    await Promise.all([master.close(), r1.close(), r2.close()]);
  });
});

describe('receivers', () => {
  it('resume from the last sequence they executed, then take live deliveries', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    for (let seq = 1; seq <= 10; seq++) await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    const late = await openReceiver(t, s.receiverToken, 6);
    expect(await waitForDeliveries(late, 4)).toEqual([7, 8, 9, 10]);
    await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 11)));
    expect(await waitForDeliveries(late, 5)).toEqual([7, 8, 9, 10, 11]);
    await Promise.all([master.close(), late.close()]);
  });

  it('resume from the server cursor (their acks) when they do not say', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    const { deliveryAckFrame } = await import('./support/signals');
    const first = await openReceiver(t, s.receiverToken, 0);
    for (let seq = 1; seq <= 5; seq++) await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, seq)));
    await waitForDeliveries(first, 5);
    for (const seq of [1, 2, 3]) first.send(deliveryAckFrame(seq));
    await sleep(100);
    await first.close();
    const again = await openReceiver(t, s.receiverToken, null);
    expect(await waitForDeliveries(again, 2)).toEqual([4, 5]);
    await Promise.all([master.close(), again.close()]);
  });

  it('get a snapshot when they are behind a master snapshot', async () => {
    const s = await freshSubscription();
    const master = await openMaster(t, s);
    await send(master, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 1, { positionId: 5 })));
    master.send(
      snapshotFrame(s.macKey, s.macKeyId, s.subscriptionId, 9, [
        { positionId: '5', symbol: 'EURUSD', orderType: 0, volume: 0.1, openPrice: 1.08, openedSequence: 1 },
        { positionId: '9', symbol: 'USDJPY', orderType: 1, volume: 2, openPrice: 157.1, openedSequence: 9 },
      ]),
    );
    await sleep(200);
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const snap = await receiver.waitFor((f) => f.kind === 'snapshot');
    expect(snap.kind === 'snapshot' && safeInteger(snap.snapshot.sequenceNumber)).toBe(9);
    expect(snap.kind === 'snapshot' && snap.snapshot.positions.map((p) => p.positionId).sort()).toEqual(['5', '9']);
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 10, { positionId: 10 })))).toMatchObject({
      status: 'ACCEPTED',
    });
    expect(await waitForDeliveries(receiver, 1)).toEqual([10]);
    await Promise.all([master.close(), receiver.close()]);
  });
});
