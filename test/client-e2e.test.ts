/**
 * The client SDK (client/) against a real server: MasterClient publishing
 * with v1 and v2 signing, rejects as error codes, ReceiverClient delivering
 * each signal once and in order, resuming from lastSequence, from the
 * server's cursor and from a cursor file, a second master continuing from
 * the welcome, and the master's answers to the server's sync requests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCloseCode,
  MasterClient,
  ReceiverClient,
  SigplaneClientError,
  readCursor,
  type MasterSnapshot,
  type PublishResult,
  type PublishSignal,
  type ReceivedDelivery,
  type ReceiverConnectOptions,
} from '@sigplane/client';
import type { MasterSigning } from '../client/signing';
import { range, sleep } from './support/e2e';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';

let t: TestServer;
let tempDir: string;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestServer();
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-client-e2e-'));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await t?.close();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

const fast = { minMs: 20, maxMs: 200 };
const eurusd: PublishSignal = { symbol: 'EURUSD', orderType: 0, volume: 0.1, price: 1.08765 };

function v1(s: TestSubscription): MasterSigning {
  return { version: 1, secret: s.macSecretHex };
}

function v2(s: TestSubscription): MasterSigning {
  return { version: 2, keyId: s.macKeyId, key: s.macKey };
}

interface Master {
  client: MasterClient;
  states: string[];
  syncRequests: { fromSequence: number; toSequence: number; full: boolean }[];
  errors: SigplaneClientError[];
  rejects: SigplaneClientError[];
}

async function startMaster(
  s: TestSubscription,
  signing: MasterSigning,
  extra: { snapshotProvider?: () => MasterSnapshot } = {},
): Promise<Master> {
  const client = new MasterClient();
  const m: Master = { client, states: [], syncRequests: [], errors: [], rejects: [] };
  client.on('state', (x: { state: string }) => m.states.push(x.state));
  client.on('syncRequest', (x: Master['syncRequests'][number]) => m.syncRequests.push(x));
  client.on('error', (e: SigplaneClientError) => m.errors.push(e));
  client.on('reject', (e: SigplaneClientError) => m.rejects.push(e));
  closers.push(() => client.close());
  await client.connect(t.masterUrl, s.masterToken, { signing, reconnect: fast, snapshotProvider: extra.snapshotProvider });
  return m;
}

interface Receiver {
  client: ReceiverClient;
  /** Sequences handed to onSignal, in call order. */
  executed: number[];
  deliveries: ReceivedDelivery[];
  snapshots: { sequence: number; positionIds: string[] }[];
  states: string[];
}

async function startReceiver(token: string, options: Partial<ReceiverConnectOptions> = {}): Promise<Receiver> {
  const client = new ReceiverClient();
  const r: Receiver = { client, executed: [], deliveries: [], snapshots: [], states: [] };
  closers.push(() => client.close());
  await client.connect(t.receiverUrl, token, {
    reconnect: fast,
    onSignal: (d) => {
      r.executed.push(d.sequenceNumber);
      r.deliveries.push(d);
    },
    onSnapshot: (snap) => {
      r.snapshots.push({ sequence: snap.sequenceNumber, positionIds: snap.positions.map((p) => p.positionId) });
    },
    onState: (state) => r.states.push(state),
    ...options,
  });
  return r;
}

/** Wait until the receiver executed `sequence`, then a little longer so a duplicate would have shown. */
async function executedUpTo(r: Receiver, sequence: number): Promise<number[]> {
  await r.client.waitFor(sequence, 10_000);
  await sleep(50);
  return r.executed;
}

async function caught(promise: Promise<unknown>): Promise<SigplaneClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SigplaneClientError);
    return error as SigplaneClientError;
  }
  throw new Error('expected a rejection');
}

/** Whether a promise settled by the next turn of the event loop, and how. */
function track<T>(promise: Promise<T>): { readonly outcome: { ok: T } | { error: SigplaneClientError } | 'pending' } {
  const tracked: { outcome: { ok: T } | { error: SigplaneClientError } | 'pending' } = { outcome: 'pending' };
  promise.then(
    (ok) => (tracked.outcome = { ok }),
    (error: SigplaneClientError) => (tracked.outcome = { error }),
  );
  return tracked;
}

