/**
 * What travels through the rings between the I/O thread and a shard worker.
 * Records are msgpackr-encoded plain objects (one record per message),
 * except a signal's event and the frames sent back: a fixed binary layout
 * (see encodeSignalEvent, encodeSend).
 *
 * I/O -> shard (`ShardInbound`): actor events for a subscription, and
 * security events to journal.
 * shard -> I/O (`ShardOutbound`): frames already encoded as protobuf bytes,
 * each with its audience. The I/O thread only routes bytes; the shard did
 * the encoding, off the I/O thread.
 */
import { Packr } from 'msgpackr';
import type { ActorEvent, ConnId } from '../actors/actor-types';
import type { SubscriptionSettings, ExecutionReportRecord, SecurityEvent, SignalRecord, SubscriptionState } from '@sigplane/protocol';
import type { ThreadMemory } from '../persistence/thread-memory';

/**
 * Exit codes of a shard worker that the host treats apart. A journal write
 * that found no space (SQLITE_FULL) ends the worker with journalOutOfSpace:
 * the host waits for space instead of counting it as a crash.
 */
export const shardExitCode = {
  journalOutOfSpace: 75,
} as const;

export type ShardInbound =
  /** t0: the I/O thread's performance.now() when the frame arrived (latency metrics only). */
  /** remoteAddress: on a masterAttach, the master's source address (named by the security events of the shard's refusals). */
  | { t: 'event'; sub: string; ev: ActorEvent; settings?: SubscriptionSettings; t0?: number; remoteAddress?: string }
  | { t: 'security'; ev: SecurityEvent }
  /** A receiver's execution report, checked by the I/O thread: journaled, then acked to `conn` (from remoteAddress). */
  | { t: 'report'; sub: string; conn: ConnId; report: ExecutionReportRecord; remoteAddress: string }
  /** Finish the batch, close the journal, end the loop. */
  | { t: 'stop' };

export const Audience = {
  /** One connection. */
  CONN: 0,
  /** Every live receiver of the subscription. */
  RECEIVERS: 1,
  /** Every master of the subscription. */
  MASTERS: 2,
  /** Every master and receiver of the subscription. */
  ALL: 3,
} as const;
export type Audience = (typeof Audience)[keyof typeof Audience];

export type ShardOutbound =
  /** Send `frame` to the audience. t0 echoes the inbound t0 of the signal it answers (0: not timed). */
  | { t: 'send'; to: Audience; sub: string; conn: ConnId; frame: Uint8Array; kind: FrameKind; seq: number; t0: number; /** An ack's status or a reject's code (metrics). */ outcome?: string; /** A report ack: what was reported (metrics). */ report?: ReportMetric }
  /** The receiver is caught up: from now on it gets live deliveries. */
  | { t: 'live'; sub: string; conn: ConnId }
  /** A subscription changed state, or was recovered in one other than ACTIVE (metrics, status, incident control). */
  | { t: 'state'; sub: string; state: SubscriptionState; seq: number }
  /** The worker finished recovery and is taking records. */
  | { t: 'ready'; subscriptions: number; signals: number }
  /** A security event the shard journaled (the I/O thread logs it, within its log budget). */
  | { t: 'security'; ev: SecurityEvent }
  /** Counters the I/O thread aggregates into /metrics, and the worker's own memory. */
  | { t: 'stats'; journalCommits: number; journalRows: number; journalCommitMsTotal: number; memory: ThreadMemory; windowRecords: number };

/** What /metrics keeps of an acked execution report. */
export interface ReportMetric {
  kind: string;
  outcome: string;
  delayMs: number | null;
  slippagePips: number | null;
}

export type FrameKind = 'ack' | 'reject' | 'delivery' | 'snapshot' | 'state' | 'sync' | 'welcome' | 'reportAck';

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * msgpackr's native string decoder refuses views of a SharedArrayBuffer, and
 * decoded byte fields would alias the ring: decode from a private copy.
 */
