/**
 * The decoders in-process, millions of inputs, no sockets: decodeFrame,
 * decodeSignalBody, decodeSnapshotBody, and the I/O thread's signalFromV1,
 * signalFromV2 and snapshotFromMaster with random keys (the input's own key,
 * other keys, keys of the wrong length, rotations of two). Inputs: the frame
 * sources of the endpoint fuzz (raw bytes, schema-random frames, signed and
 * mutated frames) and cheap mutations of a corpus of them.
 *
 * Checked: nothing throws; every refusal names a RejectCode; every record
 * the I/O thread lets through obeys the field rules it claims to enforce and
 * is one the journal can store and the actor can take (a record the journal
 * refuses kills the shard that commits it).
 *
 * SIGPLANE_FUZZ_SEED replays, SIGPLANE_FUZZ_DECODER_INPUTS sets the volume
 * (default 2,000,000).
 */
import { describe, expect, it } from 'vitest';
import {
  subscriptionDefaults,
  wire,
  RejectCode,
  type SignalRecord,
  type SnapshotRecord,
  checkSignalFields,
  decodeFrame,
  decodeSignalBody,
  decodeSnapshotBody,
} from '@sigplane/protocol';
import { checkSnapshotPositions } from '../../actors/positions-book';
import { signalFromV1, signalFromV2, snapshotFromMaster } from '../../io/master-connection';
import { checkSignal as journalCheckSignal, checkSnapshot as journalCheckSnapshot } from '../../persistence/journal-codec';
import { envCount, fuzzSeed, FuzzRandom, toHex } from './fuzz-random';
import { FrameSource, type Credentials } from './frame-sources';

const inputsTotal = envCount('SIGPLANE_FUZZ_DECODER_INPUTS', 2_000_000);
const rejectCodes = new Set<string>(Object.values(RejectCode));
const settings = { ttlMs: subscriptionDefaults.ttlMs, clockSkewMs: subscriptionDefaults.clockSkewMs };

function credentials(random: FuzzRandom, subscriptionId: string): Credentials {
  const key = Buffer.from(random.bytes(32));
  return { subscriptionId, keyId: `k1-${toHex(random.bytes(4))}`, key, v1Secret: key.toString('hex') };
}

interface KeySet {
  v1: Buffer[];
  v2: { keyId: string; secret: Buffer }[];
}

/** The keys a connection holds: its own (the input may be signed with it), others, a broken one. */
function keySets(random: FuzzRandom, own: Credentials): KeySet[] {
  const other = credentials(random, own.subscriptionId);
  const ownV1 = Buffer.from(own.v1Secret, 'utf8');
  return [
    { v1: [ownV1], v2: [{ keyId: own.keyId, secret: own.key }] },
    { v1: [Buffer.from(other.v1Secret), ownV1], v2: [{ keyId: other.keyId, secret: other.key }, { keyId: own.keyId, secret: own.key }] },
    { v1: [Buffer.alloc(0)], v2: [{ keyId: own.keyId, secret: own.key.subarray(0, 16) }] },
    { v1: [Buffer.from(other.v1Secret)], v2: [{ keyId: other.keyId, secret: other.key }] },
  ];
}

/** What went wrong, by kind: a throw or unknown code, a field rule, the journal. */
class Findings {
  readonly messages: Record<'throws' | 'rules' | 'journal', string[]> = { throws: [], rules: [], journal: [] };
  private readonly seen = new Set<string>();
  add(message: string, input: Uint8Array, kind: 'throws' | 'rules' | 'journal' = 'throws'): void {
    // One example per distinct message (first line), at most 10 per kind.
    const key = `${kind}:${message.split('\n')[0]!.replace(/[0-9]+/g, 'N')}`;
    if (this.seen.has(key) || this.messages[kind].length >= 10) return;
    this.seen.add(key);
    this.messages[kind].push(`${message}\n  input ${toHex(input, 512)}`);
  }
}