function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe('MasterClient publishing', () => {
  it('v1: numbers publishes from the welcome, each resolves ACCEPTED, and every receiver executes each once in order', async () => {
    const s = await t.subscription();
    const second = await t.receiverToken(s.subscriptionId);
    const r1 = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const r2 = await startReceiver(second.token, { lastSequence: 0 });
    const m = await startMaster(s, v1(s));
    expect(m.client.welcome).toMatchObject({ subscriptionId: s.subscriptionId, state: 'ACTIVE', lastSequence: 0, role: 'master' });
    expect(m.client.nextPublishSequence).toBe(1);

    const results: PublishResult[] = [];
    for (let i = 0; i < 10; i++) results.push(await m.client.publish({ ...eurusd, orderType: i % 2 }));
    // Ten more in flight at once: numbered in call order, all answered.
    results.push(...(await Promise.all(range(1, 10).map(() => m.client.publish(eurusd)))));
    expect(results).toEqual(range(1, 20).map((sequence) => ({ sequence, status: 'ACCEPTED' })));
    expect(m.client.outboxSize).toBe(0);

    expect(await executedUpTo(r1, 20)).toEqual(range(1, 20));
    expect(await executedUpTo(r2, 20)).toEqual(range(1, 20));
    const d = r1.deliveries[1]!;
    expect(d).toMatchObject({ subscriptionId: s.subscriptionId, sequenceNumber: 2, signingVersion: 1 });
    expect(d.signal).toMatchObject({ symbol: 'EURUSD', orderType: 1, volume: 0.1, price: 1.08765, action: 0 });
    expect(m.rejects).toEqual([]);
  });

  it('v2: carries every execution field, open, modify and close, to receivers', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const m = await startMaster(s, v2(s));
    const open = await m.client.publish({ ...eurusd, action: 1, positionId: 777, stopLoss: 1.07, takeProfit: 1.1, magic: '18446744073709551615' });
    const modify = await m.client.publish({ ...eurusd, action: 2, positionId: 777, stopLoss: 1.075, takeProfit: 1.11 });
    const close = await m.client.publish({ ...eurusd, orderType: 1, action: 3, positionId: 777 });
    expect([open, modify, close]).toEqual([1, 2, 3].map((sequence) => ({ sequence, status: 'ACCEPTED' })));

    expect(await executedUpTo(r, 3)).toEqual([1, 2, 3]);
    const [d1, d2, d3] = r.deliveries;
    expect(d1!.signingVersion).toBe(2);
    expect(d1!.signal).toMatchObject({ action: 1, positionId: '777', stopLoss: 1.07, takeProfit: 1.1, magic: '18446744073709551615' });
    expect(d2!.signal).toMatchObject({ action: 2, positionId: '777', stopLoss: 1.075, takeProfit: 1.11 });
    expect(d3!.signal).toMatchObject({ action: 3, positionId: '777', orderType: 1 });
  });

  it('a reject surfaces its code and sequence, and the next publish reuses that sequence (no gap)', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const m = await startMaster(s, v2(s));
    expect(await m.client.publish({ ...eurusd, action: 1, positionId: 1 })).toEqual({ sequence: 1, status: 'ACCEPTED' });

    const badSymbol = await caught(m.client.publish({ ...eurusd, symbol: 'EUR/USD', action: 1, positionId: 2 }));
    expect(badSymbol).toMatchObject({ code: 'INVALID_FIELD', sequence: 2 });
    const unknownPosition = await caught(m.client.publish({ ...eurusd, action: 3, positionId: 99 }));
    expect(unknownPosition).toMatchObject({ code: 'POSITION_UNKNOWN', sequence: 2 });
    const deviating = await caught(m.client.publish({ ...eurusd, price: 1.2, action: 1, positionId: 3 }));
    expect(deviating).toMatchObject({ code: 'PRICE_DEVIATION', sequence: 2 });
    // Three refusals moved nothing: 2 is still next.
    expect(m.client.nextPublishSequence).toBe(2);
    expect(await m.client.publish({ ...eurusd, action: 3, positionId: 1 })).toEqual({ sequence: 2, status: 'ACCEPTED' });
    expect(await m.client.publish({ ...eurusd, action: 1, positionId: 4 })).toEqual({ sequence: 3, status: 'ACCEPTED' });

    expect(await executedUpTo(r, 3)).toEqual([1, 2, 3]);
    expect(r.deliveries.map((d) => d.signal.positionId)).toEqual(['1', '1', '4']);
    expect(m.rejects.map((e) => e.code)).toEqual(['INVALID_FIELD', 'POSITION_UNKNOWN', 'PRICE_DEVIATION']);
  });

  it('v1 signed with the wrong secret rejects SIGNATURE_INVALID and delivers nothing', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const m = await startMaster(s, { version: 1, secret: 'f'.repeat(64) });
    const error = await caught(m.client.publish(eurusd));
    expect(error).toMatchObject({ code: 'SIGNATURE_INVALID', sequence: 1 });
    expect(m.client.outboxSize).toBe(0);
    // The right key, on a second client: 1 is still the first sequence.
    const good = await startMaster(s, v1(s));
    expect(await good.client.publish(eurusd)).toEqual({ sequence: 1, status: 'ACCEPTED' });
    expect(await executedUpTo(r, 1)).toEqual([1]);
  });

  it('sendSignal of an accepted sequence: the same bytes are a DUPLICATE (not delivered again), other content a REPLAY', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const m = await startMaster(s, v1(s));
    const fields = { ...eurusd, sequence: 1, generatedAt: Date.now() };
    expect(await m.client.sendSignal(fields)).toEqual({ sequence: 1, status: 'ACCEPTED' });
    expect(await m.client.sendSignal(fields)).toEqual({ sequence: 1, status: 'DUPLICATE' });
    expect(await caught(m.client.sendSignal({ ...fields, volume: 0.2 }))).toMatchObject({ code: 'REPLAY', sequence: 1 });
    // The counter does not reuse what the server holds.
    expect(await m.client.publish(eurusd)).toEqual({ sequence: 2, status: 'ACCEPTED' });
    expect(await executedUpTo(r, 2)).toEqual([1, 2]);
  });
});

