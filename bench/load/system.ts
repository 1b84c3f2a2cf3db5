/**
 * What the load generator needs from a system under test. Each system has
 * one adapter file (adapters/*.ts) with a main-thread side (start the
 * server or find it, make channels, open masters) and a receiver side that
 * runs inside receiver worker threads (targets are plain data so that they
 * cross the thread boundary).
 */
import type { SystemName } from './workload';

/**
 * What an ack means for what was sent: `durable` (on disk, fsynced, before
 * the ack), `crash-safe` (written to a file before the ack, fsynced later:
 * survives the server's crash, not the machine's), `not durable` (kept in
 * memory only, or not kept at all).
 */
export type Durability = 'durable' | 'crash-safe' | 'not durable';

/** Where one master publishes: adapter-specific plain data. */
export interface MasterTarget {
  sub: number;
  [field: string]: unknown;
}

/** Where one receiver listens: adapter-specific plain data. */
export interface ReceiverTarget {
  sub: number;
  [field: string]: unknown;
}

export interface RunTargets {
  masters: MasterTarget[];
  /** S x M receivers, grouped by subscription. */
  receivers: ReceiverTarget[];
}

export interface MasterEvents {
  /** The system confirmed `sequence` (sigplane: journaled ack; Redis: PUBLISH reply; NATS: flush PONG; ws relay: echo). */
  onAck(sequence: number): void;
  /** The system refused `sequence` (sigplane only: a reject code). */
  onRefused(sequence: number, code: string): void;
}

export interface MasterLink {
  /** Build (and sign) the first `signals` signals before the clock starts: signing is the master's work, not the system's. */
  prepare(signals: number): void;
  send(sequence: number): void;
  /** Signals sent again because the system asked for it (sigplane's BUSY: "resend"); 0 where there is no such thing. */
  readonly resent: number;
  close(): Promise<void>;
}

export interface ReceiverLink {
  close(): Promise<void>;
  /** Times the server closed this receiver and it resumed on a new connection (systems whose receivers do; none: 0). */
  readonly reconnects?: number;
}

export interface SystemAdapter {
  readonly name: SystemName;
  /** One line for the results: what runs, and what an "ack" means for it. */
  readonly description: string;
  readonly durability: Durability;
  /** Starts the server, under `taskset -c cpus` when cpus is given (pinning.ts). */
  start(cpus?: string | null): Promise<void>;
  /** The server's main process; null before start. */
  readonly serverPid: number | null;
  /** Every process of the server (for CPU and memory, and to pause it); empty before start. */
  serverProcessIds(): number[];
  /** The most receivers this system is run with, and why (none: no limit). */
  readonly receiversMax?: { count: number; why: string };
  prepareRun(subscriptions: number, receiversPerSubscription: number): Promise<RunTargets>;
  openMaster(target: MasterTarget, events: MasterEvents): Promise<MasterLink>;
  /** Frees what a run left on the server (its streams, rows), after its connections closed. */
  finishRun?(targets: RunTargets): Promise<void>;
  stop(): Promise<void>;
}

/** Receiver side, in a worker thread: calls `onDelivery` with each delivered sequence. */
export type ReceiverOpener = (target: ReceiverTarget, onDelivery: (sequence: number) => void) => Promise<ReceiverLink>;
