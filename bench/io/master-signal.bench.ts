/**
 * A master's signal on the I/O thread, from decoded frame to the record
 * handed to the shard (io/master-connection.ts): the MAC, for v2 the body's
 * decode, the field rules, freshness and the SignalRecord itself. v1 and
 * v2, one key each; and for v2 the same without the MAC's share, measured
 * apart as verifyV2 alone, so that what the field list costs is visible.
 *
 *   npx tsc -b tsconfig.json && node dist/bench/io/master-signal.bench.js
 *
 * Inputs rotate through 64 prepared signals; results feed a sink.
 */
import b from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';
import { decodeFrame, encodeFrame, encodeSignalBody, macV2, signV1, verifyV2, type SignedFrame, type SignalV1Frame } from '@sigplane/protocol';
import { signalFromV1, signalFromV2 } from '../../io/master-connection';
import { benchEpochMs, benchSubscriptionId, benchV1Secret, v1Fields } from '../signal-fixtures';

const inputCount = 64;
const firstSequence = 1_000_000;
const v2KeyId = '2026-11';
const v2Key = Buffer.from(new Uint8Array(32).map((_, j) => (j * 13 + 5) & 0xff));
/** Generous enough that every input stays fresh for the whole run. */
const settings = { ttlMs: 1e12, clockSkewMs: 1e12 };

function v1Frames(): SignalV1Frame[] {
  const frames: SignalV1Frame[] = [];
  for (let i = 0; i < inputCount; i++) {
    const fields = v1Fields(firstSequence + i);
    const bytes = encodeFrame({
      signalV1: {
        subscriptionId: fields.subscriptionId,
        sequenceNumber: fields.sequence,
        generatedAt: fields.generatedAt,
        symbol: fields.symbol,
        orderType: fields.orderType,
        volume: fields.volume,
        price: fields.price,
        signature: signV1(benchV1Secret, fields),
      },
    });
    const frame = decodeFrame(bytes);
    if (frame === null || frame.kind !== 'signalV1') throw new Error('bench input is not a SignalV1');
    frames.push(frame.signalV1);
  }
  return frames;
}

/** A v2 OPEN with stops and a magic number: every SignalBody field set. */
function v2Frames(): SignedFrame[] {
  const frames: SignedFrame[] = [];
  for (let i = 0; i < inputCount; i++) {
    const sequence = firstSequence + i;
    const body = encodeSignalBody({
      subscriptionId: benchSubscriptionId,
      sequenceNumber: sequence,
      generatedAt: benchEpochMs + sequence * 250,
      symbol: 'EURUSD',
      orderType: i % 2,
      volume: 0.25,
      price: 1.08765 + (sequence % 8) / 100_000,
      action: 1,
      positionId: String(5_000_000_000 + sequence),
      stopLoss: 1.08265,
      takeProfit: 1.09765,
      magic: '20260101',
    });
    const frame = decodeFrame(encodeFrame({ signalV2: { body, keyId: v2KeyId, mac: macV2(v2Key, body) } }));
    if (frame === null || frame.kind !== 'signalV2') throw new Error('bench input is not a Signed frame');
    frames.push(frame.signalV2);
  }
  return frames;
}

export async function run(): Promise<Summary> {
  const v1 = v1Frames();
  const v2 = v2Frames();
  const v1Secrets = [benchV1Secret];
  const v2Keys = [{ keyId: v2KeyId, secret: v2Key }];
  const v2KeyMap = new Map([[v2KeyId, v2Key]]);
  let i = 0;
  let sink = 0;
  const nowMs = benchEpochMs + firstSequence * 250;

  const summary = await b.suite(
    'master-signal',
    b.add('signalFromV1: MAC, rules, freshness, record', () => {
      const record = signalFromV1(v1[i++ & (inputCount - 1)], v1Secrets, benchSubscriptionId, nowMs, settings);
      if ('code' in record) throw new Error(`bench input refused: ${record.code} ${record.message}`);
      sink += record.sequence;
    }),
    b.add('signalFromV2: MAC, body decode, rules, freshness, record', () => {
      const record = signalFromV2(v2[i++ & (inputCount - 1)], v2Keys, benchSubscriptionId, nowMs, settings);
      if ('code' in record) throw new Error(`bench input refused: ${record.code} ${record.message}`);
      sink += record.sequence;
    }),
    b.add('verifyV2 alone (the MAC share of signalFromV2)', () => {
      const s = v2[i++ & (inputCount - 1)];
      if (verifyV2(v2KeyMap, s.keyId, s.body, s.mac) !== 'ok') throw new Error('bench input did not verify');
      sink += 1;
    }),
    b.cycle(),
    b.complete(),
  );
  if (sink === 0) throw new Error('sink');
  return summary;
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