describe('ReceiverClient resume', () => {
  it('a receiver closed and reconnected with lastSequence resumes without duplicates or gaps', async () => {
    const s = await t.subscription();
    const m = await startMaster(s, v1(s));
    const first = await startReceiver(s.receiverToken, { lastSequence: 0 });
    for (let i = 0; i < 5; i++) await m.client.publish(eurusd);
    await executedUpTo(first, 5);
    await first.client.close();
    expect(first.client.lastExecuted).toBe(5);

    // Published while nobody listens on this license.
    for (let i = 0; i < 5; i++) await m.client.publish(eurusd);
    const again = await startReceiver(s.receiverToken, { lastSequence: first.client.lastExecuted! });
    expect(again.client.welcome?.lastSequence).toBe(10);
    await executedUpTo(again, 10);
    // And live ones after the catch-up.
    for (let i = 0; i < 3; i++) await m.client.publish(eurusd);
    await executedUpTo(again, 13);
    expect(first.executed).toEqual(range(1, 5));
    expect(again.executed).toEqual(range(6, 13));
    expect(again.client.duplicatesIgnored).toBe(0);
    expect(again.snapshots).toEqual([]);
  });

  it("without lastSequence a receiver resumes from the server's cursor for its license (its acks)", async () => {
    const s = await t.subscription();
    const m = await startMaster(s, v1(s));
    const first = await startReceiver(s.receiverToken, { lastSequence: 0 });
    for (let i = 0; i < 4; i++) await m.client.publish(eurusd);
    await executedUpTo(first, 4);
    await first.client.close();
    for (let i = 0; i < 3; i++) await m.client.publish(eurusd);

    const again = await startReceiver(s.receiverToken);
    await executedUpTo(again, 7);
    expect(again.executed).toEqual([5, 6, 7]);
  });

  it('a receiver with a cursorFile restarts as a new instance and resumes from the file', async () => {
    const s = await t.subscription();
    const m = await startMaster(s, v1(s));
    const cursorFile = path.join(tempDir, `cursor-${s.subscriptionId}.json`);
    const first = await startReceiver(s.receiverToken, { cursorFile });
    // No file yet and a new license: from the start.
    for (let i = 0; i < 4; i++) await m.client.publish(eurusd);
    await executedUpTo(first, 4);
    await first.client.close();
    expect(readCursor(cursorFile)).toMatchObject({ version: 1, lastExecuted: 4, subscriptionId: s.subscriptionId });

    for (let i = 0; i < 4; i++) await m.client.publish(eurusd);
    // Another license, which the server holds no cursor for: only the file says where to resume.
    const other = await t.receiverToken(s.subscriptionId);
    const again = await startReceiver(other.token, { cursorFile });
    await executedUpTo(again, 8);
    expect(first.executed).toEqual([1, 2, 3, 4]);
    expect(again.executed).toEqual([5, 6, 7, 8]);
    expect(readCursor(cursorFile)?.lastExecuted).toBe(8);
  });

  it('a handler that throws is not acked: the client reconnects and the same signal is handed over again, then the rest once each', async () => {
    const s = await t.subscription();
    const m = await startMaster(s, v1(s));
    const attempts: number[] = [];
    let failedOnce = false;
    const closeCodes: number[] = [];
    const r = await startReceiver(s.receiverToken, {
      lastSequence: 0,
      onSignal: (d) => {
        attempts.push(d.sequenceNumber);
        if (d.sequenceNumber === 3 && !failedOnce) {
          failedOnce = true;
          throw new Error('broker said no');
        }
      },
      onClose: (code) => void closeCodes.push(code),
    });
    for (let i = 0; i < 5; i++) await m.client.publish(eurusd);
    await r.client.waitFor(5, 10_000);
    await sleep(50);
    expect(attempts).toEqual([1, 2, 3, 3, 4, 5]);
    expect(closeCodes).toEqual([ClientCloseCode.HANDLER_FAILED]);
    expect(r.client.counters).toMatchObject({ handlerFailures: 1, sessions: 2 });
  });

  it('a damaged cursor file refuses to connect with CURSOR_UNREADABLE instead of guessing', async () => {
    const s = await t.subscription();
    const cursorFile = path.join(tempDir, `damaged-${s.subscriptionId}.json`);
    fs.writeFileSync(cursorFile, '{"version":1,"lastExecuted":');
    const client = new ReceiverClient();
    closers.push(() => client.close());
    const error = await caught(client.connect(t.receiverUrl, s.receiverToken, { cursorFile, onSignal: () => undefined, onSnapshot: () => undefined }));
    expect(error.code).toBe('CURSOR_UNREADABLE');
  });
});

