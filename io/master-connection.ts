/**
 * Frames from a master, on the I/O thread. Every signal passes, in order:
 *   1. size and shape (uWS maxPayloadLength, decode, required fields)
 *   2. the connection's token bucket (and, while a refusal from N stands,
 *      BUSY at once for a signal claiming a sequence above N)
 *   3. the MAC (constant time; v2 before the body is decoded)
 *   4. the seed's field rules
 *   5. freshness (TTL, clock skew)
 * and only then goes to the subscription's shard. A frame that fails any
 * check answers a stable code, is recorded as a security event, and never
 * reaches sequence state: a forged gap cannot make a subscription DEGRADED.
 * The one exception is STALE: a verified signal older than the TTL goes to
 * the shard marked stale, because only the actor knows whether it is a
 * byte-identical resend of an accepted signal (DUPLICATE at any age) or
 * was never accepted (STALE); either way it never moves the sequence.
 *
 * "Refused from N" (ConnectionData.busyFromSequence): BUSY (a full ring)
 * and RATE_LIMITED for a signal or snapshot N both mean N and everything
 * after it from this connection was not taken; until N comes again, every
 * signal above N is answered BUSY, so neither ever opens a gap. It ends
 * when N is taken, when N is refused for good after its MAC verified (the
 * master will not send it again), or when this connection's snapshot at or
 * above N is taken.
 */
import {
  RejectCode,
  type SignalRecord,
  type SnapshotRecord,
  wire,
  formatFixed,
  verifyV1,
  verifyV2,
  checkFreshness,
  checkPosition,
  checkSignalFields,
  checkSignalFieldsV2,
  decodeSignalBody,
  decodeSnapshotBody,
  encodeHeartbeat,
  exactDecimal,
  positionFromFrame,
  signalBodyFields,
  signalRecord,
  safeInteger,
  type DecodedFrame,
  type SignalV1Frame,
  type SignedFrame,
  type WelcomePacing,
} from '@sigplane/protocol';
import { dropExpiredMacKeys, type ConnectionData, type Socket } from './connections';
import { admitFrame, type FrameContext } from './frame-context';
import type { RateLimit } from './rate-limit/rate-limit-backend';

/** A refusal; a STALE one carries the verified record (`staleRecord`) for the actor to judge. */
type Rejection = { code: RejectCode; message: string; staleRecord?: SignalRecord };

export function onMasterMessage(ws: Socket, message: ArrayBuffer, isBinary: boolean, ctx: FrameContext): void {
  const t0 = performance.now();
  const data = ws.getUserData().connection;
  const nowMs = Date.now();
  const frame = admitFrame(ws, message, isBinary, ctx, nowMs, claimedSequence);
  if (frame === null) return;
  if (refusedAboveBusy(ws, frame, ctx)) return;
  dropExpiredMacKeys(data, nowMs);

  switch (frame.kind) {
    case 'signalV1': {
      const result = signalFromV1(frame.signalV1, data.macKeys.map((k) => k.v1Secret), data.subscriptionId, nowMs, data.settings);
      if ('code' in result) return refuseSignal(ws, result, safeInteger(frame.signalV1.sequenceNumber) ?? 0, t0, ctx);
      return forwardSignal(ws, result, t0, ctx);
    }
    case 'signalV2': {
      const result = signalFromV2(frame.signalV2, data.macKeys, data.subscriptionId, nowMs, data.settings);
      if ('code' in result) return refuseSignal(ws, result, result.sequence || claimedSequence(frame), t0, ctx);
      return forwardSignal(ws, result, t0, ctx);
    }
    case 'snapshotFromMaster': {
      const result = snapshotFromMaster(frame.snapshotFromMaster, data.macKeys, data.subscriptionId, nowMs, data.settings);
      if ('code' in result) return ctx.reject(ws, result.code, result.message, 0);
      const sent = ctx.toShard(data.subscriptionId, {
        t: 'event',
        sub: data.subscriptionId,
        ev: { kind: 'masterSnapshot', connId: data.connId, snapshot: result },
      });
      if (!sent) return ctx.reject(ws, RejectCode.BUSY, `engine busy, resend from ${refuseFrom(data, result.sequence)}`, result.sequence);
      // It covers every sequence up to its own: a refusal from N at or below it ends.
      if (data.busyFromSequence !== 0 && result.sequence >= data.busyFromSequence) data.busyFromSequence = 0;
      return;
    }
    case 'heartbeat':
      ctx.sendTo(ws, encodeHeartbeat(nowMs));
      return;
    default:
      return ctx.reject(ws, RejectCode.UNSUPPORTED, `a master does not send ${frame.kind}`, 0);
  }
}

