/**
 * The shapes protobufjs decodes the frames of proto/sigplane.proto into:
 * types only, shared by the codec and the modules that read what it
 * decodes (receiver settings, execution reports, the clients).
 */
/** protobufjs' Long, as far as we use it. */
interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toString(): string;
}
export type Int64 = number | LongLike;

// ---- the frame shapes we read (what protobufjs decodes into) ----

export interface SignalV1Frame {
  subscriptionId: string;
  sequenceNumber: Int64;
  generatedAt: Int64;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  signature: string;
}
export interface SignedFrame {
  body: Uint8Array;
  keyId: string;
  mac: Uint8Array;
}
export interface SignalBodyFrame {
  subscriptionId: string;
  sequenceNumber: Int64;
  generatedAt: Int64;
  symbol: string;
  orderType: number;
  volume: number;
  price: number;
  action: number;
  positionId: Int64;
  stopLoss: number;
  takeProfit: number;
  magic: Int64;
}
export interface PositionFrame {
  positionId: string;
  symbol: string;
  orderType: number;
  volume: number;
  openPrice: number;
  stopLoss: number;
  takeProfit: number;
  magic: Int64;
  openedSequence: Int64;
}
export interface SnapshotBodyFrame {
  subscriptionId: string;
  sequenceNumber: Int64;
  generatedAt: Int64;
  positions: PositionFrame[];
}

export type DecodedFrame =
  | { kind: 'signalV1'; signalV1: SignalV1Frame }
  | { kind: 'signalV2'; signalV2: SignedFrame }
  | { kind: 'snapshotFromMaster'; snapshotFromMaster: SignedFrame }
  | { kind: 'ack'; ack: { sequenceNumber: Int64; status: number } }
  | { kind: 'reject'; reject: { code: number; message: string; sequenceNumber: Int64 } }
  | { kind: 'syncRequest'; syncRequest: { fromSequence: Int64; toSequence: Int64; full: boolean } }
  | { kind: 'subscribe'; subscribe: { hasLastSequence: boolean; lastSequence: Int64 } }
  | { kind: 'delivery'; delivery: { subscriptionId: string; sequenceNumber: Int64; signal: SignalBodyFrame | null; signingVersion: number; acceptedAt: Int64 } }
  | { kind: 'deliveryAck'; deliveryAck: { sequenceNumber: Int64 } }
  | { kind: 'snapshot'; snapshot: { subscriptionId: string; sequenceNumber: Int64; positions: PositionFrame[] } }
  | { kind: 'stateChange'; stateChange: { state: number; sequenceNumber: Int64; reason: string } }
  | { kind: 'heartbeat'; heartbeat: { sentAt: Int64 } }
  | { kind: 'welcome'; welcome: { subscriptionId: string; state: number; lastSequence: Int64; role: string; signalsPerSecond: number; signalsBurst: number } }
  | { kind: 'receiverSettings'; receiverSettings: ReceiverSettingsFrame }
  | { kind: 'executionReport'; executionReport: ExecutionReportFrame }
  | { kind: 'executionReportAck'; executionReportAck: { sequenceNumber: Int64; masterPositionId: string; kind: number } };

export interface ExecutionReportFrame {
  sequenceNumber: Int64;
  masterPositionId: string;
  kind: number;
  outcome: number;
  ticket: string;
  requestedVolume: number;
  volume: number;
  hasPrice: boolean;
  price: number;
  hasSlippage: boolean;
  slippagePips: number;
  hasDelay: boolean;
  delayMs: Int64;
  hasProfit: boolean;
  profit: number;
  currency: string;
  reason: string;
  executedAt: Int64;
}


/** What protobufjs decodes Frame.receiverSettings into. */
export interface ReceiverSettingsFrame {
  subscriptionId: string;
  revision: Int64;
  settings: {
    symbolPrefix: string;
    symbolSuffix: string;
    symbolMap: Record<string, string> | null;
    lotMode: number;
    lotValue: number;
    masterEquity: number;
    lotMin: number;
    lotMax: number;
    reverse: boolean;
    copyStopLoss: boolean;
    copyTakeProfit: boolean;
    symbolsAllowed: string[] | null;
    symbolsBlocked: string[] | null;
    magicsAllowed: Int64[] | null;
    magicsBlocked: Int64[] | null;
    priceDeviationPipsMax: number;
    signalAgeMsMax: number;
    copyOpenPositions: boolean;
  } | null;
}

