/**
 * Decoded frames carry 64-bit fields as protobufjs Longs. The application
 * gets plain numbers (sequences, timestamps: always within 2^53-1 on this
 * protocol) and decimal strings (position ids, magic numbers: full uint64).
 */
import {
  positionFromFrame,
  exactDecimal,
  safeInteger,
  signalBodyFields,
  type DecodedFrame,
  type Int64,
  type PositionFrame,
  type SignalBodyFrame,
  type Position,
} from '@sigplane/protocol';
import { ClientErrorCode, SigplaneClientError } from './errors';

export type DeliveryFrame = Extract<DecodedFrame, { kind: 'delivery' }>['delivery'];
export type SnapshotFrame = Extract<DecodedFrame, { kind: 'snapshot' }>['snapshot'];
export type WelcomeFrame = Extract<DecodedFrame, { kind: 'welcome' }>['welcome'];

/** One signal's execution fields, as plain values. */
export interface SignalFields {
  subscriptionId: string;
  sequence: number;
  /** ms since the Unix epoch, the master's clock */
  generatedAt: number;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  /** proto Action: 0 for v1 netting orders */
  action: number;
  /** decimal uint64, '0' when none */
  positionId: string;
  stopLoss: number;
  takeProfit: number;
  /** decimal uint64, '0' when none */
  magic: string;
}

/** What ReceiverClient hands to onSignal. */
export interface ReceivedDelivery {
  subscriptionId: string;
  sequenceNumber: number;
  signingVersion: number;
  /** server clock, ms */
  acceptedAt: number;
  signal: SignalFields;
}

/** What ReceiverClient hands to onSnapshot: replace local state with `positions`. */
export interface ReceivedSnapshot {
  subscriptionId: string;
  sequenceNumber: number;
  positions: Position[];
}

export interface Welcome {
  subscriptionId: string;
  /** SubscriptionState name: ACTIVE, DEGRADED, SYNCING, ISOLATED */
  state: string;
  lastSequence: number;
  role: string;
  /** Masters: the rate and burst to pace every send at (docs/protocol.md, "Pacing"); 0 = unknown (not paced). */
  signalsPerSecond: number;
  signalsBurst: number;
}

/** A 64-bit field that must fit a JS number; throws PROTOCOL otherwise. */
export function toSafeNumber(value: Int64 | null | undefined, what: string): number {
  const n = safeInteger(value);
  if (n === null) {
    throw new SigplaneClientError(ClientErrorCode.PROTOCOL, `${what} ${exactDecimal(value)} is beyond 2^53-1`);
  }
  return n;
}

function isSignalBody(value: object): value is SignalBodyFrame {
  return 'symbol' in value && !('signal' in value);
}

/**
 * The plain fields of a delivery (decoded frame or ReceivedDelivery) or of a
 * decoded SignalBody.
 */
export function toSignalFields(source: DeliveryFrame | ReceivedDelivery | SignalBodyFrame): SignalFields {
  if ('signal' in source && source.signal !== null && 'sequence' in source.signal) {
    return { ...source.signal };
  }
  const body = isSignalBody(source) ? source : (source as DeliveryFrame).signal;
  if (body === null || body === undefined) {
    throw new SigplaneClientError(ClientErrorCode.PROTOCOL, 'delivery without a signal');
  }
  // The protocol's fields, under the SDK's names (generatedAt), 64-bit integers refused beyond 2^53-1.
  // A literal: spreading the fields and adding generatedAt cost four times as much per delivery.
  const f = signalBodyFields(body);
  return {
    subscriptionId: f.subscriptionId,
    sequence: toSafeNumber(body.sequenceNumber, 'sequence'),
    generatedAt: toSafeNumber(body.generatedAt, 'generatedAt'),
    symbol: f.symbol,
    orderType: f.orderType,
    volume: f.volume,
    price: f.price,
    action: f.action,
    positionId: f.positionId,
    stopLoss: f.stopLoss,
    takeProfit: f.takeProfit,
    magic: f.magic,
  };
}

export function toDelivery(frame: DeliveryFrame): ReceivedDelivery {
  return {
    subscriptionId: frame.subscriptionId,
    sequenceNumber: toSafeNumber(frame.sequenceNumber, 'delivery sequence'),
    signingVersion: frame.signingVersion,
    acceptedAt: toSafeNumber(frame.acceptedAt, 'acceptedAt'),
    signal: toSignalFields(frame),
  };
}

export function toPosition(p: PositionFrame): Position {
  const position = positionFromFrame(p);
  if (position === null) throw new SigplaneClientError(ClientErrorCode.PROTOCOL, 'openedSequence beyond 2^53-1');
  return { ...position, magic: position.magic === '0' ? '' : position.magic };
}

export function toSnapshot(frame: SnapshotFrame): ReceivedSnapshot {
  return {
    subscriptionId: frame.subscriptionId,
    sequenceNumber: toSafeNumber(frame.sequenceNumber, 'snapshot sequence'),
    positions: (frame.positions ?? []).map(toPosition),
  };
}

export function toWelcome(frame: WelcomeFrame, stateName: (n: number) => string): Welcome {
  return {
    subscriptionId: frame.subscriptionId,
    state: stateName(frame.state),
    lastSequence: toSafeNumber(frame.lastSequence, 'welcome lastSequence'),
    role: frame.role,
    signalsPerSecond: frame.signalsPerSecond ?? 0,
    signalsBurst: frame.signalsBurst ?? 0,
  };
}
