import { describe, expect, it } from 'vitest';
import {
  Audience,
  decodeInbound,
  decodeOutbound,
  encodeInbound,
  encodeOutbound,
  type ShardInbound,
  type ShardOutbound,
} from '../engine/shard-protocol';
import { createRing, RingConsumer, RingProducer } from '../engine/ring-buffer';
import type { SignalRecord } from '@sigplane/protocol';
import { makeSignal } from './fixtures/journal-records';

function signal(overrides: Partial<SignalRecord> = {}): SignalRecord {
  return makeSignal('3f2a9c1e-1111-4222-8333-944455556666', 2 ** 53 - 1, { orderType: 1, content: new Uint8Array([1, 2, 3, 250]), ...overrides });
}

/** What a thread gets back: decoded from a view of a ring, as the shards and the I/O thread read. */
function throughRing<T>(bytes: Uint8Array, decode: (bytes: Uint8Array) => T): T {
  const sab = createRing(4096);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  // Something before it, so the record is not at offset 0 of the ring.
  expect(producer.tryWrite(new Uint8Array(13))).toBe(true);
  expect(producer.tryWrite(bytes)).toBe(true);
  consumer.drain(1, () => undefined);
  let decoded: T | undefined;
  consumer.drain(1, (view) => {
    decoded = decode(view);
  });
  return decoded as T;
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array || (v as { type?: string })?.type === 'Buffer' ? [...Buffer.from(v as Uint8Array)] : v)));
}

describe('shard records', () => {
  const inbound: ShardInbound[] = [
    { t: 'event', sub: '3f2a9c1e-1111-4222-8333-944455556666', ev: { kind: 'signal', connId: 7, record: signal() }, t0: 1234.5678 },
    { t: 'event', sub: '3f2a9c1e-1111-4222-8333-944455556666', ev: { kind: 'signal', connId: 8, record: signal({ sequence: 1 }) } },
    {
      t: 'event',
      sub: 'another-subscription',
      ev: {
        kind: 'signal',
        connId: 2 ** 40,
        record: signal({ subscriptionId: 'another-subscription', symbol: 'ÉURUSD€', positionId: '18446744073709551615', magic: '42', signingVersion: 2, action: 3, stopLoss: -0.5, takeProfit: 1e300, content: new Uint8Array(0) }),
      },
      t0: 0,
    },
    { t: 'event', sub: 's', settings: { ttlMs: 1, clockSkewMs: 2 } as never, ev: { kind: 'signal', connId: 1, record: signal() } },
    { t: 'event', sub: 's', ev: { kind: 'masterAttach', connId: 3 } },
    { t: 'stop' },
  ];
  const outbound: ShardOutbound[] = [
    { t: 'send', to: Audience.RECEIVERS, sub: '3f2a9c1e-1111-4222-8333-944455556666', conn: 0, frame: new Uint8Array([9, 8, 7]), kind: 'delivery', seq: 5, t0: 99.25 },
    { t: 'send', to: Audience.CONN, sub: '3f2a9c1e-1111-4222-8333-944455556666', conn: 12, frame: new Uint8Array([1]), kind: 'ack', seq: 5, t0: 0, outcome: 'ACCEPTED' },
    { t: 'send', to: Audience.CONN, sub: 'x', conn: 12, frame: new Uint8Array(0), kind: 'reject', seq: 0, t0: 0, outcome: 'REPLAY' },
    { t: 'send', to: Audience.CONN, sub: 'x', conn: 1, frame: new Uint8Array([4]), kind: 'reportAck', seq: 3, t0: 0, report: { kind: 'FILL', outcome: 'OK', delayMs: null, slippagePips: 0.5 } },
    { t: 'live', sub: 'x', conn: 4 },
    { t: 'stats', journalCommits: 1, journalRows: 2, journalCommitMsTotal: 3.5, memory: { heapUsedBytes: 1, heapTotalBytes: 2, externalBytes: 3, arrayBuffersBytes: 4 }, windowRecords: 5 },
  ];

  it('every inbound record comes back as it was, from a private buffer and from a ring', () => {
    for (const message of inbound) {
      const bytes = encodeInbound(message);
      expect(plain(decodeInbound(bytes))).toEqual(plain(message));
      expect(plain(throughRing(bytes, decodeInbound))).toEqual(plain(message));
    }
  });

  it('every outbound record comes back as it was, from a private buffer and from a ring', () => {
    for (const message of outbound) {
      const bytes = encodeOutbound(message);
      expect(plain(decodeOutbound(bytes))).toEqual(plain(message));
      expect(plain(throughRing(bytes, decodeOutbound))).toEqual(plain(message));
    }
  });

  it('byte fields are Buffers of their own: they outlive the ring bytes they came from', () => {
    const sab = createRing(4096);
    const producer = new RingProducer(sab);
    const consumer = new RingConsumer(sab);
    producer.tryWrite(encodeInbound(inbound[0]));
    producer.tryWrite(encodeOutbound(outbound[0]));
    let event: ShardInbound | undefined;
    let send: ShardOutbound | undefined;
    consumer.drain(1, (view) => (event = decodeInbound(view)));
    consumer.drain(1, (view) => (send = decodeOutbound(view)));
    new Uint8Array(sab).fill(0xee);
    const content = event?.t === 'event' && event.ev.kind === 'signal' ? event.ev.record.content : null;
    expect(Buffer.isBuffer(content)).toBe(true);
    expect([...content!]).toEqual([1, 2, 3, 250]);
    expect(send?.t === 'send' && Buffer.isBuffer(send.frame) && [...send.frame]).toEqual([9, 8, 7]);
  });

  it('an encoded record stays valid after the next one is encoded', () => {
    const first = encodeOutbound(outbound[0]);
    const copy = Uint8Array.from(first);
    encodeOutbound({ ...(outbound[1] as Extract<ShardOutbound, { t: 'send' }>), frame: new Uint8Array(10_000).fill(1) });
    expect([...first]).toEqual([...copy]);
  });
});