describe('MasterClient reconnect', () => {
  it('a master that drops mid-stream is followed by a new instance that continues from welcome.lastSequence', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const first = await startMaster(s, v1(s));
    for (let i = 0; i < 5; i++) await first.client.publish(eurusd);
    // Five more in flight, then the connection goes away under them.
    const inFlight = range(1, 5).map(() => first.client.publish(eurusd).then((ok) => ({ ok }), (error: SigplaneClientError) => ({ error })));
    await first.client.close();
    const outcomes = await Promise.all(inFlight);
    const ackedByFirst = [...range(1, 5)];
    for (const outcome of outcomes) {
      if ('ok' in outcome) ackedByFirst.push(outcome.ok.sequence);
      else expect(outcome.error.code).toBe('CLOSED');
    }

    const second = await startMaster(s, v1(s));
    const last = second.client.welcome!.lastSequence;
    // Everything the first master saw acked is held; nothing beyond what it sent.
    expect(last).toBeGreaterThanOrEqual(Math.max(...ackedByFirst));
    expect(last).toBeLessThanOrEqual(10);
    expect(second.client.nextPublishSequence).toBe(last + 1);
    const continued: number[] = [];
    for (let i = 0; i < 5; i++) continued.push((await second.client.publish(eurusd)).sequence);
    expect(continued).toEqual(range(last + 1, last + 5));

    expect(await executedUpTo(r, last + 5)).toEqual(range(1, last + 5));
  });
});

