/**
 * Journal retention: deletes the journal rows that are in Postgres and that
 * the shard no longer needs. Run by the shipper thread (it knows the
 * watermarks) on a second, read-write connection to each shard's journal.
 *
 * Two writers on one file: the shard worker appends, this pruner deletes.
 * SQLite serialises them (one write lock, BEGIN IMMEDIATE); every prune
 * transaction is short (at most journalLimits.pruneRowsMax rows) and waits
 * at most pruneBusyTimeoutMs for the lock, then leaves the work for the next
 * pass. The shard's own commits wait (busy_timeout) for such a transaction,
 * never fail on it.
 *
 * The rule (what may go; docs/postgres.md "Journal pruning"):
 * - Nothing above the shipper's watermark of its table: it is not in
 *   Postgres yet.
 * - signals: recovery rebuilds an actor from the latest snapshot/checkpoint
 *   plus every signal after it; receivers catch up from the journal at most
 *   catchUpBatchMax * catchUpSnapshotBatches signals back (beyond that, or
 *   behind the last snapshot, they get a snapshot), and a master's resent
 *   signal is recognised as a duplicate from the journal. So a signal goes
 *   only when it is (a) shipped, (b) outside the newest
 *   `retainedSignalsPerSubscription` of its subscription, and (c) at or
 *   below the latest snapshot/checkpoint. When (c) is what holds a
 *   subscription back, the pruner writes a checkpoint: the book at sequence
 *   S, computed by the actor's own recovery code (restoreSnapshot and
 *   restoreSignal) from the latest snapshot and the signals up to S, so
 *   recovery from the checkpoint rebuilds the same book.
 * - states: recovery reads only the latest per subscription; shipped
 *   changes that a later one replaced go.
 * - security_events: never read back by the shard; shipped ones go.
 * - execution_reports: never read back by the shard; shipped ones go (a
 *   report resent after that is journaled again and lands on its key in
 *   Postgres: nothing twice).
 * - cursors: one row per (subscription, receiver), read by recovery: kept
 *   (a cursor update already replaces its row).
 * - snapshots: not shipped; journal.prune keeps only the latest.
 */
import fs from 'node:fs';
import { actor as actorLimits, journalLimits, journalRetention, type SnapshotRecord } from '@sigplane/protocol';
import { listPositions } from '../../actors/positions-book';
import { catchUpSnapshotBatches } from '../../actors/receiver-catch-up';
import { createActor, restoreSignal, restoreSnapshot } from '../../actors/subscription-actor';
import { Journal } from '../journal';
import type { ShipTableName } from './journal-rows';
import { emptyPruneCounts, type PruneCounts } from './shipper-status';

export interface RetentionLimits {
  pruneIntervalMs: number;
  pruneTransactionsPerPassMax: number;
  pruneSubscriptionsPerPassMax: number;
  checkpointReplaySignalsMax: number;
  pruneBusyTimeoutMs: number;
  /** Signals kept per subscription whatever else holds (catch-up, duplicate detection). */
  retainedSignalsPerSubscription: number;
}

export const retentionLimits: RetentionLimits = {
  pruneIntervalMs: journalRetention.pruneIntervalMs,
  pruneTransactionsPerPassMax: journalRetention.pruneTransactionsPerPassMax,
  pruneSubscriptionsPerPassMax: journalRetention.pruneSubscriptionsPerPassMax,
  checkpointReplaySignalsMax: journalRetention.checkpointReplaySignalsMax,
  pruneBusyTimeoutMs: journalRetention.pruneBusyTimeoutMs,
  retainedSignalsPerSubscription: journalLimits.retainedSignalsPerSubscription,
};

/**
 * Fewest signals kept per subscription: what a receiver can still catch up
 * on from the journal, and what the actor's delivery window holds (so a
 * recovery from a checkpoint refills the window as a full replay would).
 */
export const retainedSignalsMin = Math.max(actorLimits.catchUpBatchMax * catchUpSnapshotBatches, actorLimits.deliveryWindowMax);

export function checkRetentionLimits(limits: RetentionLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`retention limit ${name} must be a positive integer, got ${value}`);
  }
  if (limits.retainedSignalsPerSubscription < retainedSignalsMin) {
    throw new RangeError(`retainedSignalsPerSubscription must be at least ${retainedSignalsMin} (receiver catch-up), got ${limits.retainedSignalsPerSubscription}`);
  }
  if (limits.checkpointReplaySignalsMax > journalLimits.readSignalsLimitMax) {
    throw new RangeError(`checkpointReplaySignalsMax must be at most ${journalLimits.readSignalsLimitMax}`);
  }
}

