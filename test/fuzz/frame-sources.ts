/**
 * What one fuzzed connection sends: a seeded stream of frames mixing raw
 * bytes, schema-random frames of every kind, signed frames and protobuf-aware
 * mutations of them, text frames, and frames at the size limits.
 *
 * Guarded sources (the subscription whose sequence state the test checks)
 * never send anything that may be accepted: a frame MACed with the
 * subscription's own key always carries a generated_at the I/O thread
 * refuses itself (2100, beyond 2^53...: signed-frames.ts), checked by
 * decoding it before it is signed. A mutation cannot make it fresh and keep the MAC.
 * Everything fresh they send is a forgery (another subscription's key, a
 * wrong key under the right key id). Playground sources sign fresh signals
 * and snapshots with their own key, so the fuzz also reaches the actor.
 */
import {
  decodeSignalBody,
  decodeSnapshotBody,
  encodeFrame,
  encodeSignalBody,
  encodeSnapshotBody,
  SignalBodyType,
  SnapshotBodyType,
  type Int64,
  macV2,
} from '@sigplane/protocol';
import type { FuzzRandom } from './fuzz-random';
import { FrameGenerator } from './frame-generator';
import { FrameMutator } from './frame-mutator';
import { WireType, WireWriter, concat } from './protobuf-wire';
import {
  assertPoisoned,
  poisoned,
  poisonedTimes,
  possiblyFresh,
  SignalV1Type,
  tryDecode,
  v1Frame,
  v1Signature,
  v2Frame,
  type Credentials,
} from './signed-frames';

export type { Credentials } from './signed-frames';

/** One WebSocket message: binary bytes, or a text message (valid text, or bytes that are not UTF-8). */
export type FuzzFrame = { binary: true; data: Uint8Array; source: string } | { binary: false; data: string | Uint8Array; source: string };

export interface SourceOptions {
  role: 'master' | 'receiver';
  /** The endpoint's limit (wire.masterFrameBytesMax / receiverFrameBytesMax). */
  frameBytesMax: number;
  own: Credentials;
  /** Other subscriptions' credentials: forgeries and WRONG_SUBSCRIPTION. */
  others: readonly Credentials[];
  /** True: nothing sent may be accepted (see the header). */
  guarded: boolean;
  /** Playground: this source numbers its fresh signals 1, 2, 3… (one per subscription), with gaps it fills later. */
  sequencer: boolean;
  /** 1 in this many frames is deliberately over the limit or bad text (the connection then closes). */
  closingEvery: number;
}

export class FrameSource {
  readonly generator: FrameGenerator;
  readonly mutator: FrameMutator;
  /** Frames produced per generator (for the report). */
  readonly counts: Record<string, number> = {};
  /** Playground sequencer: the next sequence to send, and skipped ones still to send (a gap to heal). */
  private nextSequence = 1;
  private readonly toFill: number[] = [];
  private readonly recentSigned: Uint8Array[] = [];

  constructor(private readonly random: FuzzRandom, private readonly options: SourceOptions) {
    const vocabulary = {
      subscriptionIds: [options.own.subscriptionId, ...options.others.map((o) => o.subscriptionId)],
      keyIds: [options.own.keyId, ...options.others.map((o) => o.keyId), 'k1-00000000', ''],
    };
    const budgetBytes = options.role === 'receiver' ? 3 * 1024 : 8 * 1024;
    this.generator = new FrameGenerator(random, { budgetBytes, vocabulary });
    this.mutator = new FrameMutator(random, this.generator, options.frameBytesMax);
  }

  /** What a (re)connected socket sends first: receivers mostly subscribe. */
  onConnect(): FuzzFrame[] {
    if (this.options.role !== 'receiver' || this.random.chance(0.15)) return [];
    const last = this.random.chance(0.7) ? 0 : this.random.pick([1, 5, 2 ** 53 - 1]);
    const frame = encodeFrame({ subscribe: { hasLastSequence: this.random.chance(0.8), lastSequence: last } });
    return [{ binary: true, data: frame, source: 'subscribe' }];
  }

