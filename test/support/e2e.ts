/**
 * Small steps shared by the end-to-end tests: connect a master or a
 * receiver, send a frame and wait for its answer, read deliveries.
 */
import { abnormalCloseCode } from '../../io/async-upgrade-guard';
import { safeInteger, rejectCodeName, stateName, type DecodedFrame } from '@sigplane/protocol';
import { subscribeFrame } from './signals';
import type { TestServer, TestSubscription } from './test-server';
import { WireClient } from './wire-client';

export type Answer = { kind: 'ack'; status: 'ACCEPTED' | 'DUPLICATE'; sequence: number } | { kind: 'reject'; code: string; sequence: number };

/**
 * Opens a connection and waits for its welcome; once more when the first is
 * closed abnormally (1006) before any frame. That is a uWebSockets bug
 * (io/async-upgrade-guard.ts): it can close a connection right after its
 * upgrade, at most once per server process, which then stops corking
 * upgrades; the SDK reconnects, and so do these helpers. Any other close
 * before the welcome, or a second one, fails.
 */
export async function openWelcomed(
  url: string,
  token: string,
  options: { localAddress?: string; ca?: string } = {},
  afterOpen: (c: WireClient) => void = () => undefined,
): Promise<WireClient> {
  for (let attempt = 1; ; attempt++) {
    const client = await WireClient.open(url, token, options);
    afterOpen(client);
    const outcome = await client.welcomeOrClose();
    if (typeof outcome !== 'number') return client;
    if (outcome !== abnormalCloseCode || client.frames.length > 0 || attempt > 1) {
      throw new Error(`closed with ${outcome} before its welcome (attempt ${attempt}; got ${client.describe()})`);
    }
  }
}

export function openMaster(t: TestServer, s: TestSubscription, localAddress?: string): Promise<WireClient> {
  return openWelcomed(t.masterUrl, s.masterToken, { localAddress });
}

export function openReceiver(t: TestServer, token: string, lastSequence: number | null, localAddress?: string): Promise<WireClient> {
  return openWelcomed(t.receiverUrl, token, { localAddress }, (receiver) => receiver.send(subscribeFrame(lastSequence)));
}

function toAnswer(f: DecodedFrame): Answer | null {
  if (f.kind === 'ack') {
    return { kind: 'ack', status: f.ack.status === 2 ? 'DUPLICATE' : 'ACCEPTED', sequence: safeInteger(f.ack.sequenceNumber) ?? -1 };
  }
  if (f.kind === 'reject') {
    return { kind: 'reject', code: rejectCodeName(f.reject.code), sequence: safeInteger(f.reject.sequenceNumber) ?? -1 };
  }
  return null;
}

/** Send a frame and wait for the next ack or reject after it. */
export async function send(master: WireClient, frame: Uint8Array | string): Promise<Answer> {
  const from = master.frames.length;
  master.send(frame);
  const f = await master.waitFor((x) => x.kind === 'ack' || x.kind === 'reject', 10_000, from);
  return toAnswer(f)!;
}

/** Wait until the answer for `sequence` arrives (answers can come out of send order after a gap). */
export async function answerFor(master: WireClient, sequence: number, timeoutMs = 10_000): Promise<Answer> {
  const f = await master.waitFor((x) => {
    const a = toAnswer(x);
    return a !== null && a.sequence === sequence;
  }, timeoutMs);
  return toAnswer(f)!;
}

export function deliveredSequences(receiver: WireClient): number[] {
  return receiver.ofKind('delivery').map((f) => safeInteger(f.delivery.sequenceNumber) ?? -1);
}

export async function waitForDeliveries(receiver: WireClient, count: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (deliveredSequences(receiver).length < count) {
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} deliveries, got ${JSON.stringify(deliveredSequences(receiver))}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return deliveredSequences(receiver);
}

export function states(client: WireClient): string[] {
  return client.ofKind('stateChange').map((f) => stateName(f.stateChange.state));
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