function privateCopy(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof SharedArrayBuffer ? bytes.slice() : bytes;
}

/**
 * The records of every signal (its event in, its ack and its deliveries
 * out) have a fixed binary layout instead of msgpackr: encoding and
 * decoding the three cost ~12 us per signal with msgpackr on the 2-core
 * bench machine, ~5 us with this layout (and ring views are read in place,
 * not copied first). Every other record stays msgpackr. A binary record
 * starts with 0xc1, a byte msgpack never uses, then its layout:
 *
 *   signal event: 0xc1 1 | flags | signingVersion | f64 x 11 | str x 5 | bytes (content)
 *   send:         0xc1 2 | flags | to | frameKind | f64 x 3 | str x 1-2 | bytes (frame)
 *
 * f64 little-endian (every number, so any value comes back exact); str and
 * bytes: u32 length then the UTF-8 text or the bytes.
 */
const binaryTag = 0xc1;
const BinaryLayout = { SIGNAL_EVENT: 1, SEND: 2 } as const;
const hasT0Flag = 1;
const hasOutcomeFlag = 1;
const frameKinds = ['ack', 'reject', 'delivery', 'snapshot', 'state', 'sync', 'welcome', 'reportAck'] as const satisfies readonly FrameKind[];
const frameKindCodes = new Map(frameKinds.map((kind, code) => [kind, code]));

/** Encoding scratch (records are copied out of it): grows to the largest record written. */
let scratch = Buffer.allocUnsafeSlow(4096);
let writeAt = 0;

function startWrite(maxBytes: number): void {
  if (scratch.length < maxBytes) scratch = Buffer.allocUnsafeSlow(maxBytes * 2);
  writeAt = 0;
}
function writeU8(value: number): void {
  scratch[writeAt++] = value;
}
function writeF64(value: number): void {
  writeAt = scratch.writeDoubleLE(value, writeAt);
}
function writeStr(value: string): void {
  const length = value.length === 0 ? 0 : scratch.write(value, writeAt + 4, 'utf8');
  scratch.writeUInt32LE(length, writeAt);
  writeAt += 4 + length;
}
function writeBytes(value: Uint8Array): void {
  scratch.writeUInt32LE(value.length, writeAt);
  scratch.set(value, writeAt + 4);
  writeAt += 4 + value.length;
}
function endWrite(): Uint8Array {
  // From Node's pool: a record lives only until it is copied into the ring.
  const out = Buffer.allocUnsafe(writeAt);
  scratch.copy(out, 0, 0, writeAt);
  return out;
}
/** Bytes a string takes at most in UTF-8, with its length prefix. */
function strBytesMax(value: string): number {
  return 4 + value.length * 3;
}

/**
 * Reads one binary record where it is (a view of the ring: nothing is
 * copied but the byte fields, each into a Buffer of its own).
 */
class BinaryReader {
  private readonly buf: Buffer;
  private at: number;
  constructor(bytes: Uint8Array) {
    this.buf = bufferOver(bytes.buffer);
    this.at = bytes.byteOffset + 2;
  }
  u8(): number {
    return this.buf[this.at++];
  }
  f64(): number {
    const value = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }
  str(): string {
    const length = this.buf.readUInt32LE(this.at);
    const start = this.at + 4;
    this.at = start + length;
    return length === 0 ? '' : this.buf.toString('utf8', start, this.at);
  }
  /** A subscription id: the same as the last one most of the time, then not decoded again. */
  subscriptionId(): string {
    const buf = this.buf;
    const length = buf.readUInt32LE(this.at);
    const start = this.at + 4;
    this.at = start + length;
    if (length === lastIdBytes.length) {
      let i = 0;
      while (i < length && buf[start + i] === lastIdBytes[i]) i++;
      if (i === length) return lastId;
    }
    lastId = buf.toString('utf8', start, this.at);
    lastIdBytes = Buffer.from(buf.subarray(start, this.at));
    return lastId;
  }
  /**
   * A copy: `pooled` for a field that is dropped soon (a frame, sent in this
   * batch), else in memory of its own, so that a field kept long (a
   * signal's content, in the actor's window) does not keep a pool slab alive.
   */
  bytes(pooled: boolean): Buffer {
    const length = this.buf.readUInt32LE(this.at);
    const start = this.at + 4;
    this.at = start + length;
    const copy = pooled ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length);
    this.buf.copy(copy, 0, start, this.at);
    return copy;
  }
}