  next(): FuzzFrame {
    const r = this.random;
    if (r.int(1, this.options.closingEvery) === 1) return this.count(this.closingFrame());
    const master = this.options.role === 'master';
    const guarded = this.options.guarded;
    // raw, schema-random, mutated signed, signed random body, forgery, text, receiver-valid mutated, playground signal, playground snapshot, limits
    const weights = master
      ? guarded
        ? [14, 22, 32, 16, 8, 4, 0, 0, 0, 0.2]
        : [6, 10, 22, 8, 2, 2, 0, 34, 8, 0.2]
      : [15, 30, 10, 3, 2, 4, 36, 0, 0, 0.3];
    switch (r.weighted(weights)) {
      case 0: return this.count(this.raw());
      case 1: return this.count({ binary: true, data: this.generator.frame(this.kind()), source: 'schema' });
      case 2: return this.count({ binary: true, data: this.mutator.mutateFrame(this.signedBase(), r.int(1, 3)), source: 'mutatedSigned' });
      case 3: return this.count({ binary: true, data: this.signedRandomBody(), source: 'signedRandomBody' });
      case 4: return this.count({ binary: true, data: this.forgery(), source: 'forgery' });
      case 5: return this.count(this.text());
      case 6: return this.count({ binary: true, data: this.mutateReceiverFrame(), source: 'mutatedReceiver' });
      case 7: return this.count({ binary: true, data: this.playgroundSignal(), source: 'playgroundSignal' });
      case 8: return this.count({ binary: true, data: this.playgroundSnapshot(), source: 'playgroundSnapshot' });
      default: return this.count(this.atLimit());
    }
  }

  private count(frame: FuzzFrame): FuzzFrame {
    this.counts[frame.source] = (this.counts[frame.source] ?? 0) + 1;
    return frame;
  }

  private kind(): number {
    const r = this.random;
    if (this.options.role === 'master') return r.chance(0.6) ? r.pick([1, 2, 3, 12]) : r.int(1, 13);
    return r.chance(0.7) ? r.pick([6, 7, 9, 12]) : r.int(1, 13);
  }

  private raw(): FuzzFrame {
    const r = this.random;
    const bytes = r.bytes(r.length(Math.min(4096, this.options.frameBytesMax)));
    // A valid Frame tag first takes the decoder one level deeper.
    if (bytes.length > 1 && r.chance(0.4)) bytes[0] = (r.int(1, 13) << 3) | WireType.LEN;
    return { binary: true, data: bytes, source: 'raw' };
  }

  private text(): FuzzFrame {
    const r = this.random;
    const choice = r.int(0, 3);
    if (choice === 0) return { binary: false, data: '', source: 'text' };
    if (choice === 1) return { binary: false, data: Buffer.from(this.generator.asciiBytes(r.length(1024))).toString('latin1'), source: 'text' };
    if (choice === 2) return { binary: false, data: 'héllo ЕURUSD 📈 \u0000 |%s%n', source: 'text' };
    // A valid Frame's bytes as a text message (ws sends the string as UTF-8).
    const frame = this.generator.frame(12);
    return { binary: false, data: Buffer.from(frame).toString('latin1'), source: 'text' };
  }

  /** Over the limit (1009 after FRAME_TOO_LARGE, or dropped past twice the limit), or text that is not UTF-8 (dropped). */
  private closingFrame(): FuzzFrame {
    const r = this.random;
    const limit = this.options.frameBytesMax;
    const choice = r.int(0, 2);
    if (choice === 0) return { binary: false, data: Uint8Array.from([0x41, 0xff, 0xfe, 0x42]), source: 'closing:textNotUtf8' };
    const size = choice === 1 ? r.pick([limit + 1, limit + r.int(2, limit - 1), 2 * limit]) : r.pick([2 * limit + 1, 2 * limit + r.int(2, 4096)]);
    return { binary: true, data: this.paddedFrame(size), source: 'closing:oversize' };
  }

  /** Frames of exactly limit - 1, limit (answered) and limit + 1 (closed) bytes. */
  private atLimit(): FuzzFrame {
    const limit = this.options.frameBytesMax;
    const size = this.random.pick([limit - 1, limit - 2, limit]);
    return { binary: true, data: this.paddedFrame(size), source: 'atLimit' };
  }

  /** A heartbeat (or random bytes) padded with an unknown field to exactly `size` bytes. */
  private paddedFrame(size: number): Uint8Array {
    if (this.random.chance(0.3)) return this.random.bytes(size);
    const head = encodeFrame({ heartbeat: { sentAt: 1 } });
    // unknown field 15, LEN: tag (1 byte) + length varint + padding = size - head.
    let padding = size - head.length - 1 - 1;
    while (padding > 0 && 1 + varintLength(padding) + padding + head.length > size) padding--;
    if (padding < 0) return this.random.bytes(size);
    const w = new WireWriter().tag(15, WireType.LEN).lengthDelimited(new Uint8Array(padding)).raw(head);
    const out = w.finish();
    return out.length === size ? out : concat([out, new Uint8Array(Math.max(0, size - out.length))]).subarray(0, size);
  }

  // ---- signed frames ----