/**
 * The sequence a signal or snapshot frame CLAIMS, before or without
 * verification: echoed in a rejection so the sender's client knows which of
 * its frames was refused. It goes back only to the sender's own
 * authenticated connection and never reaches sequence state.
 */
function claimedSequence(frame: DecodedFrame): number {
  if (frame.kind === 'signalV1') return safeInteger(frame.signalV1.sequenceNumber) ?? 0;
  if (frame.kind === 'signalV2') return safeInteger(decodeSignalBody(frame.signalV2.body)?.sequenceNumber) ?? 0;
  if (frame.kind === 'snapshotFromMaster') return safeInteger(decodeSnapshotBody(frame.snapshotFromMaster.body)?.sequenceNumber) ?? 0;
  return 0;
}

/**
 * While this connection is refused from sequence N (BUSY or RATE_LIMITED,
 * see the header), a signal claiming a sequence above N is answered BUSY
 * before its MAC and fields are checked: it would be refused whatever they
 * hold, and under overload those refusals are most of what a master sends
 * (every signal it had in flight when the ring filled), so verifying them
 * spent the I/O thread on work thrown away. Nothing reaches the shard and
 * the claim goes back only to the sender's own authenticated connection;
 * when the signal is resent it is checked in full, and a forged frame is
 * recorded as one then. N itself and anything below it are checked first.
 */
function refusedAboveBusy(ws: Socket, frame: DecodedFrame, ctx: FrameContext): boolean {
  const blockedFrom = ws.getUserData().connection.busyFromSequence;
  if (blockedFrom === 0 || (frame.kind !== 'signalV1' && frame.kind !== 'signalV2')) return false;
  const claimed = claimedSequence(frame);
  if (claimed <= blockedFrom) return false;
  ctx.reject(ws, RejectCode.BUSY, `engine busy, resend from ${blockedFrom}`, claimed);
  return true;
}

/**
 * This connection is refused from `sequence` (BUSY or RATE_LIMITED for the
 * signal or snapshot claiming it): until it comes again, every signal above
 * it is answered BUSY. Returns the sequence the master must resend from.
 */
export function refuseFrom(data: ConnectionData, sequence: number): number {
  if (!(sequence > 0)) return data.busyFromSequence;
  data.busyFromSequence = data.busyFromSequence === 0 ? sequence : Math.min(data.busyFromSequence, sequence);
  return data.busyFromSequence;
}

/** Codes a signal gets before its MAC verified: such a refusal says nothing about the master's own signal. */
const unauthenticatedCodes: ReadonlySet<RejectCode> = new Set([RejectCode.MALFORMED, RejectCode.SIGNATURE_INVALID, RejectCode.UNKNOWN_KEY]);

/**
 * A signal the checks refused. STALE goes on to the shard (see the header);
 * any other refusal is answered here. A verified signal refused for good at
 * the sequence this connection is refused from ends that refusal: the
 * master does not send it again, and what follows it is judged on its own.
 */
function refuseSignal(ws: Socket, refusal: Rejection, sequence: number, t0: number, ctx: FrameContext): void {
  if (refusal.staleRecord !== undefined) return forwardSignal(ws, refusal.staleRecord, t0, ctx, refusal.message);
  const data = ws.getUserData().connection;
  if (sequence !== 0 && sequence === data.busyFromSequence && !unauthenticatedCodes.has(refusal.code)) data.busyFromSequence = 0;
  ctx.reject(ws, refusal.code, refusal.message, sequence);
}

/**
 * To the shard, in the connection's order: a fresh signal, or a stale one
 * (`staleMessage`) for the actor to answer DUPLICATE or STALE. BUSY for
 * sequence N means: N and everything after it from this connection was not
 * taken; resend from N (see "refused from N" in the header).
 */