/** The pruner of one shard journal. Not thread-safe; one per shard, in the shipper thread. */
export class JournalPruner {
  private journal: Journal | null = null;
  /** Subscriptions are visited in id order across passes: the next pass resumes after this one. */
  private resumeAfter = '';

  constructor(
    readonly filePath: string,
    private readonly limits: RetentionLimits,
  ) {
    checkRetentionLimits(limits);
  }

  /**
   * One bounded pass (at most pruneTransactionsPerPassMax transactions) with
   * the given shipped watermarks. Throws what the journal throws (busy,
   * corrupt); the caller reports it and closes the pruner.
   */
  prune(watermark: Readonly<Record<ShipTableName, number>>): PruneCounts {
    const counts = emptyPruneCounts();
    const journal = this.open();
    if (journal === null) return counts;
    let transactions = 0;
    const budgetLeft = (): boolean => transactions < this.limits.pruneTransactionsPerPassMax;

    while (budgetLeft()) {
      const deleted = journal.pruneShippedHistory(watermark.states, watermark.security_events, journalLimits.pruneRowsMax);
      transactions++;
      counts.states += deleted.states;
      counts.securityEvents += deleted.securityEvents;
      if (deleted.states + deleted.securityEvents < journalLimits.pruneRowsMax) break;
    }
    while (budgetLeft()) {
      const deleted = journal.pruneShippedReports(watermark.execution_reports, journalLimits.pruneRowsMax);
      transactions++;
      counts.executionReports += deleted;
      if (deleted < journalLimits.pruneRowsMax) break;
    }

    const keep = this.limits.retainedSignalsPerSubscription;
    let after = this.resumeAfter;
    let visited = 0;
    while (budgetLeft() && visited++ < this.limits.pruneSubscriptionsPerPassMax) {
      const sub = journal.nextSignalSubscription(after);
      if (sub === null) {
        after = '';
        break;
      }
      after = sub;
      const target = journal.retentionTarget(sub, keep, watermark.signals);
      if (target === null) continue;
      const snapshot = journal.latestSnapshot(sub);
      if (snapshot === null || snapshot.sequence < target) {
        const upTo = Math.min(target, (snapshot?.sequence ?? 0) + this.limits.checkpointReplaySignalsMax);
        journal.checkpoint(checkpointAt(journal, sub, snapshot, upTo));
        transactions++;
        counts.checkpoints++;
      }
      while (budgetLeft()) {
        const deleted = journal.prune(sub, keep, watermark.signals);
        transactions++;
        counts.signals += deleted;
        if (deleted < journalLimits.pruneRowsMax) break;
      }
    }
    this.resumeAfter = after;
    return counts;
  }

  close(): void {
    const journal = this.journal;
    this.journal = null;
    this.resumeAfter = '';
    try {
      journal?.close();
    } catch {
      // closing after a failure: nothing more to do
    }
  }

  /** The shard creates the file and its schema; until it exists there is nothing to prune. */
  private open(): Journal | null {
    if (this.journal !== null) return this.journal;
    if (!fs.existsSync(this.filePath)) return null;
    // 'full': a checkpoint must be durable before the signals it covers are deleted (WAL order keeps them in order anyway).
    this.journal = Journal.open(this.filePath, { sync: 'full', busyTimeoutMs: this.limits.pruneBusyTimeoutMs });
    return this.journal;
  }
}

/**
 * The book of `sub` at sequence `upTo`, rebuilt exactly as recovery would:
 * the latest snapshot (or an empty book), then every signal up to `upTo`,
 * through the actor's restore functions. Throws if a signal is missing.
 */
function checkpointAt(journal: Journal, sub: string, snapshot: SnapshotRecord | null, upTo: number): SnapshotRecord {
  const actor = createActor(sub, 0);
  const from = (snapshot?.sequence ?? 0) + 1;
  if (snapshot !== null) restoreSnapshot(actor, snapshot);
  const signals = journal.readSignals(sub, from, upTo, upTo - from + 1);
  if (signals.length !== upTo - from + 1) {
    throw journal.corrupt(`checkpoint of ${JSON.stringify(sub)}: signals ${from}..${upTo} are not all in the journal (found ${signals.length})`);
  }
  for (const record of signals) restoreSignal(actor, record);
  const last = signals[signals.length - 1];
  return {
    subscriptionId: sub,
    sequence: upTo,
    generatedAtMs: last?.generatedAtMs ?? snapshot?.generatedAtMs ?? 0,
    positions: listPositions(actor.book),
  };
}