  /** The key a frame of this source is signed with: its own (poisoned when guarded) or another's. */
  private signer(): { cred: Credentials; poison: boolean } {
    const r = this.random;
    if (r.chance(0.75) || this.options.others.length === 0) return { cred: this.options.own, poison: this.options.guarded };
    return { cred: r.pick(this.options.others), poison: false };
  }

  private generatedAt(poison: boolean): bigint {
    if (poison) return this.random.pick(poisonedTimes);
    return BigInt(Date.now() + this.random.pick([0, 0, 0, -500, 200, -61_000, 5_000]));
  }

  /**
   * A sequence near the playground's current one (a guarded source: 1..50). A valid
   * fresh signal far ahead would be held for good: the playground would sit
   * DEGRADED or SYNCING for the rest of the run, and the actor's other paths
   * would not be fuzzed. Far ones still go out, less often.
   */
  private nearSequence(): number {
    if (this.options.guarded || this.random.chance(0.02)) return this.random.int(1, 50);
    return Math.max(1, this.nextSequence - this.random.int(0, 10));
  }

  private nearValidFields(subscriptionId: string, poison: boolean): Record<string, unknown> {
    const r = this.random;
    return {
      subscriptionId: r.chance(0.9) ? subscriptionId : this.random.pick(this.options.others.map((o) => o.subscriptionId).concat(['', 'not-a-uuid'])),
      sequenceNumber: r.chance(0.8) ? this.nearSequence() : r.pick(['0', '9007199254740991', '9007199254740992', '18446744073709551615']),
      generatedAt: String(this.generatedAt(poison)),
      symbol: r.chance(0.85) ? r.pick(['EURUSD', 'GBPUSD', 'XAUUSD']) : r.pick(['', 'EUR/USD', 'A'.repeat(21), 'ЕURUSD']),
      orderType: r.chance(0.8) ? r.int(0, 1) : r.pick([2, 8, 9, -1, 2147483647]),
      volume: r.chance(0.8) ? r.pick([0.01, 0.1, 1, 0.1000049]) : r.pick([0, -0, NaN, Infinity, 100, 100.5, 5e-324]),
      price: r.chance(0.8) ? r.pick([1.08765, 1.2701, 2300.5]) : r.pick([0, -1, NaN, Infinity, 1e300]),
      action: r.chance(0.8) ? r.int(1, 4) : r.pick([0, 5, -1]),
      positionId: r.chance(0.8) ? String(1000 + r.int(0, 20)) : r.pick(['0', '18446744073709551615']),
      stopLoss: r.chance(0.9) ? 0 : r.pick([1.07, -0, -1, NaN, Infinity]),
      takeProfit: r.chance(0.9) ? 0 : r.pick([1.1, NaN, -Infinity]),
      magic: r.chance(0.9) ? 7 : '18446744073709551615',
    };
  }

  /** A signed v1, v2 or snapshot frame with near-valid fields: the base of most mutations. */
  private signedBase(): Uint8Array {
    if (this.recentSigned.length >= 16 && this.random.chance(0.7)) return this.random.pick(this.recentSigned);
    const { cred, poison } = this.signer();
    const fields = this.nearValidFields(cred.subscriptionId, poison);
    let frame: Uint8Array;
    const kind = this.random.int(0, 2);
    if (kind === 0) {
      frame = v1Frame(cred, fields);
    } else if (kind === 1) {
      frame = v2Frame(cred, fields);
    } else {
      const body = encodeSnapshotBody({ subscriptionId: fields.subscriptionId, sequenceNumber: fields.sequenceNumber, generatedAt: fields.generatedAt, positions: this.positions(this.random.int(0, 3)) });
      frame = encodeFrame({ snapshotFromMaster: { body, keyId: cred.keyId, mac: macV2(cred.key, body) } });
    }
    if (this.recentSigned.length < 64) this.recentSigned.push(frame);
    else this.recentSigned[this.random.int(0, 63)] = frame;
    return frame;
  }

  private positions(n: number): Record<string, unknown>[] {
    const r = this.random;
    return Array.from({ length: n }, (_, i) => ({
      positionId: r.chance(0.9) ? String(1000 + i) : '',
      symbol: r.pick(['EURUSD', 'GBPUSD', '']),
      orderType: r.int(0, 1),
      volume: r.pick([0.1, 1, 0, NaN]),
      openPrice: r.pick([1.08, 0, -1, NaN]),
      stopLoss: 0,
      takeProfit: 0,
      magic: 7,
      openedSequence: r.int(0, 3),
    }));
  }

