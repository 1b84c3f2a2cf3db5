/**
 * The shipper's read-ahead (persistence/shipper/ship-batch.ts JournalSource,
 * persistence/shipper/journal-reader.ts readUnchecked/checkRows): a batch
 * read ahead is the batch a fresh read would give, used only from the
 * watermark it was read after, and a bad row in it is reported by the batch
 * that ships it, never skipped. No Postgres: the source alone.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignalRecord } from '@sigplane/protocol';
import { makeSignal } from './fixtures/journal-records';
import { Journal } from '../persistence/journal';
import { JournalReader, journalPathOf } from '../persistence/shipper/journal-reader';
import { JournalSource, readyBatch, type BatchReadLimits } from '../persistence/shipper/ship-batch';

const limits: BatchReadLimits = { rowsMax: 40, bytesMax: 8 * 1024 * 1024, copyChunkBytes: 1024 };
const subscriptionId = randomUUID();

let dir: string;
let reader: JournalReader;

function signalOf(sequence: number): SignalRecord {
  return makeSignal(subscriptionId, sequence, { positionId: String(1_000_000 + sequence), magic: '42', signingVersion: 2, action: 1 });
}

/** `count` signals (journal ids 1..count), optionally with the checksum of one of them broken. */
function openJournal(count: number, corruptId?: number): void {
  const file = journalPathOf(dir, 0);
  const journal = Journal.open(file, { sync: 'normal' });
  journal.commit({ signals: Array.from({ length: count }, (_, i) => signalOf(i + 1)), snapshots: [], cursors: [], states: [], securityEvents: [] });
  journal.close();
  if (corruptId !== undefined) {
    const raw = new Database(file);
    raw.prepare('UPDATE signals SET checksum = (checksum + 1) % 4294967296 WHERE journal_id = ?').run(corruptId);
    raw.close();
  }
  const opened = JournalReader.openIfExists(file, 1_000);
  if (opened === null) throw new Error('journal missing');
  reader = opened;
}

/** The batch a fresh read gives, to compare against. */
function freshBatch(watermark: number) {
  return readyBatch('signals', reader.readAfter('signals', watermark, limits), limits.copyChunkBytes);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-read-ahead-'));
});
afterEach(() => {
  reader?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('journal reader in two steps', () => {
  it('readUnchecked then checkRows gives what readAfter gives, within the same bounds', () => {
    openJournal(100);
    const small = { rowsMax: 30, bytesMax: 1 };
    expect(reader.checkRows(reader.readUnchecked('signals', 10, limits))).toEqual(reader.readAfter('signals', 10, limits));
    // bytesMax past the first row: one row.
    expect(reader.checkRows(reader.readUnchecked('signals', 0, small)).map((r) => r.journalId)).toEqual([1]);
    expect(reader.readUnchecked('signals', 100, limits).raw).toHaveLength(0);
  });
});

describe('JournalSource read-ahead', () => {
  it('a batch read ahead, prepared or not, is the batch a fresh read gives', () => {
    openJournal(100);
    const source = new JournalSource(reader, 'signals');
    source.prefetch(0, limits)();
    expect(source.batchAfter(0, limits)).toEqual(freshBatch(0));
    // Read but not yet checked and encoded: batchAfter finishes it.
    source.prefetch(40, limits);
    expect(source.batchAfter(40, limits)).toEqual(freshBatch(40));
  });

  it('is used only from the watermark and with the limits it was read with', () => {
    openJournal(100);
    const source = new JournalSource(reader, 'signals');
    source.prefetch(0, limits)();
    expect(source.batchAfter(7, limits).rows[0].journalId).toBe(8);
    source.prefetch(0, limits)();
    expect(source.batchAfter(0, { ...limits, rowsMax: 5 }).rows).toHaveLength(5);
    source.prefetch(0, limits)();
    source.forget();
    const fresh = source.batchAfter(0, limits);
    expect(fresh).toEqual(freshBatch(0));
  });

  it('a corrupt row read ahead is not skipped: the rows before it ship, then the batch that starts at it throws', () => {
    openJournal(100, 50);
    const source = new JournalSource(reader, 'signals');
    source.prefetch(40, limits)();
    const before = source.batchAfter(40, limits);
    expect(before.rows.map((r) => r.journalId)).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49]);
    expect(() => source.prefetch(49, limits)()).not.toThrow();
    expect(() => source.batchAfter(49, limits)).toThrow(/JOURNAL_CORRUPT.*checksum mismatch/);
  });
});
