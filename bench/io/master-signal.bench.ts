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
import { decodeFrame, encodeFrame, verifyV2, type DecodedFrame } from '@sigplane/protocol';
import { signalFromV1, signalFromV2 } from '../../io/master-connection';
import { benchEpochMs, benchSubscriptionId, benchV1Secret, benchV2Key, benchV2KeyId, v1FrameObject, v2Frame } from '../signal-fixtures';

const inputCount = 64;
const firstSequence = 1_000_000;
/** Generous enough that every input stays fresh for the whole run. */
const settings = { ttlMs: 1e12, clockSkewMs: 1e12 };

/** The 64 inputs, encoded as a master sends them and decoded as the I/O thread hands them on. */
function decodedFrames<T>(encoded: (sequence: number) => Uint8Array, pick: (frame: DecodedFrame | null) => T | undefined): T[] {
  const frames: T[] = [];
  for (let i = 0; i < inputCount; i++) {
    const frame = pick(decodeFrame(encoded(firstSequence + i)));
    if (frame === undefined) throw new Error('bench input is not a signal frame');
    frames.push(frame);
  }
  return frames;
}

export async function run(): Promise<Summary> {
  const v1 = decodedFrames((sequence) => encodeFrame(v1FrameObject(sequence)), (f) => (f?.kind === 'signalV1' ? f.signalV1 : undefined));
  const v2 = decodedFrames(v2Frame, (f) => (f?.kind === 'signalV2' ? f.signalV2 : undefined));
  const v1Secrets = [benchV1Secret];
  const v2Keys = [{ keyId: benchV2KeyId, secret: benchV2Key }];
  const v2KeyMap = new Map([[benchV2KeyId, benchV2Key]]);
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