  /**
   * A schema-random SignalV1, SignalBody or SnapshotBody with a correct MAC:
   * it passes the signature check and reaches decoding, field rules and
   * freshness. Poisoned (see the header) when the key is the guarded own key.
   */
  private signedRandomBody(): Uint8Array {
    const { cred, poison } = this.signer();
    const which = this.random.int(0, 2);
    if (which === 0) {
      let message = this.generator.message(SignalV1Type, 1, 1);
      let decoded = tryDecode(SignalV1Type, message);
      if (decoded === null) return new WireWriter().tag(1, WireType.LEN).lengthDelimited(message).finish();
      if (poison && possiblyFresh(decoded.generatedAt as Int64)) {
        message = poisoned(SignalV1Type, message, this.random.pick(poisonedTimes));
        const again = tryDecode(SignalV1Type, message);
        // Poisoning can leave bytes the schema cannot read (the field appended clashes with one of another type): sent unsigned, as above.
        if (again === null) return new WireWriter().tag(1, WireType.LEN).lengthDelimited(message).finish();
        decoded = again;
        assertPoisoned(decoded.generatedAt as Int64, message);
      }
      const signature = v1Signature(cred, decoded);
      const signed = new WireWriter().raw(message).tag(8, WireType.LEN).lengthDelimited(Buffer.from(signature, 'latin1')).finish();
      return new WireWriter().tag(1, WireType.LEN).lengthDelimited(signed).finish();
    }
    const snapshot = which === 2;
    let body = this.generator.message(snapshot ? SnapshotBodyType : SignalBodyType, 1, snapshot ? 3 : 2);
    if (!poison && !snapshot && this.random.chance(0.9)) body = concat([body, new WireWriter().tag(2, WireType.VARINT).varint(this.nearSequence()).finish()]);
    if (poison) {
      const decoded = snapshot ? decodeSnapshotBody(body) : decodeSignalBody(body);
      if (decoded !== null && possiblyFresh(decoded.generatedAt)) {
        body = poisoned(snapshot ? SnapshotBodyType : SignalBodyType, body, this.random.pick(poisonedTimes));
        const again = snapshot ? decodeSnapshotBody(body) : decodeSignalBody(body);
        if (again !== null) assertPoisoned(again.generatedAt, body);
      }
    }
    const signed = { body, keyId: cred.keyId, mac: macV2(cred.key, body) };
    return encodeFrame(snapshot ? { snapshotFromMaster: signed } : { signalV2: signed });
  }

  /** A fresh, well-formed signal for this subscription signed with a key that is not its own. */
  private forgery(): Uint8Array {
    const r = this.random;
    const fields = { ...this.nearValidFields(this.options.own.subscriptionId, false), sequenceNumber: r.pick([1, 2, 1000, 9007199254740991]) };
    const other = this.options.others.length > 0 ? r.pick(this.options.others) : null;
    const wrongKey = Buffer.alloc(32, r.int(0, 255));
    const cred: Credentials =
      other !== null && r.chance(0.5)
        ? other
        : { ...this.options.own, key: wrongKey, v1Secret: wrongKey.toString('hex') };
    if (this.options.guarded && cred.key.equals(this.options.own.key)) throw new Error('forgery signed with the own key');
    if (r.chance(0.5)) return v1Frame(cred, fields);
    const body = encodeSignalBody(fields);
    return encodeFrame({ signalV2: { body, keyId: r.chance(0.5) ? this.options.own.keyId : cred.keyId, mac: macV2(cred.key, body) } });
  }

  private mutateReceiverFrame(): Uint8Array {
    const r = this.random;
    const base = r.pick([
      () => encodeFrame({ subscribe: { hasLastSequence: r.chance(0.5), lastSequence: r.pick([0, 1, 2 ** 53 - 1, '18446744073709551615']) } }),
      () => encodeFrame({ deliveryAck: { sequenceNumber: r.pick([0, 1, 2, 2 ** 53 - 1, '9007199254740992']) } }),
      () => encodeFrame({ syncRequest: { fromSequence: r.pick([0, 1, 2, '18446744073709551615']), toSequence: r.int(0, 5), full: r.chance(0.3) } }),
      () => encodeFrame({ heartbeat: { sentAt: Date.now() } }),
    ])();
    return r.chance(0.3) ? base : this.mutator.mutateFrame(base, r.int(1, 3));
  }

  // ---- playground: fresh frames signed with the own key, to reach the actor ----

