/**
 * Building the frames a master sends: signalV1, signalV2 and
 * snapshotFromMaster. Pure: same input, same bytes (a resend must be the
 * exact bytes first sent, so frames are built once and kept).
 */
import protobuf from 'protobufjs';
import { encodeFrame, encodeSignalBody, encodeSnapshotBody, positionObject, type Position, wire } from '@sigplane/protocol';
import { ClientErrorCode, SigplaneClientError } from './errors';
import { macOverBody, signatureV1, type MasterSigning } from './signing';

type Uint64Input = string | number | bigint;

/** protobufjs types util.Long as a bare constructor; its statics are long.js'. */
interface LongStatics {
  fromString(text: string, unsigned?: boolean): protobuf.Long;
}
const Long = protobuf.util.Long as unknown as LongStatics;

/** A signal with every field chosen by the caller (tests craft sequences and timestamps with it). */
export interface CraftedSignal {
  subscriptionId: string;
  /** Beyond 2^53-1 only as a string or bigint (the server refuses those: SEQUENCE_OUT_OF_RANGE). */
  sequence: Uint64Input;
  /** ms since the Unix epoch */
  generatedAt: Uint64Input;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  /** v2 only (v1 carries nothing beyond the seven signed fields) */
  action?: number;
  positionId?: Uint64Input;
  stopLoss?: number;
  takeProfit?: number;
  magic?: Uint64Input;
}

/** The application's positions at a sequence, for a full sync. */
export interface MasterSnapshot {
  /** The master's last sequence: the snapshot covers every signal up to it. */
  sequence: number;
  positions: Position[];
}

function decimal(value: Uint64Input, what: string): string {
  const text = typeof value === 'bigint' ? value.toString() : typeof value === 'number' ? String(value) : value;
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `${what} ${value} is not a safe integer (pass a string or bigint)`);
  }
  if (!/^-?\d+$/.test(text)) throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `${what} ${text} is not an integer`);
  return text;
}

/** A protobufjs Long for a 64-bit field, exact for any decimal string. */
export function toLong(value: Uint64Input, unsigned: boolean, what: string): protobuf.Long {
  return Long.fromString(decimal(value, what), unsigned);
}

function hasV2OnlyFields(signal: CraftedSignal): boolean {
  return (
    (signal.action !== undefined && signal.action !== 0) ||
    (signal.positionId !== undefined && decimal(signal.positionId, 'positionId') !== '0') ||
    (signal.stopLoss !== undefined && signal.stopLoss !== 0) ||
    (signal.takeProfit !== undefined && signal.takeProfit !== 0) ||
    (signal.magic !== undefined && decimal(signal.magic, 'magic') !== '0')
  );
}

/** The encoded SignalBody of a v2 signal (what the MAC covers). */
export function encodeSignalBodyBytes(signal: CraftedSignal): Uint8Array {
  return encodeSignalBody({
    subscriptionId: signal.subscriptionId,
    sequenceNumber: toLong(signal.sequence, true, 'sequence'),
    generatedAt: toLong(signal.generatedAt, false, 'generatedAt'),
    symbol: signal.symbol,
    orderType: signal.orderType,
    volume: signal.volume,
    price: signal.price,
    action: signal.action ?? 0,
    positionId: toLong(signal.positionId ?? 0, true, 'positionId'),
    stopLoss: signal.stopLoss ?? 0,
    takeProfit: signal.takeProfit ?? 0,
    magic: toLong(signal.magic ?? 0, true, 'magic'),
  });
}

/** One signal frame, signed as `signing` says. */
export function encodeSignalFrame(signing: MasterSigning, signal: CraftedSignal): Uint8Array {
  if (signing.version === 1) {
    if (hasV2OnlyFields(signal)) {
      throw new SigplaneClientError(
        ClientErrorCode.INVALID_ARGUMENT,
        'v1 signals carry only symbol, orderType, volume and price: action, positionId, stopLoss, takeProfit and magic need v2 signing',
      );
    }
    const sequence = decimal(signal.sequence, 'sequence');
    const generatedAt = decimal(signal.generatedAt, 'generatedAt');
    const signature = signatureV1(signing.secret, {
      subscriptionId: signal.subscriptionId,
      sequence,
      generatedAt,
      symbol: signal.symbol,
      orderType: signal.orderType,
      volume: signal.volume,
      price: signal.price,
    });
    return encodeFrame({
      signalV1: {
        subscriptionId: signal.subscriptionId,
        sequenceNumber: toLong(sequence, true, 'sequence'),
        generatedAt: toLong(generatedAt, false, 'generatedAt'),
        symbol: signal.symbol,
        orderType: signal.orderType,
        volume: signal.volume,
        price: signal.price,
        signature,
      },
    });
  }
  const body = encodeSignalBodyBytes(signal);
  return encodeFrame({ signalV2: { body, keyId: signing.keyId, mac: macOverBody(signing.key, body) } });
}

/** A signed snapshotFromMaster frame (v2 keys only). */
export function encodeSnapshotFrame(
  signing: MasterSigning,
  subscriptionId: string,
  snapshot: MasterSnapshot,
  generatedAtMs: number,
): Uint8Array {
  if (signing.version !== 2) {
    throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, 'a full-sync snapshot needs v2 signing');
  }
  if (!Number.isSafeInteger(snapshot.sequence) || snapshot.sequence < 0) {
    throw new SigplaneClientError(ClientErrorCode.INVALID_ARGUMENT, `snapshot sequence ${snapshot.sequence} is not a safe integer`);
  }
  if (snapshot.positions.length > wire.snapshotPositionsMax) {
    throw new SigplaneClientError(
      ClientErrorCode.INVALID_ARGUMENT,
      `snapshot has ${snapshot.positions.length} positions, more than ${wire.snapshotPositionsMax}`,
    );
  }
  const body = encodeSnapshotBody({
    subscriptionId,
    sequenceNumber: snapshot.sequence,
    generatedAt: generatedAtMs,
    positions: snapshot.positions.map(positionObject),
  });
  return encodeFrame({ snapshotFromMaster: { body, keyId: signing.keyId, mac: macOverBody(signing.key, body) } });
}