describe('gaps: the master answers the server\'s SyncRequest', () => {
  it('a gap the sent log cannot fill (3 never sent) is reported SYNC_UNANSWERABLE, and the next publish takes 3 and heals it', async () => {
    const s = await t.subscription();
    const r1 = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const second = await t.receiverToken(s.subscriptionId);
    const r2 = await startReceiver(second.token, { lastSequence: 0 });
    const m = await startMaster(s, v1(s));
    const now = Date.now();
    expect(await m.client.sendSignal({ ...eurusd, sequence: 1, generatedAt: now })).toMatchObject({ status: 'ACCEPTED' });
    expect(await m.client.sendSignal({ ...eurusd, sequence: 2, generatedAt: now })).toMatchObject({ status: 'ACCEPTED' });
    const four = track(m.client.sendSignal({ ...eurusd, sequence: 4, generatedAt: now }));

    await until(() => m.errors.some((e) => e.code === 'SYNC_UNANSWERABLE'), 'SYNC_UNANSWERABLE');
    expect(m.syncRequests[0]).toEqual({ fromSequence: 3, toSequence: 3, full: false });
    expect(m.states).toEqual(['DEGRADED']);
    // 4 is held, not answered, not delivered.
    expect(four.outcome).toBe('pending');
    expect(await executedUpTo(r1, 2)).toEqual([1, 2]);

    // The application's next signal takes the first sequence the server lacks.
    expect(m.client.nextPublishSequence).toBe(3);
    expect(await m.client.publish(eurusd)).toEqual({ sequence: 3, status: 'ACCEPTED' });
    await until(() => four.outcome !== 'pending', 'the answer for 4');
    expect(four.outcome).toEqual({ ok: { sequence: 4, status: 'ACCEPTED' } });
    await until(() => m.states.length === 2, 'ACTIVE');
    expect(m.states).toEqual(['DEGRADED', 'ACTIVE']);
    expect(m.client.nextPublishSequence).toBe(5);

    expect(await executedUpTo(r1, 4)).toEqual([1, 2, 3, 4]);
    expect(await executedUpTo(r2, 4)).toEqual([1, 2, 3, 4]);
    expect(r1.states).toEqual(['DEGRADED', 'ACTIVE']);
  });

  it('a signal refused RATE_LIMITED is answered with its sequence, which stays free for the next send', async () => {
    // Two frames a burst, two a second: 3, sent right behind 1 and 2, is refused before the MAC.
    const s = await t.subscription({ settings: { rateLimitPerSecond: 2, rateLimitBurst: 2 } });
    const r = await startReceiver(s.receiverToken, { lastSequence: 0, ackEvery: 1_000 });
    const m = await startMaster(s, v1(s));
    const now = Date.now();
    const answers = [1, 2, 3].map((sequence) => track(m.client.sendSignal({ ...eurusd, sequence, generatedAt: now })));
    await until(() => answers.every((a) => a.outcome !== 'pending'), 'answers to 1..3');
    expect(m.rejects.map((e) => [e.code, e.sequence])).toEqual([['RATE_LIMITED', 3]]);
    expect(answers.slice(0, 2).map((a) => a.outcome)).toEqual([{ ok: { sequence: 1, status: 'ACCEPTED' } }, { ok: { sequence: 2, status: 'ACCEPTED' } }]);
    expect(answers[2]!.outcome).toMatchObject({ error: { code: 'RATE_LIMITED', sequence: 3 } });

    // Once the bucket has a token again, 3 goes through: no gap was opened.
    await sleep(600);
    const again = track(m.client.sendSignal({ ...eurusd, sequence: 3, generatedAt: now }));
    await until(() => again.outcome !== 'pending', 'the answer to 3');
    expect(again.outcome).toEqual({ ok: { sequence: 3, status: 'ACCEPTED' } });
    expect(m.states).toEqual([]);
    expect(await executedUpTo(r, 3)).toEqual([1, 2, 3]);
  });

  it('a v2 master with a snapshotProvider answers a gap its log cannot fill with a snapshot; receivers replace state and continue', async () => {
    const s = await t.subscription();
    const r = await startReceiver(s.receiverToken, { lastSequence: 0 });
    const position = (id: string, openedSequence: number) => ({
      positionId: id,
      symbol: 'EURUSD',
      orderType: 0,
      volume: 0.1,
      openPrice: 1.08765,
      stopLoss: 0,
      takeProfit: 0,
      magic: '0',
      openedSequence,
    });
    // What the application holds after 3 (which opened 103 and never reached the server).
    const atThree: MasterSnapshot = { sequence: 3, positions: [position('101', 1), position('102', 2), position('103', 3)] };
    const m = await startMaster(s, v2(s), { snapshotProvider: () => atThree });
    const now = Date.now();
    await m.client.sendSignal({ ...eurusd, sequence: 1, generatedAt: now, action: 1, positionId: 101 });
    await m.client.sendSignal({ ...eurusd, sequence: 2, generatedAt: now, action: 1, positionId: 102 });
    // 4 closes the position 3 opened: valid only once the snapshot is in.
    const four = await m.client.sendSignal({ ...eurusd, sequence: 4, generatedAt: now, orderType: 1, action: 3, positionId: 103 });
    expect(four).toEqual({ sequence: 4, status: 'ACCEPTED' });
    expect(m.syncRequests[0]).toEqual({ fromSequence: 3, toSequence: 3, full: false });
    expect(m.errors).toEqual([]);

    await r.client.waitFor(4, 10_000);
    await sleep(50);
    expect(r.executed).toEqual([1, 2, 4]);
    expect(r.snapshots).toEqual([{ sequence: 3, positionIds: ['101', '102', '103'] }]);
    await until(() => m.states.includes('ACTIVE'), 'ACTIVE');
    expect(m.states).toEqual(['DEGRADED', 'ACTIVE']);
    expect(m.client.nextPublishSequence).toBe(5);
  });
});

