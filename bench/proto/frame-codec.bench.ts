/**
 * Wire and ring codecs on the signal path, per signal:
 *
 * - protobuf (proto/codec.ts): decodeFrame of a v1 SignalV1 frame (from a
 *   Buffer, and from a Uint8Array over an ArrayBuffer: what uWS hands the
 *   I/O thread) and of a v2 Signed frame, decodeSignalBody of the v2 body (after the
 *   MAC passed), encodeFrame of a v1 frame from a plain object (what a
 *   master's client does), encodeDelivery of an accepted record (shard);
 * - the ring record (engine/shard-protocol.ts, a signal's fixed binary
 *   layout): encodeInbound of `{t:'event', sub, ev:{kind:'signal', connId,
 *   record}, t0}` (I/O thread) and decodeInbound of it from a private buffer
 *   and from a view of a SharedArrayBuffer, as the shard's drain() hands it
 *   (read in place).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/proto/frame-codec.bench.js
 *
 * Inputs rotate through 64 prepared signals; results feed a sink.
 */
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import {
  decodeFrame,
  decodeSignalBody,
  encodeDelivery,
  encodeFrame,
  type SignalRecord,
} from '@sigplane/protocol';
import { decodeInbound, encodeInbound, type ShardInbound } from '../../engine/shard-protocol';
import { benchEpochMs, v1FrameObject, v1Record, v2Body, v2Frame } from '../signal-fixtures';

const inputCount = 64;
const firstSequence = 1_000_000;
function inboundMessage(record: SignalRecord, connId: number): ShardInbound {
  return { t: 'event', sub: record.subscriptionId, ev: { kind: 'signal', connId, record }, t0: 12_345.678 };
}

/** `bytes` copied into a SharedArrayBuffer, as a view (what RingConsumer.drain hands out). */
function sharedView(bytes: Uint8Array): Uint8Array {
  const view = new Uint8Array(new SharedArrayBuffer(bytes.byteLength + 16), 16, bytes.byteLength);
  view.set(bytes);
  return view;
}

export interface FrameSizes {
  v1FrameBytes: number;
  v2FrameBytes: number;
  v2BodyBytes: number;
  deliveryFrameBytes: number;
  inboundRecordBytes: number;
}

export async function run(): Promise<Summary & { sizes: FrameSizes }> {
  const sequences = Array.from({ length: inputCount }, (_, i) => firstSequence + i);
  const v1Objects = sequences.map(v1FrameObject);
  const v1Frames = v1Objects.map(encodeFrame);
  const v1ArrayBuffers = v1Frames.map((f) => f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength) as ArrayBuffer);
  const v2Frames = sequences.map(v2Frame);
  const v2Bodies = sequences.map(v2Body);
  const records = sequences.map((s) => v1Record(s, benchEpochMs + s * 250 + 3));
  const inbound = records.map((r, i) => inboundMessage(r, 17 + i));
  const inboundBytes = inbound.map(encodeInbound);
  const inboundShared = inboundBytes.map(sharedView);
  const sizes: FrameSizes = {
    v1FrameBytes: v1Frames[0].byteLength,
    v2FrameBytes: v2Frames[0].byteLength,
    v2BodyBytes: v2Bodies[0].byteLength,
    deliveryFrameBytes: encodeDelivery(records[0]).byteLength,
    inboundRecordBytes: inboundBytes[0].byteLength,
  };
  checkRoundTrips(v1Frames[0], v2Frames[0], inboundShared[0], records[0]);

  let i = 0;
  let sink = 0;
  const next = (): number => i++ & (inputCount - 1);
  const summary = await b.suite(
    'frame-codec',
    b.add(`decodeFrame v1 SignalV1 (${sizes.v1FrameBytes} B)`, () => {
      const frame = decodeFrame(v1Frames[next()]);
      if (frame === null || frame.kind !== 'signalV1') throw new Error('bench v1 frame did not decode');
      sink += frame.signalV1.symbol.length;
    }),
    b.add(`decodeFrame v1 SignalV1 from a uWS ArrayBuffer (${sizes.v1FrameBytes} B)`, () => {
      const frame = decodeFrame(new Uint8Array(v1ArrayBuffers[next()]));
      if (frame === null || frame.kind !== 'signalV1') throw new Error('bench v1 frame did not decode');
      sink += frame.signalV1.symbol.length;
    }),
    b.add(`decodeFrame v2 Signed (${sizes.v2FrameBytes} B)`, () => {
      const frame = decodeFrame(v2Frames[next()]);
      if (frame === null || frame.kind !== 'signalV2') throw new Error('bench v2 frame did not decode');
      sink += frame.signalV2.body.byteLength;
    }),
    b.add(`decodeSignalBody v2 (${sizes.v2BodyBytes} B)`, () => {
      const body = decodeSignalBody(v2Bodies[next()]);
      if (body === null) throw new Error('bench v2 body did not decode');
      sink += body.symbol.length;
    }),
    b.add('encodeFrame v1 SignalV1 (fromObject + encode)', () => {
      sink += encodeFrame(v1Objects[next()]).byteLength;
    }),
    b.add(`encodeDelivery v1 record (${sizes.deliveryFrameBytes} B)`, () => {
      sink += encodeDelivery(records[next()]).byteLength;
    }),
    b.add(`encodeInbound signal event, binary ring record (${sizes.inboundRecordBytes} B)`, () => {
      sink += encodeInbound(inbound[next()]).byteLength;
    }),
    b.add('decodeInbound, private buffer', () => {
      sink += decodeInbound(inboundBytes[next()]).t.length;
    }),
    b.add('decodeInbound, SharedArrayBuffer view (read in place)', () => {
      sink += decodeInbound(inboundShared[next()]).t.length;
    }),
    b.configure({ cases: { maxTime: 1, minSamples: 5 } }),
    b.cycle(),
    b.complete(),
  );
  if (sink === 0) throw new Error('sink');
  return { ...summary, sizes };
}

/** The benches time real work only if the inputs decode to what was encoded. */
function checkRoundTrips(v1Frame: Uint8Array, v2Frame: Uint8Array, inbound: Uint8Array, record: SignalRecord): void {
  const v1 = decodeFrame(v1Frame);
  if (v1?.kind !== 'signalV1' || v1.signalV1.sequenceNumber.toString() !== String(record.sequence)) {
    throw new Error('v1 frame round trip');
  }
  const v2 = decodeFrame(v2Frame);
  if (v2?.kind !== 'signalV2' || decodeSignalBody(v2.signalV2.body)?.symbol !== 'EURUSD') {
    throw new Error('v2 frame round trip');
  }
  const message = decodeInbound(inbound);
  if (message.t !== 'event' || message.ev.kind !== 'signal' || message.ev.record.sequence !== record.sequence) {
    throw new Error('inbound record round trip');
  }
  if (Buffer.compare(Buffer.from(message.ev.record.content), record.content) !== 0) {
    throw new Error('inbound record content round trip');
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