function forwardSignal(ws: Socket, record: SignalRecord, t0: number, ctx: FrameContext, staleMessage?: string): void {
  const data = ws.getUserData().connection;
  const blockedFrom = data.busyFromSequence;
  if (blockedFrom > 0 && record.sequence > blockedFrom) {
    return ctx.reject(ws, RejectCode.BUSY, `engine busy, resend from ${blockedFrom}`, record.sequence);
  }
  const connId = data.connId;
  const sent = ctx.toShard(data.subscriptionId, {
    t: 'event',
    sub: data.subscriptionId,
    ev: staleMessage === undefined ? { kind: 'signal', connId, record } : { kind: 'staleSignal', connId, record, message: staleMessage },
    t0,
  });
  if (!sent) return ctx.reject(ws, RejectCode.BUSY, `engine busy, resend from ${refuseFrom(data, record.sequence)}`, record.sequence);
  if (record.sequence === blockedFrom) data.busyFromSequence = 0;
}

/**
 * What a master's Welcome tells it to pace its sends at: the tighter of its
 * connection's token bucket and its subscription's limit in force now, in
 * whole frames (rounded down, within uint32).
 */
export function masterPacing(connection: RateLimit, subscription: RateLimit): WelcomePacing {
  const whole = (n: number): number => Math.min(0xffff_ffff, Math.max(0, Math.floor(n)));
  return {
    signalsPerSecond: whole(Math.min(connection.ratePerSecond, subscription.ratePerSecond)),
    signalsBurst: whole(Math.min(connection.burst, subscription.burst)),
  };
}

export function signalFromV1(
  f: SignalV1Frame,
  secrets: readonly Buffer[],
  subscriptionId: string,
  nowMs: number,
  settings: { ttlMs: number; clockSkewMs: number },
): SignalRecord | Rejection {
  if (f.subscriptionId === '' || f.signature === '' || f.symbol === '') {
    return { code: RejectCode.MALFORMED, message: 'subscription_id, symbol and signature are required' };
  }
  const verified = verifyV1(
    secrets,
    {
      subscriptionId: f.subscriptionId,
      sequence: exactDecimal(f.sequenceNumber),
      generatedAt: exactDecimal(f.generatedAt),
      symbol: f.symbol,
      orderType: f.orderType,
      volume: f.volume,
      price: f.price,
    },
    f.signature,
  );
  if (!verified.ok) return { code: RejectCode.SIGNATURE_INVALID, message: 'v1 signature does not match' };
  if (f.subscriptionId.toLowerCase() !== subscriptionId) {
    return { code: RejectCode.WRONG_SUBSCRIPTION, message: 'signal is for another subscription' };
  }
  const sequence = safeInteger(f.sequenceNumber);
  const generatedAtMs = safeInteger(f.generatedAt);
  // v1 signs "%.5f" of volume and price: what is executed is exactly what
  // was signed, not the unsigned digits beyond the fifth decimal, so the
  // field rules judge those signed values (0.000004 lots signs as 0.00000).
  const volume = Number(formatFixed(f.volume, 5));
  const price = Number(formatFixed(f.price, 5));
  const fieldProblem = checkSignalFields({
    version: 1,
    subscriptionId: f.subscriptionId,
    sequence,
    symbol: f.symbol,
    orderType: f.orderType,
    volume,
    price,
  });
  if (fieldProblem !== null) return fieldProblem;
  return judgedFresh(generatedAtMs, nowMs, settings, (generatedAtMs) => ({
    subscriptionId,
    sequence: sequence!,
    generatedAtMs,
    symbol: f.symbol,
    orderType: f.orderType,
    volume,
    price,
    action: 0,
    positionId: '',
    stopLoss: 0,
    takeProfit: 0,
    magic: '',
    signingVersion: 1,
    content: verified.payload,
    receivedAtMs: nowMs,
  }));
}

/**
 * Freshness, last: the record when fresh; FUTURE (or a generated_at beyond
 * 2^53-1) refused; STALE refused with the verified record attached, for
 * the actor to judge (a copy of an accepted signal is DUPLICATE at any age).
 */
function judgedFresh(
  generatedAtMs: number | null,
  nowMs: number,
  settings: { ttlMs: number; clockSkewMs: number },
  record: (generatedAtMs: number) => SignalRecord,
): SignalRecord | Rejection {
  const problem = checkFreshness(generatedAtMs ?? Number.MIN_SAFE_INTEGER, nowMs, settings.ttlMs, settings.clockSkewMs);
  if (generatedAtMs === null) return problem!;
  if (problem === null) return record(generatedAtMs);
  return problem.code === RejectCode.STALE ? { ...problem, staleRecord: record(generatedAtMs) } : problem;
}