/**
 * Refusals made before the MAC is trusted (unknown key, rate limit) name the
 * sequence the frame claims, back to the sender only, so that the client
 * settles the right publish() instead of leaving it pending.
 */
describe('publishes the server refuses before trusting the frame', () => {
  it('a v2 publish signed with a key id the server does not know rejects with UNKNOWN_KEY', async () => {
    const s = await t.subscription();
    // As after a key rotation retired the key this master still uses.
    const m = await startMaster(s, { version: 2, keyId: 'k9-00000000', key: s.macKey });
    const published = track(m.client.publish({ ...eurusd, action: 1, positionId: 1 }));
    await until(() => m.rejects.length === 1, 'the reject');
    await new Promise((resolve) => setImmediate(resolve));
    expect(m.rejects[0]).toMatchObject({ code: 'UNKNOWN_KEY' });
    expect(published.outcome).toMatchObject({ error: { code: 'UNKNOWN_KEY' } });
    expect(m.client.outboxSize).toBe(0);
  });

  it('publishes are paced at the welcome\'s rate, so none is refused RATE_LIMITED: all go, in order, ACCEPTED', async () => {
    // The server's bucket holds 4 (refilled 4 a second): 10 publishes sent at once would see 6 refused. The client
    // spends half the burst at once and paces the rest, so a frame delayed on its way (up to half a second
    // here) still finds a token: nothing in this test depends on how fast the machine is.
    const s = await t.subscription({ settings: { rateLimitPerSecond: 4, rateLimitBurst: 4 } });
    const m = await startMaster(s, v1(s));
    expect(m.client.welcome).toMatchObject({ signalsPerSecond: 4, signalsBurst: 4 });
    const publishes = Array.from({ length: 10 }, () => track(m.client.publish(eurusd)));
    await until(() => publishes.every((p) => p.outcome !== 'pending'), 'every answer', 20_000);
    expect(publishes.map((p) => p.outcome)).toEqual(range(1, 10).map((sequence) => ({ ok: { sequence, status: 'ACCEPTED' } })));
    expect(m.rejects).toEqual([]);
    expect(m.client.outboxSize).toBe(0);
  });
});