/** Runs every decoder on one input; `journal` also checks that admitted records are storable. */
function exercise(input: Uint8Array, keys: KeySet, subscriptionId: string, findings: Findings, counts: Record<string, number>): void {
  const nowMs = Date.now();
  let frame;
  try {
    frame = decodeFrame(input);
    // The raw input as a body too (a Signed body is attacker bytes): one input in four, for speed.
    if ((input.length & 3) === 0) {
      decodeSignalBody(input);
      decodeSnapshotBody(input);
    }
  } catch (error) {
    return findings.add(`a decoder threw: ${(error as Error).stack}`, input);
  }
  if (frame === null) return;
  const check = (result: { code: string } | SignalRecord | SnapshotRecord, what: string): void => {
    counts[`${what}:${'code' in result ? result.code : 'admitted'}`] = (counts[`${what}:${'code' in result ? result.code : 'admitted'}`] ?? 0) + 1;
    if ('code' in result && !rejectCodes.has(result.code)) findings.add(`${what} refused with an unknown code ${result.code}`, input);
  };
  try {
    if (frame.kind === 'signalV1') {
      const result = signalFromV1(frame.signalV1, keys.v1, subscriptionId, nowMs, settings);
      check(result, 'v1');
      if (!('code' in result)) checkAdmittedSignal(result, subscriptionId, input, findings);
    } else if (frame.kind === 'signalV2') {
      decodeSignalBody(frame.signalV2.body);
      const result = signalFromV2(frame.signalV2, keys.v2, subscriptionId, nowMs, settings);
      check(result, 'v2');
      if (!('code' in result)) checkAdmittedSignal(result, subscriptionId, input, findings);
    } else if (frame.kind === 'snapshotFromMaster') {
      decodeSnapshotBody(frame.snapshotFromMaster.body);
      const result = snapshotFromMaster(frame.snapshotFromMaster, keys.v2, subscriptionId, nowMs, settings);
      check(result, 'snapshot');
      if (!('code' in result)) checkAdmittedSnapshot(result, subscriptionId, input, findings);
    }
  } catch (error) {
    findings.add(`${frame.kind}: the I/O thread's check threw: ${(error as Error).stack}`, input);
  }
}

function checkAdmittedSignal(r: SignalRecord, subscriptionId: string, input: Uint8Array, findings: Findings): void {
  if (r.subscriptionId !== subscriptionId) findings.add(`admitted a signal of ${r.subscriptionId}`, input, 'rules');
  if (!(Math.abs(r.generatedAtMs - Date.now()) <= 120_000)) findings.add(`admitted a signal generated at ${r.generatedAtMs}`, input, 'rules');
  // The record is what receivers execute (v1: the %.5f values the MAC covered): the seed's rules hold for it.
  const problem = checkSignalFields(
    r.signingVersion === 1
      ? { version: 1, subscriptionId: r.subscriptionId, sequence: r.sequence, symbol: r.symbol, orderType: r.orderType, volume: r.volume, price: r.price }
      : { version: 2, subscriptionId: r.subscriptionId, sequence: r.sequence, symbol: r.symbol, orderType: r.orderType, volume: r.volume, price: r.price, action: r.action, positionId: r.positionId, stopLoss: r.stopLoss, takeProfit: r.takeProfit },
  );
  if (problem !== null) findings.add(`admitted a v${r.signingVersion} signal whose executed fields break the rules: ${problem.message} (volume ${r.volume}, price ${r.price})`, input, 'rules');
  try {
    journalCheckSignal(r);
  } catch (error) {
    findings.add(`admitted a signal the journal refuses (the shard would die committing it): ${(error as Error).message}`, input, 'journal');
  }
}

function checkAdmittedSnapshot(s: SnapshotRecord, subscriptionId: string, input: Uint8Array, findings: Findings): void {
  if (s.subscriptionId !== subscriptionId) findings.add(`admitted a snapshot of ${s.subscriptionId}`, input, 'rules');
  if (s.positions.length > wire.snapshotPositionsMax) findings.add(`admitted ${s.positions.length} positions`, input, 'rules');
  // What the actor takes (checkSnapshotPositions null) it persists: the journal must take it too.
  if (checkSnapshotPositions(s.positions, s.sequence) !== null) return;
  try {
    journalCheckSnapshot(s);
  } catch (error) {
    findings.add(`a snapshot the I/O thread and the actor accept is one the journal refuses (the shard dies committing it): ${(error as Error).message}`, input, 'journal');
  }
}

