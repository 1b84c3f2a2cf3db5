/**
 * A shard without its thread, for tests: engine/shard-core.ts over a real
 * Journal on a temporary SQLite file, a clock the test moves, and an
 * outbound sink that takes each record through the ring's codec (as the
 * I/O thread would read it) and checks, as it leaves, that what it
 * announces is committed: read back through a second SQLite connection,
 * which sees only committed rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeFrame, type DecodedFrame, type ExecutionReportRecord, type SecurityEvent, type SubscriptionSettings } from '@sigplane/protocol';
import type { ActorEvent } from '../../actors/actor-types';
import { Journal, type JournalSync } from '../../persistence/journal';
import { ShardCore, type OutboundSink } from '../../engine/shard-core';
import { decodeOutbound, encodeInbound, encodeOutbound, type ShardInbound, type ShardOutbound } from '../../engine/shard-protocol';
import type { RefusalBudget } from '../../engine/shard-security-events';

export const T0 = 1_795_000_000_000;

export interface ShardCoreHarnessOptions {
  /** Folder of the journal file (a fresh temporary one otherwise, removed by close). */
  dir?: string;
  windowRecordsMax?: number;
  refusalBudget?: RefusalBudget;
  sync?: JournalSync;
  /** SQLite's busy timeout of the journal's connection (its default otherwise). */
  busyTimeoutMs?: number;
}

/** An outbound 'send' record with its frame decoded. */
export type SentFrame = Extract<ShardOutbound, { t: 'send' }> & { decoded: DecodedFrame };

export class ShardCoreHarness {
  readonly dir: string;
  readonly journalPath: string;
  readonly journal: Journal;
  readonly core: ShardCore;
  nowMs = T0;
  /** Every record the core sent, in order. */
  readonly sent: ShardOutbound[] = [];
  notifies = 0;
  /** Records that left before what they announce was committed. */
  readonly notDurable: string[] = [];
  /** Off while a test makes a commit fail: its BUSY answers promise nothing. */
  checkDurability = true;
  private readonly reader: Database.Database;
  private readonly ownsDir: boolean;

  constructor(options: ShardCoreHarnessOptions = {}) {
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-shard-core-'));
    this.journalPath = path.join(this.dir, 'journal-shard-0.sqlite');
    this.journal = Journal.open(this.journalPath, { sync: options.sync ?? 'normal', busyTimeoutMs: options.busyTimeoutMs });
    this.reader = new Database(this.journalPath, { readonly: true, fileMustExist: true });
    const sink: OutboundSink = {
      write: (message) => this.take(message),
      notify: () => void this.notifies++,
    };
    this.core = new ShardCore({
      journal: this.journal,
      outbound: sink,
      nowMs: () => this.nowMs,
      windowRecordsMax: options.windowRecordsMax ?? 131_072,
      refusalBudget: options.refusalBudget,
    });
  }

  /** Recover from the journal and flush the 'ready' record: what a worker does first. */
  start(): ShardOutbound[] {
    this.core.recover();
    return this.flush();
  }

  record(message: ShardInbound): void {
    this.core.onRecord(encodeInbound(message));
  }

  event(sub: string, ev: ActorEvent, extra: { settings?: SubscriptionSettings; t0?: number; remoteAddress?: string } = {}): void {
    this.record({ t: 'event', sub, ev, ...extra });
  }

  report(sub: string, conn: number, report: ExecutionReportRecord, remoteAddress = '198.51.100.9'): void {
    this.record({ t: 'report', sub, conn, report, remoteAddress });
  }

  /** Flushes; returns what this flush sent. */
  flush(): ShardOutbound[] {
    const from = this.sent.length;
    this.core.flush();
    if (this.notDurable.length > 0) throw new Error(`sent before its commit: ${this.notDurable.join('; ')}`);
    return this.sent.slice(from);
  }

  /** The 'send' records among `records`, frames decoded. */
  static frames(records: ShardOutbound[]): SentFrame[] {
    return records.flatMap((m) => (m.t === 'send' ? [{ ...m, decoded: decodeFrame(m.frame)! }] : []));
  }

  /** Rows of the journal as committed now, through the second connection. */
  rows<T>(sql: string, ...params: unknown[]): T[] {
    return this.reader.prepare(sql).all(...params) as T[];
  }

  close(): void {
    this.reader.close();
    try {
      this.journal.close();
    } catch {
      // a test may have closed it
    }
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private take(message: ShardOutbound): void {
    // Through the ring's codec, as the I/O thread reads it.
    const decoded = decodeOutbound(encodeOutbound(message));
    if (this.checkDurability) {
      const missing = this.uncommitted(decoded);
      if (missing !== null) this.notDurable.push(missing);
    }
    this.sent.push(decoded);
  }

  /** What `message` announces that the journal does not hold yet, or null. */
  private uncommitted(message: ShardOutbound): string | null {
    const count = (sql: string, ...params: unknown[]): number => (this.reader.prepare(sql).pluck().get(...params) as number) ?? 0;
    if (message.t === 'security') {
      const ev: SecurityEvent = message.ev;
      const n = count('SELECT count(*) FROM security_events WHERE code = ? AND at_ms = ? AND detail = ?', ev.code, ev.atMs, ev.detail);
      return n > 0 ? null : `security event ${ev.code} ${ev.detail}`;
    }
    if (message.t === 'state') {
      const n = count('SELECT count(*) FROM states WHERE subscription_id = ? AND state = ?', message.sub, message.state);
      return n > 0 ? null : `state ${message.state} @${message.seq}`;
    }
    if (message.t !== 'send') return null;
    const signalHeld = (): boolean =>
      count('SELECT count(*) FROM signals WHERE subscription_id = ? AND sequence = ?', message.sub, message.seq) > 0 ||
      count('SELECT count(*) FROM snapshots WHERE subscription_id = ? AND sequence >= ?', message.sub, message.seq) > 0;
    switch (message.kind) {
      case 'ack':
      case 'delivery':
        return signalHeld() ? null : `${message.kind} ${message.seq}`;
      case 'snapshot': {
        const n = count('SELECT count(*) FROM signals WHERE subscription_id = ? AND sequence >= ?', message.sub, message.seq);
        return message.seq === 0 || n > 0 || signalHeld() ? null : `snapshot ${message.seq}`;
      }
      case 'reportAck': {
        const n = count('SELECT count(*) FROM execution_reports WHERE subscription_id = ? AND sequence = ?', message.sub, message.seq);
        return n > 0 ? null : `reportAck ${message.seq}`;
      }
      default:
        return null;
    }
  }
}