function verifySigned(s: SignedFrame, keys: readonly { keyId: string; secret: Buffer }[]): Rejection | null {
  if (s.body.length === 0 || s.keyId === '' || s.mac.length === 0) {
    return { code: RejectCode.MALFORMED, message: 'body, key_id and mac are required' };
  }
  const key = keys.find((k) => k.keyId === s.keyId);
  const verdict = verifyV2(key === undefined ? new Map() : new Map([[key.keyId, key.secret]]), s.keyId, s.body, s.mac);
  if (verdict === 'UNKNOWN_KEY') return { code: RejectCode.UNKNOWN_KEY, message: 'key id is not valid for this subscription' };
  if (verdict !== 'ok') return { code: RejectCode.SIGNATURE_INVALID, message: 'v2 mac does not match' };
  return null;
}

export function signalFromV2(
  s: SignedFrame,
  keys: readonly { keyId: string; secret: Buffer }[],
  subscriptionId: string,
  nowMs: number,
  settings: { ttlMs: number; clockSkewMs: number },
): SignalRecord | (Rejection & { sequence: number }) {
  const macProblem = verifySigned(s, keys);
  if (macProblem !== null) return { ...macProblem, sequence: 0 };
  const body = decodeSignalBody(s.body);
  if (body === null || body.subscriptionId === '' || body.symbol === '') {
    return { code: RejectCode.MALFORMED, message: 'body is not a SignalBody', sequence: 0 };
  }
  const fields = signalBodyFields(body);
  const sequence = fields.sequence;
  if (fields.subscriptionId.toLowerCase() !== subscriptionId) {
    return { code: RejectCode.WRONG_SUBSCRIPTION, message: 'signal is for another subscription', sequence: sequence ?? 0 };
  }
  const fieldProblem = checkSignalFieldsV2(fields);
  if (fieldProblem !== null) return { ...fieldProblem, sequence: sequence ?? 0 };
  const judged = judgedFresh(fields.generatedAtMs, nowMs, settings, (generatedAtMs) =>
    signalRecord(fields, subscriptionId, sequence!, generatedAtMs, 2, Uint8Array.from(s.body), nowMs),
  );
  return 'code' in judged ? { ...judged, sequence: sequence! } : judged;
}

export function snapshotFromMaster(
  s: SignedFrame,
  keys: readonly { keyId: string; secret: Buffer }[],
  subscriptionId: string,
  nowMs: number,
  settings: { ttlMs: number; clockSkewMs: number },
): SnapshotRecord | Rejection {
  const macProblem = verifySigned(s, keys);
  if (macProblem !== null) return macProblem;
  const body = decodeSnapshotBody(s.body);
  if (body === null) return { code: RejectCode.MALFORMED, message: 'body is not a SnapshotBody' };
  if (body.subscriptionId.toLowerCase() !== subscriptionId) {
    return { code: RejectCode.WRONG_SUBSCRIPTION, message: 'snapshot is for another subscription' };
  }
  if (body.positions.length > wire.snapshotPositionsMax) {
    return { code: RejectCode.INVALID_FIELD, message: `more than ${wire.snapshotPositionsMax} positions` };
  }
  const sequence = safeInteger(body.sequenceNumber);
  const generatedAtMs = safeInteger(body.generatedAt);
  if (sequence === null || generatedAtMs === null) {
    return { code: RejectCode.SEQUENCE_OUT_OF_RANGE, message: 'sequence or generated_at beyond 2^53-1' };
  }
  const stale = checkFreshness(generatedAtMs, nowMs, settings.ttlMs, settings.clockSkewMs);
  if (stale !== null) return stale;
  const positions = [];
  for (const frame of body.positions) {
    const p = positionFromFrame(frame);
    if (p === null) return { code: RejectCode.INVALID_FIELD, message: 'opened_sequence must be 0..2^53-1' };
    const problem = checkPosition(p);
    if (problem !== null) return problem;
    positions.push(p);
  }
  return { subscriptionId, sequence, generatedAtMs, positions };
}
