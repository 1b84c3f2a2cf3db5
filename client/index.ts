/**
 * sigplane's client library: the Master EA side (MasterClient) and the
 * Receiver EA side (ReceiverClient) of the wire protocol in proto/.
 */
export { MasterClient } from './master-client';
export type { MasterConnectOptions, PublishResult, PublishSignal, SendSignalFields } from './master-client';
export { ReceiverClient } from './receiver-client';
export type { ReceiverConnectOptions, ReceiverCounters } from './receiver-client';
export { ReportOutbox } from './report-outbox';
export type { ExecutionReportInput, PendingReport, ReportAddResult, ReportOutboxCounters } from './report-outbox';
export { ReceiverSequencer } from './receiver-sequencer';
export type { DeliveryDecision, SnapshotDecision, SequencerCounters } from './receiver-sequencer';
export { MasterOutbox, SentLog, planResend } from './master-outbox';
export { BusyWindow } from './busy-window';
export type { BusyAction } from './busy-window';
export { ReceiverQueue } from './receiver-queue';
export { ReceiverAcks } from './receiver-acks';
/** The receiver's defaults (ackEvery, ackIntervalMs, the ack budget, gap retry, ...), as connect() applies them. */
export { receiver as receiverDefaults } from './limits';
export type { ReceiverAckPolicy } from './receiver-acks';
export { encodeSignalFrame, encodeSignalBodyBytes, encodeSnapshotFrame } from './master-frames';
export type { CraftedSignal, MasterSnapshot } from './master-frames';
export type { MasterSigning } from './signing';
export { ClientCloseCode } from './connection';
export type { ReconnectOptions } from './connection';
export { ClientErrorCode, SigplaneClientError } from './errors';
export { readCursor, writeCursor } from './receiver-cursor';
export type { CursorRecord } from './receiver-cursor';
export * as clientLimits from './limits';
export { toSignalFields, toDelivery, toSnapshot, toPosition, toSafeNumber } from './convert';
export type { SignalFields, ReceivedDelivery, ReceivedSnapshot, Welcome, DeliveryFrame, SnapshotFrame } from './convert';
export { Copier } from './copier';
export type { CopierOptions, CopyExecution } from './copier';
export { PositionMap, CopyStatus } from './position-map';
export type { CopiedPosition } from './position-map';
export * as copyRules from './copy-rules';
export { SkipReason } from './copy-rules';
export type { SymbolSpec, Quote, MasterPosition, OpenPlan } from './copy-rules';
export type { Broker, BrokerPosition, BrokerResult, OpenRequest } from './broker';
export { PaperBroker, PaperRejectCode, SimulatedCrash } from './paper-broker';
export type { PaperBrokerOptions, PaperExecution, PaperSymbol } from './paper-broker';
export { LotMode, SettingsError, SettingsErrorCode, copySettingsDefaults } from '@sigplane/protocol';
export type { CopySettings, ReceiverSettingsMessage } from '@sigplane/protocol';
