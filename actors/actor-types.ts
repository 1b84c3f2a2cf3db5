/**
 * The subscription actor's vocabulary: the events it handles and the effects
 * it returns. The actor performs no I/O: the shard executes effects
 * (engine/shard-core.ts: journal first, then the ring back to the I/O thread).
 */
import type {
  SubscriptionSettings,
  WelcomePacing,
  ExecutionReportRecord,
  Position,
  RejectCode,
  SignalRecord,
  SnapshotRecord,
  SubscriptionState,
} from '@sigplane/protocol';

/** A connection on the I/O thread, as a shard knows it. */
export type ConnId = number;

export type ActorEvent =
  /** A verified signal from a master connection. */
  | { kind: 'signal'; connId: ConnId; record: SignalRecord }
  /**
   * A verified signal (MAC, fields) older than the TTL: a copy of an
   * accepted one is DUPLICATE at any age; anything else is STALE (`message`
   * says why). It never moves the sequence.
   */
  | { kind: 'staleSignal'; connId: ConnId; record: SignalRecord; message: string }
  /** A verified full snapshot from a master (answer to a full SyncRequest). */
  | { kind: 'masterSnapshot'; connId: ConnId; snapshot: SnapshotRecord }
  /**
   * A master connected: it is told the state and, if a gap is open, asked
   * again. `pacing` is the I/O thread's, for the shard to put in the
   * master's Welcome; the actor does not use it.
   */
  | { kind: 'masterAttach'; connId: ConnId; pacing?: WelcomePacing }
  | { kind: 'masterDetach'; connId: ConnId }
  /** A receiver subscribed; lastSequence null means "from the server's cursor". */
  | { kind: 'receiverSubscribe'; connId: ConnId; receiverId: string; lastSequence: number | null }
  /** A receiver saw a gap: resend after fromSequence - 1, or a snapshot when full. */
  | { kind: 'receiverSync'; connId: ConnId; receiverId: string; fromSequence: number; full: boolean }
  | { kind: 'deliveryAck'; connId: ConnId; receiverId: string; sequence: number }
  | { kind: 'receiverDetach'; connId: ConnId }
  /** A receiver's execution report, checked by the I/O thread: taken when its sequence was delivered to this connection. */
  | { kind: 'executionReport'; connId: ConnId; report: ExecutionReportRecord }
  /** Time passed: retry sync requests, escalate long gaps. */
  | { kind: 'tick' }
  | { kind: 'isolate'; reason: string }
  | { kind: 'lift'; reason: string };

export type Effect =
  | { kind: 'ack'; connId: ConnId; sequence: number; status: 'ACCEPTED' | 'DUPLICATE' }
  | { kind: 'reject'; connId: ConnId; sequence: number; code: RejectCode; message: string }
  /** Journal the accepted signal; acks and deliveries of the batch wait for the commit. */
  | { kind: 'persistSignal'; record: SignalRecord }
  /** Journal a master's snapshot that replaced the book. */
  | { kind: 'persistSnapshot'; snapshot: SnapshotRecord }
  | { kind: 'persistCursor'; subscriptionId: string; receiverId: string; sequence: number }
  | { kind: 'persistState'; subscriptionId: string; state: SubscriptionState; sequence: number; reason: string }
  /** Publish to every live receiver of the subscription. */
  | { kind: 'deliver'; record: SignalRecord }
  /** Catch-up for one receiver, in order. */
  | { kind: 'sendDeliveries'; connId: ConnId; records: SignalRecord[] }
  /** Full sync for one receiver (connId) or, with connId null, every live receiver. */
  | { kind: 'sendSnapshot'; connId: ConnId | null; sequence: number; positions: Position[] }
  /** The receiver is caught up: from now on it gets live deliveries. */
  | { kind: 'receiverLive'; connId: ConnId }
  /** Tell every master and receiver of the subscription. */
  | { kind: 'stateChange'; state: SubscriptionState; sequence: number; reason: string }
  /** Ask the master(s): resend [from, to], or a full snapshot. connId null: every master. */
  | { kind: 'syncRequest'; connId: ConnId | null; fromSequence: number; toSequence: number; full: boolean }
  /** Tell one connection the subscription's state (on attach). */
  | { kind: 'welcome'; connId: ConnId; state: SubscriptionState; lastSequence: number }
  /** Journal a receiver's execution report; its ack waits for the commit. */
  | { kind: 'persistReport'; report: ExecutionReportRecord }
  /** Acknowledge an execution report to the receiver connection that sent it. */
  | { kind: 'reportAck'; connId: ConnId; report: ExecutionReportRecord };

/** Read-only access to the journal, injected so tests need no SQLite. */
export interface HistoryReader {
  /** Accepted signals with from <= sequence <= to, ascending, at most `limit`. */
  readSignals(subscriptionId: string, fromSequence: number, toSequence: number, limit: number): SignalRecord[];
}

export interface ActorContext {
  nowMs: number;
  settings: SubscriptionSettings;
  history: HistoryReader;
}