let lastId = '';
let lastIdBytes: Buffer = Buffer.alloc(0);

/** A Buffer over a whole (Shared)ArrayBuffer, kept for the ring a thread reads from. */
let lastBacking: ArrayBufferLike | null = null;
let lastBuffer: Buffer = Buffer.alloc(0);
function bufferOver(backing: ArrayBufferLike): Buffer {
  if (backing !== lastBacking) {
    lastBuffer = Buffer.from(backing);
    lastBacking = backing;
  }
  return lastBuffer;
}

/**
 * The binary layouts name every field of what they carry: a field added to
 * SignalRecord, to the signal event or to the send record without a place
 * in its layout fails to compile here instead of vanishing in the ring.
 */
type SignalFieldsInLayout =
  | 'subscriptionId' | 'sequence' | 'generatedAtMs' | 'symbol' | 'orderType' | 'volume' | 'price' | 'action'
  | 'positionId' | 'stopLoss' | 'takeProfit' | 'magic' | 'signingVersion' | 'content' | 'receivedAtMs';
type SendFieldsInLayout = 't' | 'to' | 'sub' | 'conn' | 'frame' | 'kind' | 'seq' | 't0' | 'outcome' | 'report';
type ExactlyCovered<Keys, Covered> = [Exclude<Keys, Covered>] extends [never] ? ([Exclude<Covered, Keys>] extends [never] ? true : false) : false;
const layoutsCoverEveryField: [
  ExactlyCovered<keyof SignalRecord, SignalFieldsInLayout>,
  ExactlyCovered<keyof Extract<ShardInbound, { t: 'event' }>, 't' | 'sub' | 'ev' | 'settings' | 't0' | 'remoteAddress'>,
  ExactlyCovered<keyof Extract<ActorEvent, { kind: 'signal' }>, 'kind' | 'connId' | 'record'>,
  ExactlyCovered<keyof Extract<ShardOutbound, { t: 'send' }>, SendFieldsInLayout>,
  ExactlyCovered<FrameKind, (typeof frameKinds)[number]>,
] = [true, true, true, true, true];
void layoutsCoverEveryField;

function encodeSignalEvent(message: Extract<ShardInbound, { t: 'event' }>, ev: Extract<ActorEvent, { kind: 'signal' }>): Uint8Array {
  const r = ev.record;
  startWrite(
    4 + 11 * 8 + strBytesMax(message.sub) + strBytesMax(r.subscriptionId) + strBytesMax(r.symbol) + strBytesMax(r.positionId) + strBytesMax(r.magic) + 4 + r.content.length,
  );
  writeU8(binaryTag);
  writeU8(BinaryLayout.SIGNAL_EVENT);
  writeU8(message.t0 === undefined ? 0 : hasT0Flag);
  writeU8(r.signingVersion);
  writeF64(ev.connId);
  writeF64(message.t0 ?? 0);
  writeF64(r.sequence);
  writeF64(r.generatedAtMs);
  writeF64(r.orderType);
  writeF64(r.volume);
  writeF64(r.price);
  writeF64(r.action);
  writeF64(r.stopLoss);
  writeF64(r.takeProfit);
  writeF64(r.receivedAtMs);
  writeStr(message.sub);
  writeStr(r.subscriptionId);
  writeStr(r.symbol);
  writeStr(r.positionId);
  writeStr(r.magic);
  writeBytes(r.content);
  return endWrite();
}