  private playgroundSignal(): Uint8Array {
    const r = this.random;
    const { own } = this.options;
    if (r.chance(0.1) && this.recentSigned.length > 0) return r.pick(this.recentSigned); // DUPLICATE, REPLAY, or held again
    let sequence: number;
    if (!this.options.sequencer) {
      sequence = r.int(1, 5); // another master of the subscription, far behind: REPLAY (or held, early on)
    } else if (this.toFill.length > 0 && r.chance(0.5)) {
      // The gap healed, mostly in order, sometimes out of order.
      sequence = this.toFill.splice(r.chance(0.7) ? 0 : r.int(0, this.toFill.length - 1), 1)[0]!;
    } else {
      if (r.chance(0.03)) {
        // A gap: held, DEGRADED, a SyncRequest; past 1024 held, DEGRADED_BUFFER_FULL and SYNCING (a snapshot heals it).
        const skipped = r.chance(0.01) ? r.int(1025, 1200) : r.int(1, 20);
        for (let i = 0; i < skipped; i++) this.toFill.push(this.nextSequence + i);
        this.nextSequence += skipped;
      }
      sequence = this.nextSequence++;
    }
    let frame: Uint8Array;
    if (r.chance(0.75)) {
      // Clean: a v1 market order the actor takes when it is next (BUY and SELL keep the book small).
      frame = v1Frame(own, { ...v1Clean, subscriptionId: own.subscriptionId, sequenceNumber: sequence, generatedAt: String(Date.now()), orderType: sequence % 2 });
    } else {
      // Dirty: any field may be off, v1 or v2 (refused by the rules, the book or the price guard, or taken).
      // The sequencer sends the sequence again, clean, later: a refusal does not leave a hole for good.
      if (this.options.sequencer) this.toFill.push(sequence);
      const fields: Record<string, unknown> = { ...this.nearValidFields(own.subscriptionId, false), sequenceNumber: sequence, generatedAt: String(Date.now()) };
      if (r.chance(0.4)) {
        frame = v1Frame(own, fields);
      } else {
        frame = v2Frame(own, fields);
      }
    }
    if (this.recentSigned.length < 64) this.recentSigned.push(frame);
    else this.recentSigned[r.int(0, 63)] = frame;
    return frame;
  }

  /** A fresh signed snapshot: well-formed positions whose strings may be huge or not UTF-8. */
  private playgroundSnapshot(): Uint8Array {
    const r = this.random;
    const { own } = this.options;
    const count = r.chance(0.9) ? r.int(0, 5) : r.int(1, 2000);
    // Position records take ~40 bytes besides their strings.
    const budget = Math.max(0, (r.chance(0.05) ? this.options.frameBytesMax - 1024 : 4096) - count * 48);
    const w = new WireWriter();
    // Mostly at the sequencer's last sequence (heals a gap), sometimes behind (REPLAY), rarely ahead.
    const last = this.nextSequence - 1;
    const sequence = r.chance(0.8) ? last : r.chance(0.9) ? r.int(0, last) : last + r.int(1, 5);
    w.tag(1, WireType.LEN).lengthDelimited(Buffer.from(own.subscriptionId));
    w.tag(2, WireType.VARINT).varint(sequence);
    w.tag(3, WireType.VARINT).varint(Date.now());
    const stringBytes = (): Uint8Array => {
      if (r.chance(0.8)) return Buffer.from(r.pick(['EURUSD', 'GBPUSD', 'X']));
      const n = r.int(1, Math.max(1, Math.floor(budget / Math.max(1, count * 2))));
      return r.chance(0.5) ? this.generator.invalidUtf8Bytes(n) : this.generator.asciiBytes(n);
    };
    for (let i = 0; i < count; i++) {
      const p = new WireWriter();
      p.tag(1, WireType.LEN).lengthDelimited(r.chance(0.9) ? Buffer.from(String(1000 + i)) : stringBytes());
      p.tag(2, WireType.LEN).lengthDelimited(stringBytes());
      p.tag(3, WireType.VARINT).varint(r.int(0, 1));
      p.tag(4, WireType.FIXED64).double(r.pick([0.1, 1, 0.01]));
      p.tag(5, WireType.FIXED64).double(1.08);
      if (r.chance(0.2)) p.tag(8, WireType.VARINT).varint(2n ** 64n - 1n);
      p.tag(9, WireType.VARINT).varint(Math.min(sequence, r.int(0, 3)));
      w.tag(4, WireType.LEN).lengthDelimited(p.finish());
    }
    const body = w.finish();
    const frame = encodeFrame({ snapshotFromMaster: { body, keyId: own.keyId, mac: macV2(own.key, body) } });
    return frame.length <= this.options.frameBytesMax ? frame : frame.subarray(0, this.options.frameBytesMax);
  }
}

/** The sequencer's clean signals trade a symbol no dirty one touches (the price guard keeps its reference). */
const v1Clean = { symbol: 'USDCHF', volume: 0.1, price: 0.91234 };

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}
