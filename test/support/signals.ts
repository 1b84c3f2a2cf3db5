/**
 * Building master frames for tests: v1 (the seed's packet) and v2 (signed
 * body bytes), with every field overridable so tests can tamper.
 */
import { encodeFrame, encodeSignalBody, encodeSnapshotBody, signV1, macV2 } from '@sigplane/protocol';

export interface V1Fields {
  subscriptionId: string;
  sequence: number | string;
  generatedAt: number | string;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
}

export function v1Fields(subscriptionId: string, sequence: number, overrides: Partial<V1Fields> = {}): V1Fields {
  return {
    subscriptionId,
    sequence,
    generatedAt: Date.now(),
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    ...overrides,
  };
}

/** A SignalV1 frame signed over `signed` and carrying `sent` (defaults: the same). */
export function v1Frame(key: Buffer | string, signed: V1Fields, sent: V1Fields = signed, signature?: string): Uint8Array {
  const sig = signature ?? signV1(key, { ...signed, sequence: String(signed.sequence), generatedAt: String(signed.generatedAt) });
  return encodeFrame({
    signalV1: {
      subscriptionId: sent.subscriptionId,
      sequenceNumber: sent.sequence,
      generatedAt: sent.generatedAt,
      symbol: sent.symbol,
      orderType: sent.orderType,
      volume: sent.volume,
      price: sent.price,
      signature: sig,
    },
  });
}

export interface V2Body {
  subscriptionId: string;
  sequenceNumber: number;
  generatedAt: number;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  action: number;
  positionId: number;
  stopLoss: number;
  takeProfit: number;
  magic: number;
}

export function v2Body(subscriptionId: string, sequence: number, overrides: Partial<V2Body> = {}): V2Body {
  return {
    subscriptionId,
    sequenceNumber: sequence,
    generatedAt: Date.now(),
    symbol: 'EURUSD',
    orderType: 0,
    volume: 0.1,
    price: 1.08765,
    action: 1,
    positionId: 1000 + sequence,
    stopLoss: 0,
    takeProfit: 0,
    magic: 7,
    ...overrides,
  };
}

export function v2Frame(key: Buffer, keyId: string, body: V2Body | Uint8Array, mutate?: (bytes: Uint8Array) => Uint8Array): Uint8Array {
  const bytes = body instanceof Uint8Array ? body : encodeSignalBody({ ...body });
  const mac = macV2(key, bytes);
  const sent = mutate ? mutate(Uint8Array.from(bytes)) : bytes;
  return encodeFrame({ signalV2: { body: sent, keyId, mac } });
}

export function snapshotFrame(
  key: Buffer,
  keyId: string,
  subscriptionId: string,
  sequence: number,
  positions: Record<string, unknown>[],
): Uint8Array {
  const body = encodeSnapshotBody({ subscriptionId, sequenceNumber: sequence, generatedAt: Date.now(), positions });
  return encodeFrame({ snapshotFromMaster: { body, keyId, mac: macV2(key, body) } });
}

export function subscribeFrame(lastSequence: number | null): Uint8Array {
  return encodeFrame({ subscribe: { hasLastSequence: lastSequence !== null, lastSequence: lastSequence ?? 0 } });
}

export function deliveryAckFrame(sequence: number): Uint8Array {
  return encodeFrame({ deliveryAck: { sequenceNumber: sequence } });
}