function decodeSignalEvent(read: BinaryReader): ShardInbound {
  const flags = read.u8();
  const signingVersion = read.u8() as 1 | 2;
  const connId = read.f64();
  const t0 = read.f64();
  const sequence = read.f64();
  const generatedAtMs = read.f64();
  const orderType = read.f64();
  const volume = read.f64();
  const price = read.f64();
  const action = read.f64();
  const stopLoss = read.f64();
  const takeProfit = read.f64();
  const receivedAtMs = read.f64();
  const sub = read.subscriptionId();
  const record: SignalRecord = {
    subscriptionId: read.subscriptionId(),
    sequence,
    generatedAtMs,
    symbol: read.str(),
    orderType,
    volume,
    price,
    action,
    positionId: read.str(),
    stopLoss,
    takeProfit,
    magic: read.str(),
    signingVersion,
    content: read.bytes(false),
    receivedAtMs,
  };
  const ev: ActorEvent = { kind: 'signal', connId, record };
  return (flags & hasT0Flag) !== 0 ? { t: 'event', sub, ev, t0 } : { t: 'event', sub, ev };
}

function encodeSend(message: Extract<ShardOutbound, { t: 'send' }>): Uint8Array {
  const outcome = message.outcome;
  startWrite(5 + 3 * 8 + strBytesMax(message.sub) + (outcome === undefined ? 0 : strBytesMax(outcome)) + 4 + message.frame.length);
  writeU8(binaryTag);
  writeU8(BinaryLayout.SEND);
  writeU8(outcome === undefined ? 0 : hasOutcomeFlag);
  writeU8(message.to);
  writeU8(frameKindCodes.get(message.kind)!);
  writeF64(message.conn);
  writeF64(message.seq);
  writeF64(message.t0);
  writeStr(message.sub);
  if (outcome !== undefined) writeStr(outcome);
  writeBytes(message.frame);
  return endWrite();
}

function decodeSend(read: BinaryReader): ShardOutbound {
  const flags = read.u8();
  const to = read.u8() as Audience;
  const kind = frameKinds[read.u8()];
  const conn = read.f64();
  const seq = read.f64();
  const t0 = read.f64();
  const sub = read.subscriptionId();
  if ((flags & hasOutcomeFlag) !== 0) {
    const outcome = read.str();
    return { t: 'send', to, sub, conn, frame: read.bytes(true), kind, seq, t0, outcome };
  }
  return { t: 'send', to, sub, conn, frame: read.bytes(true), kind, seq, t0 };
}

function decodeBinary(bytes: Uint8Array): ShardInbound | ShardOutbound {
  const read = new BinaryReader(bytes);
  switch (bytes[1]) {
    case BinaryLayout.SIGNAL_EVENT:
      return decodeSignalEvent(read);
    case BinaryLayout.SEND:
      return decodeSend(read);
    default:
      throw new Error(`shard record: unknown binary layout ${bytes[1]}`);
  }
}

export function encodeInbound(message: ShardInbound): Uint8Array {
  if (message.t === 'event' && message.ev.kind === 'signal' && message.settings === undefined && message.remoteAddress === undefined) {
    return encodeSignalEvent(message, message.ev);
  }
  return packr.pack(message);
}
export function decodeInbound(bytes: Uint8Array): ShardInbound {
  if (bytes[0] === binaryTag) return decodeBinary(bytes) as ShardInbound;
  return packr.unpack(privateCopy(bytes)) as ShardInbound;
}
export function encodeOutbound(message: ShardOutbound): Uint8Array {
  if (message.t === 'send' && message.report === undefined) return encodeSend(message);
  return packr.pack(message);
}
export function decodeOutbound(bytes: Uint8Array): ShardOutbound {
  if (bytes[0] === binaryTag) return decodeBinary(bytes) as ShardOutbound;
  return packr.unpack(privateCopy(bytes)) as ShardOutbound;
}

/** The shard that owns a subscription: FNV-1a of its id. */
export function shardOf(subscriptionId: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < subscriptionId.length; i++) {
    hash ^= subscriptionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shardCount;
}