function run(label: string): { findings: Findings; inputs: number; seconds: number; counts: Record<string, number> } {
  const seed = fuzzSeed(label);
  const random = new FuzzRandom(seed);
  const subscriptionId = '27566686-79ba-4058-afa2-d5772dcc3993';
  const own = credentials(random, subscriptionId);
  const other = credentials(random, '43f05d38-ab8d-47e6-880c-66a5cbc6a722');
  const sources = [
    new FrameSource(random.fork(), { role: 'master', frameBytesMax: wire.masterFrameBytesMax, own, others: [other], guarded: false, sequencer: true, closingEvery: 1e9 }),
    new FrameSource(random.fork(), { role: 'master', frameBytesMax: wire.masterFrameBytesMax, own, others: [other], guarded: true, sequencer: false, closingEvery: 1e9 }),
    new FrameSource(random.fork(), { role: 'receiver', frameBytesMax: wire.receiverFrameBytesMax, own, others: [other], guarded: true, sequencer: false, closingEvery: 1e9 }),
  ];
  const keys = keySets(random, own);
  const findings = new Findings();
  const counts: Record<string, number> = {};
  const corpus: Uint8Array[] = [];
  const started = performance.now();
  let inputs = 0;
  // protobufjs builds an Error (with a stack) for every malformed input: the stack is most of the cost.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    while (inputs < inputsTotal) {
      let input: Uint8Array;
      if (corpus.length < 20_000 || random.chance(0.1)) {
        const frame = random.pick(sources).next();
        input = typeof frame.data === 'string' ? Buffer.from(frame.data) : frame.data;
        if (input.length <= 4 * 1024) {
          if (corpus.length < 20_000) corpus.push(input);
          else corpus[random.int(0, corpus.length - 1)] = input;
        }
      } else {
        // Cheap mutations of the corpus: a bit flip, a cut, a byte run (the structure-aware ones are above).
        const base = random.pick(corpus);
        input = Uint8Array.from(base);
        const op = random.int(0, 2);
        if (op === 0 && input.length > 0) input[random.int(0, input.length - 1)]! ^= 1 << random.int(0, 7);
        else if (op === 1) input = input.subarray(0, random.int(0, input.length));
        else if (input.length > 0) input.fill(random.int(0, 255), random.int(0, input.length - 1), random.int(0, input.length));
      }
      exercise(input, random.pick(keys), subscriptionId, findings, counts);
      inputs++;
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`[fuzz] ${label}: seed ${seed}: ${inputs} inputs in ${seconds.toFixed(1)} s = ${Math.round(inputs / seconds)} inputs/s\n[fuzz] outcomes: ${JSON.stringify(counts)}`);
  return { findings, inputs, seconds, counts };
}

let result: ReturnType<typeof run> | null = null;
/** One run for all three checks (filtering to one of them still runs it). */
function once(): ReturnType<typeof run> {
  result ??= run('decoders');
  return result;
}

describe('fuzzing the decoders in-process', () => {
  it(`${inputsTotal} inputs: no decoder or I/O-thread check throws, every refusal names a known code`, () => {
    const { findings, inputs, counts } = once();
    expect(findings.messages.throws, findings.messages.throws.join('\n\n')).toEqual([]);
    expect(inputs).toBe(inputsTotal);
    // The inputs reach past the MAC: admitted signals and snapshots, and refusals after it.
    for (const what of ['v1', 'v2', 'snapshot']) expect(counts[`${what}:admitted`] ?? 0, what).toBeGreaterThan(0);
    expect(counts['v2:STALE'] ?? 0).toBeGreaterThan(0);
  }, 900_000);

  it('every signal the I/O thread admits obeys the field rules in what receivers execute', () => {
    const { findings } = once();
    expect(findings.messages.rules, findings.messages.rules.join('\n\n')).toEqual([]);
  }, 900_000);

  it('every record the I/O thread (and the actor) admits is one the journal can store', () => {
    const { findings } = once();
    expect(findings.messages.journal, findings.messages.journal.join('\n\n')).toEqual([]);
  }, 900_000);
});
