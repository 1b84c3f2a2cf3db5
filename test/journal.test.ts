/**
 * The shard journal (persistence/journal.ts) on real files in a temp folder:
 * round trips, atomicity, checks before write and after read, recovery,
 * retention, and durability under kill -9 of a child process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import { Packr } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { journalLimits, type SignalRecord } from '@sigplane/protocol';
import { crc32 } from '../persistence/crc32';
import { Journal, JournalError, type JournalSync, type RecoveredSubscription } from '../persistence/journal';
import {
  batchOf,
  makeSecurityEvent,
  makeSignal,
  makeSnapshot,
  signalRange,
} from './fixtures/journal-records';
import { Prng } from './support/prng';

const root = path.resolve(__dirname, '..');
let dir: string;
let opened: Journal[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-journal-'));
  opened = [];
});
afterEach(() => {
  for (const j of opened) j.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openJournal(name = 'j.sqlite', sync: JournalSync = 'normal'): Journal {
  const j = Journal.open(path.join(dir, name), { sync });
  opened.push(j);
  return j;
}

/** A second, raw connection to the same file (what an attacker or a bad disk would do). */
function raw(name = 'j.sqlite'): Database.Database {
  return new Database(path.join(dir, name));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof JournalError) return error.code;
    throw error;
  }
  throw new Error('expected a JournalError, nothing was thrown');
}

function recoverAll(j: Journal): { r: RecoveredSubscription; signals: SignalRecord[] }[] {
  const out: { r: RecoveredSubscription; signals: SignalRecord[] }[] = [];
  j.recover((r, signals) => out.push({ r, signals: [...signals] }));
  return out;
}

const sequencesOf = (records: SignalRecord[]): number[] => records.map((r) => r.sequence);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('crc32', () => {
  it('matches the standard check value and zlib', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const zcrc = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
    const random = new Prng(7);
    for (let n = 0; n < 200; n++) {
      const bytes = Uint8Array.from({ length: n * 7 }, () => Math.floor(random.next() * 256));
      if (zcrc !== undefined) expect(crc32(bytes)).toBe(zcrc(bytes));
    }
  });
});

describe('Journal.open', () => {
  it('creates folders and file, sets WAL and the sync mode, versions the schema', () => {
    const file = path.join(dir, 'a', 'b', 'j.sqlite');
    for (const sync of ['normal', 'full'] as const) {
      const j = Journal.open(file, { sync });
      expect(j.stats().sync).toBe(sync);
      j.close();
    }
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.pragma('application_id', { simple: true })).toBe(0x5347504a);
    db.close();
  });

  it('refuses a file that is not a journal, or of another schema version', () => {
    const foreign = new Database(path.join(dir, 'foreign.sqlite'));
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    expect(codeOf(() => openJournal('foreign.sqlite'))).toBe('JOURNAL_SCHEMA');

    openJournal('newer.sqlite').close();
    const db = raw('newer.sqlite');
    db.pragma('user_version = 2');
    db.close();
    expect(() => openJournal('newer.sqlite')).toThrow(/schema version 2; this build reads version 1/);
  });

  describe("owner-only files (they hold paying subscribers' signals)", () => {
    /** Permission bits of a file or folder, in octal. */
    const modeOf = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8);
    let umask: number;
    // The usual umask (022) would let SQLite's own 0644 through: the journal must not depend on the umask.
    beforeEach(() => {
      umask = process.umask(0o022);
    });
    afterEach(() => {
      process.umask(umask);
    });

    it('creates the file and its -wal and -shm 0600, and the folder it makes 0700', () => {
      const folder = path.join(dir, 'data');
      const file = path.join(folder, 'journal-shard-0.sqlite');
      const j = Journal.open(file, { sync: 'normal' });
      opened.push(j);
      j.commit(batchOf({ signals: [makeSignal('s', 1)] }));
      expect(fs.existsSync(`${file}-wal`) && fs.existsSync(`${file}-shm`)).toBe(true);
      expect([modeOf(folder), modeOf(file), modeOf(`${file}-wal`), modeOf(`${file}-shm`)]).toEqual(['700', '600', '600', '600']);
    });

    it('tightens at open a file and companions left readable by others (another connection keeping them)', () => {
      const file = path.join(dir, 'journal-shard-0.sqlite');
      const shard = Journal.open(file, { sync: 'normal' });
      opened.push(shard);
      shard.commit(batchOf({ signals: [makeSignal('s', 1)] }));
      const files = [file, `${file}-wal`, `${file}-shm`];
      for (const f of files) fs.chmodSync(f, 0o644); // as an earlier build left them
      // A second connection, as the shipper's pruner opens one beside the shard's.
      const pruner = Journal.open(file, { sync: 'full' });
      opened.push(pruner);
      expect(files.map(modeOf)).toEqual(['600', '600', '600']);
      expect(pruner.readSignals('s', 1, 1, 1).map((s) => s.sequence)).toEqual([1]);
    });
  });

  it('refuses use after close; close is idempotent', () => {
    const j = openJournal();
    j.close();
    j.close();
    expect(codeOf(() => j.commit(batchOf({ signals: [makeSignal('s', 1)] })))).toBe('JOURNAL_CLOSED');
    expect(codeOf(() => j.readSignals('s', 1, 1, 1))).toBe('JOURNAL_CLOSED');
  });
});

describe('round trip', () => {
  it('every record kind comes back exactly as written, after reopen', () => {
    const v2 = makeSignal('sub-a', 2, {
      signingVersion: 2,
      positionId: '18446744073709551615',
      magic: '123456',
      orderType: 8,
      volume: 100,
      price: -0.5,
      stopLoss: 1.23456,
      takeProfit: 9.87654,
      content: Uint8Array.from([0, 255, 0, 1, 127, 128]),
    });
    const empty = makeSignal('sub-a', 3, { content: new Uint8Array(0) });
    const last = makeSignal('sub-big', Number.MAX_SAFE_INTEGER);
    const signals = [makeSignal('sub-a', 1), v2, empty, last];
    const snapshot = makeSnapshot('sub-a', 3, 5);
    const events = [makeSecurityEvent(1), makeSecurityEvent(2, null)];
    const j = openJournal();
    j.commit(
      batchOf({
        signals,
        snapshots: [snapshot, makeSnapshot('sub-empty', 0, 0)],
        cursors: [{ subscriptionId: 'sub-a', receiverId: 'r1', sequence: 2 }],
        states: [{ subscriptionId: 'sub-a', state: 'DEGRADED', sequence: 3, reason: 'gap 4..9', atMs: 1_795_000_000_123.5 }],
        securityEvents: events,
      }),
    );
    j.close();

    const k = openJournal();
    const back = k.readSignals('sub-a', 1, 3, 10);
    expect(back).toEqual(signals.slice(0, 3));
    for (const r of back) {
      expect(r.content).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(r.content)).toBe(false);
    }
    expect(Array.from(back[1].content)).toEqual([0, 255, 0, 1, 127, 128]);
    expect(k.readSignals('sub-big', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1)).toEqual([last]);

    const recovered = recoverAll(k);
    expect(recovered.map((x) => x.r.subscriptionId)).toEqual(['sub-a', 'sub-big', 'sub-empty']);
    const a = recovered[0];
    expect(a.r.snapshot).toEqual(snapshot);
    expect(a.r.snapshotKind).toBe('master');
    expect(a.r.state).toEqual({ state: 'DEGRADED', reason: 'gap 4..9', sequence: 3, atMs: 1_795_000_000_123.5 });
    expect(a.r.cursors).toEqual([{ receiverId: 'r1', sequence: 2 }]);
    expect(a.r.lastSequence).toBe(3);
    expect(a.signals).toEqual([]); // all at or below the snapshot
    expect(recovered[2].r.snapshot).toEqual(makeSnapshot('sub-empty', 0, 0));

    k.checkpoint(makeSnapshot('sub-a', 3, 2));
    const afterCheckpoint = recoverAll(k)[0].r;
    expect(afterCheckpoint.snapshotKind).toBe('checkpoint');
    expect(afterCheckpoint.snapshot).toEqual(makeSnapshot('sub-a', 3, 2));

    const db = raw();
    const rows = db
      .prepare('SELECT at_ms, code, subscription_id, role, remote_address, sequence, detail FROM security_events ORDER BY journal_id')
      .all() as Record<string, unknown>[];
    db.close();
    expect(
      rows.map((r) => ({
        atMs: r.at_ms,
        code: r.code,
        subscriptionId: r.subscription_id,
        role: r.role,
        remoteAddress: r.remote_address,
        sequence: r.sequence,
        detail: r.detail,
      })),
    ).toEqual(events);
    expect(k.securityEventCount()).toBe(2);
    expect(k.stats()).toMatchObject({ signals: 4, snapshots: 3, states: 1, cursors: 1, securityEvents: 2 });
  });

  it('readSignals returns the range ascending, bounded by limit, holes as they are', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: [...signalRange('s', 1, 5), ...signalRange('s', 8, 10), ...signalRange('t', 1, 3)] }));
    expect(sequencesOf(j.readSignals('s', 1, 10, 100))).toEqual([1, 2, 3, 4, 5, 8, 9, 10]);
    expect(sequencesOf(j.readSignals('s', 4, 9, 100))).toEqual([4, 5, 8, 9]);
    expect(sequencesOf(j.readSignals('s', 2, 10, 3))).toEqual([2, 3, 4]);
    expect(j.readSignals('s', 6, 7, 10)).toEqual([]);
    expect(j.readSignals('s', 9, 2, 10)).toEqual([]);
    expect(j.readSignals('s', 1, 10, 0)).toEqual([]);
    expect(j.readSignals('nobody', 1, 10, 10)).toEqual([]);
    expect(codeOf(() => j.readSignals('s', 1, 10, journalLimits.readSignalsLimitMax + 1))).toBe('JOURNAL_INVALID_ARGUMENT');
    expect(codeOf(() => j.readSignals('s', 1.5, 10, 1))).toBe('JOURNAL_INVALID_ARGUMENT');
  });

  it('cursors keep the max, and each increase gets a new journal_id (for the shipper)', () => {
    const j = openJournal();
    const cursor = (receiverId: string, sequence: number) => ({ subscriptionId: 's', receiverId, sequence });
    const idOf = (receiverId: string): number => {
      const db = raw();
      const id = db.prepare('SELECT journal_id FROM cursors WHERE receiver_id = ?').pluck().get(receiverId) as number;
      db.close();
      return id;
    };
    j.commit(batchOf({ cursors: [cursor('r1', 5), cursor('r2', 3)] }));
    const first = idOf('r1');
    j.commit(batchOf({ cursors: [cursor('r1', 4)] }));
    expect(idOf('r1')).toBe(first);
    j.commit(batchOf({ cursors: [cursor('r1', 9), cursor('r1', 7)] }));
    expect(idOf('r1')).toBeGreaterThan(first);
    expect(recoverAll(j)[0].r.cursors).toEqual([
      { receiverId: 'r1', sequence: 9 },
      { receiverId: 'r2', sequence: 3 },
    ]);
  });
});

describe('commit', () => {
  function counts(): Record<string, number> {
    const db = raw();
    const out: Record<string, number> = {};
    for (const t of ['signals', 'snapshots', 'states', 'cursors', 'security_events']) {
      out[t] = db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
    }
    db.close();
    return out;
  }

  it('is atomic: a batch holding an existing signal key writes nothing', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('sub-a', 1, 3), securityEvents: [makeSecurityEvent(1)] }));
    const before = counts();
    const statsBefore = j.stats();
    const bad = batchOf({
      signals: [makeSignal('sub-b', 1), makeSignal('sub-a', 4), makeSignal('sub-a', 3, { price: 2 })],
      snapshots: [makeSnapshot('sub-c', 0)],
      cursors: [{ subscriptionId: 'sub-a', receiverId: 'r', sequence: 3 }],
      states: [{ subscriptionId: 'sub-a', state: 'ISOLATED', sequence: 3, reason: 'x', atMs: 1 }],
      securityEvents: [makeSecurityEvent(2)],
    });
    expect(() => j.commit(bad)).toThrow(/JOURNAL_DUPLICATE_SIGNAL: signal subscription "sub-a" sequence 3 is already journaled/);
    expect(counts()).toEqual(before);
    expect(j.stats()).toMatchObject({ signals: statsBefore.signals, securityEvents: statsBefore.securityEvents, commits: statsBefore.commits });
    expect(j.readSignals('sub-a', 1, 10, 10)).toEqual(signalRange('sub-a', 1, 3)); // not overwritten

    expect(codeOf(() => j.commit(batchOf({ signals: [makeSignal('sub-d', 1), makeSignal('sub-d', 1)] })))).toBe(
      'JOURNAL_DUPLICATE_SIGNAL',
    );
    expect(counts()).toEqual(before);

    j.commit(batchOf({ signals: [makeSignal('sub-a', 4)] })); // a rolled-back batch does not poison the journal
    expect(sequencesOf(j.readSignals('sub-a', 1, 10, 10))).toEqual([1, 2, 3, 4]);
  });

  it('checks every record before writing anything', () => {
    const j = openJournal();
    const invalid: SignalRecord[] = [
      makeSignal('s', 0),
      makeSignal('s', 1.5),
      makeSignal('s', 1, { price: Number.NaN }),
      makeSignal('s', 1, { volume: Number.POSITIVE_INFINITY }),
      makeSignal('s', 1, { content: 'abc' as unknown as Uint8Array }),
      makeSignal('s', 1, { symbol: '' }),
      makeSignal('s', 1, { orderType: 9 }),
      makeSignal('s', 1, { signingVersion: 3 as 1 }),
      makeSignal('s', 1, { positionId: '-1' }),
      makeSignal('', 1),
    ];
    for (const signal of invalid) {
      expect(codeOf(() => j.commit(batchOf({ signals: [makeSignal('ok', 1), signal] })))).toBe('JOURNAL_INVALID_RECORD');
    }
    const bad = [
      batchOf({ snapshots: [{ ...makeSnapshot('s', 1), positions: [{ ...makeSnapshot('s', 1).positions[0], volume: Number.NaN }] }] }),
      batchOf({ cursors: [{ subscriptionId: 's', receiverId: '', sequence: 1 }] }),
      batchOf({ cursors: [{ subscriptionId: 's', receiverId: 'r', sequence: -1 }] }),
      batchOf({ states: [{ subscriptionId: 's', state: 'SLEEPING' as 'ACTIVE', sequence: 1, reason: '', atMs: 1 }] }),
      batchOf({ securityEvents: [{ ...makeSecurityEvent(1), code: 'NOPE' as 'STALE' }] }),
      batchOf({ securityEvents: [{ ...makeSecurityEvent(1), sequence: 2 ** 60 }] }),
      batchOf({ securityEvents: [{ ...makeSecurityEvent(1), role: 'admin' as 'master' }] }),
    ];
    for (const batch of bad) {
      expect(codeOf(() => j.commit({ ...batch, signals: [makeSignal('ok', 1)] }))).toBe('JOURNAL_INVALID_RECORD');
    }
    expect(j.stats()).toMatchObject({ signals: 0, snapshots: 0, states: 0, cursors: 0, securityEvents: 0 });
  });

  it('refuses what recovery would misread: signals at or below the latest snapshot, snapshots going back', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('s', 1, 5), snapshots: [makeSnapshot('s', 10)] }));
    expect(() => j.commit(batchOf({ signals: [makeSignal('s', 10)] }))).toThrow(/JOURNAL_OUT_OF_ORDER.*at or below the latest snapshot \(10\)/);
    expect(() => j.commit(batchOf({ snapshots: [makeSnapshot('s', 9)] }))).toThrow(/JOURNAL_OUT_OF_ORDER.*behind the latest snapshot/);
    // Signals accepted before a snapshot, in the same batch, are fine (the snapshot supersedes them).
    j.commit(batchOf({ signals: signalRange('s', 11, 14), snapshots: [makeSnapshot('s', 12)] }));
    j.commit(batchOf({ signals: [makeSignal('s', 15)] }));
    expect(codeOf(() => j.checkpoint(makeSnapshot('s', 11)))).toBe('JOURNAL_OUT_OF_ORDER');
    expect(codeOf(() => j.checkpoint(makeSnapshot('s', 16)))).toBe('JOURNAL_OUT_OF_ORDER');
    j.checkpoint(makeSnapshot('s', 15));
  });
});

describe('corruption is detected on read', () => {
  function setup(): Journal {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('sub-a', 1, 5), snapshots: [makeSnapshot('sub-b', 0)] }));
    return j;
  }

  it('a flipped byte in a signal blob (checksum mismatch)', () => {
    const j = setup();
    const db = raw();
    const blob = db.prepare("SELECT record FROM signals WHERE subscription_id = 'sub-a' AND sequence = 3").pluck().get() as Buffer;
    blob[blob.length - 1] ^= 0x01;
    db.prepare("UPDATE signals SET record = ? WHERE subscription_id = 'sub-a' AND sequence = 3").run(blob);
    db.close();
    expect(sequencesOf(j.readSignals('sub-a', 1, 2, 10))).toEqual([1, 2]);
    expect(() => j.readSignals('sub-a', 1, 5, 10)).toThrow(/JOURNAL_CORRUPT: signals row journal_id \d+ subscription "sub-a" sequence 3: checksum mismatch/);
    expect(() => recoverAll(j)).toThrow(/subscription "sub-a" sequence 3: checksum mismatch/);
  });

  it('a valid blob under the wrong key (key mismatch)', () => {
    const j = setup();
    const db = raw();
    const row = db.prepare("SELECT record, checksum FROM signals WHERE subscription_id = 'sub-a' AND sequence = 2").get() as {
      record: Buffer;
      checksum: number;
    };
    db.prepare("UPDATE signals SET record = ?, checksum = ? WHERE subscription_id = 'sub-a' AND sequence = 4").run(row.record, row.checksum);
    db.close();
    expect(() => j.readSignals('sub-a', 4, 4, 1)).toThrow(/sequence 4: record says subscription "sub-a" sequence 2: key mismatch/);
  });

  it('a blob of the wrong shape with a matching checksum, and a corrupt snapshot', () => {
    const j = setup();
    const db = raw();
    const junk = new Packr({ useRecords: false }).pack([1, 'sub-a', 5]);
    db.prepare("UPDATE signals SET record = ?, checksum = ? WHERE subscription_id = 'sub-a' AND sequence = 5").run(junk, crc32(junk));
    const snap = db.prepare("SELECT record FROM snapshots WHERE subscription_id = 'sub-b'").pluck().get() as Buffer;
    snap[3] ^= 0xff;
    db.prepare("UPDATE snapshots SET record = ? WHERE subscription_id = 'sub-b'").run(snap);
    db.close();
    expect(() => j.readSignals('sub-a', 5, 5, 1)).toThrow(/sequence 5: record has the wrong shape/);
    // Signals are read lazily: not iterating sub-a's lets recovery reach sub-b's snapshot.
    expect(() => j.recover(() => undefined)).toThrow(/JOURNAL_CORRUPT: snapshots row journal_id \d+ subscription "sub-b" sequence 0: checksum mismatch/);
    expect(() => recoverAll(j)).toThrow(/subscription "sub-a" sequence 5: record has the wrong shape/);
  });

  it('a missing signal after the snapshot stops recovery', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('s', 1, 10), snapshots: [makeSnapshot('s', 4)] }));
    const db = raw();
    db.prepare("DELETE FROM signals WHERE subscription_id = 's' AND sequence = 7").run();
    db.close();
    expect(() => recoverAll(j)).toThrow(/JOURNAL_CORRUPT: .*recover subscription "s": expected sequence 7 after snapshot 4, found 8/);
  });
});

describe('recover', () => {
  it('after close/reopen: latest snapshot + later signals in order, latest state, max cursors', () => {
    const j = openJournal('r.sqlite', 'full');
    j.commit(batchOf({ signals: signalRange('sub-a', 1, 10), cursors: [{ subscriptionId: 'sub-a', receiverId: 'r1', sequence: 5 }] }));
    j.commit(
      batchOf({
        snapshots: [makeSnapshot('sub-a', 10, 4)],
        states: [{ subscriptionId: 'sub-a', state: 'SYNCING', sequence: 10, reason: 'full sync', atMs: 1 }],
        cursors: [{ subscriptionId: 'sub-a', receiverId: 'r2', sequence: 3 }],
      }),
    );
    j.commit(
      batchOf({
        signals: signalRange('sub-a', 11, 15),
        states: [{ subscriptionId: 'sub-a', state: 'ACTIVE', sequence: 15, reason: 'whole again', atMs: 2 }],
        cursors: [{ subscriptionId: 'sub-a', receiverId: 'r1', sequence: 12 }],
      }),
    );
    j.commit(batchOf({ cursors: [{ subscriptionId: 'sub-a', receiverId: 'r1', sequence: 7 }] }));
    j.commit(batchOf({ signals: signalRange('sub-b', 1, 3) }));
    j.commit(
      batchOf({
        cursors: [{ subscriptionId: 'sub-c', receiverId: 'r9', sequence: 0 }],
        states: [{ subscriptionId: 'sub-c', state: 'ISOLATED', sequence: 0, reason: 'operator', atMs: 3 }],
      }),
    );
    const pages = journalLimits.recoverSignalsPageMax * 2 + 17;
    j.commit(batchOf({ signals: signalRange('sub-d', 1, pages) }));
    j.close();

    const k = openJournal('r.sqlite', 'normal');
    const all = recoverAll(k);
    expect(all.map((x) => x.r.subscriptionId)).toEqual(['sub-a', 'sub-b', 'sub-c', 'sub-d']);
    const [a, b, c, d] = all;
    expect(a.r.snapshot).toEqual(makeSnapshot('sub-a', 10, 4));
    expect(a.signals).toEqual(signalRange('sub-a', 11, 15));
    expect(a.r.state).toEqual({ state: 'ACTIVE', reason: 'whole again', sequence: 15, atMs: 2 });
    expect(a.r.cursors).toEqual([
      { receiverId: 'r1', sequence: 12 },
      { receiverId: 'r2', sequence: 3 },
    ]);
    expect(a.r.lastSequence).toBe(15);
    expect(b.r).toEqual({ subscriptionId: 'sub-b', snapshot: null, snapshotKind: null, state: null, cursors: [], lastSequence: 3 });
    expect(b.signals).toEqual(signalRange('sub-b', 1, 3));
    expect(c.r.state?.state).toBe('ISOLATED');
    expect(c.r.cursors).toEqual([{ receiverId: 'r9', sequence: 0 }]);
    expect(c.signals).toEqual([]);
    expect(sequencesOf(d.signals)).toEqual(range(1, pages));
    expect(k.stats()).toMatchObject({ signals: 18 + pages, securityEvents: 0 });
  });

  it('streams: the iterable is lazy, iterable once, and only inside the callback', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('s', 1, 3) }));
    let kept: Iterable<SignalRecord> | undefined;
    j.recover((_, signals) => {
      kept = signals;
      const first = signals[Symbol.iterator]().next();
      expect(first.value?.sequence).toBe(1);
      expect(codeOf(() => [...signals])).toBe('JOURNAL_INVALID_ARGUMENT');
    });
    expect(() => [...kept!]).toThrow(/iterated once|after its recover callback/);
  });
});

describe('prune', () => {
  it('deletes nothing without a snapshot: recovery needs every signal', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('s', 1, 100) }));
    expect(j.prune('s', 10)).toBe(0);
    expect(j.readSignals('s', 1, 100, 1000)).toHaveLength(100);
  });

  it('deletes only at or below the latest checkpoint and outside the newest keepLast; recovery is unchanged', () => {
    const j = openJournal();
    j.commit(batchOf({ signals: signalRange('s', 1, 100), snapshots: [makeSnapshot('s', 20)] }));
    j.commit(batchOf({ signals: signalRange('other', 1, 50) }));
    j.checkpoint(makeSnapshot('s', 60, 2));
    const before = recoverAll(j);

    expect(j.prune('s', 10)).toBe(60); // checkpoint 60 bounds it, not keepLast
    expect(sequencesOf(j.readSignals('s', 1, 100, 1000))).toEqual(range(61, 100));
    expect(recoverAll(j)).toEqual(before);
    expect(j.readSignals('other', 1, 50, 100)).toHaveLength(50); // other subscriptions untouched

    j.checkpoint(makeSnapshot('s', 100, 1));
    expect(j.prune('s', 10)).toBe(30); // keepLast bounds it now
    expect(sequencesOf(j.readSignals('s', 1, 100, 1000))).toEqual(range(91, 100));
    const after = recoverAll(j).find((x) => x.r.subscriptionId === 's')!;
    expect(after.r.snapshot).toEqual(makeSnapshot('s', 100, 1));
    expect(after.signals).toEqual([]);
    expect(after.r.lastSequence).toBe(100);
    expect(j.prune('s', 10)).toBe(0);
    expect(j.prune('s', 1000)).toBe(0);

    const db = raw();
    expect(db.prepare("SELECT count(*) FROM snapshots WHERE subscription_id = 's'").pluck().get()).toBe(1);
    db.close();
    j.close();
    const k = openJournal();
    expect(k.stats().signals).toBe(10 + 50);
    k.commit(batchOf({ signals: [makeSignal('s', 101)] }));
    expect(sequencesOf(recoverAll(k)[1].signals)).toEqual([101]);
  });

  it('deletes at most pruneRowsMax per call', () => {
    const j = openJournal();
    const total = journalLimits.pruneRowsMax + 10;
    j.commit(batchOf({ signals: signalRange('s', 1, total) }));
    j.checkpoint(makeSnapshot('s', total, 0));
    expect(j.prune('s', 0)).toBe(journalLimits.pruneRowsMax);
    expect(j.prune('s', 0)).toBe(10);
    expect(j.prune('s', 0)).toBe(0);
    expect(j.stats().signals).toBe(0);
    expect(recoverAll(j)[0].r.lastSequence).toBe(total);
  });
});

describe('kill -9', () => {
  const fixture = path.join(root, 'dist/test/fixtures/journal-writer.js');
  const sources = [
    ['test/fixtures/journal-writer.ts', 'dist/test/fixtures/journal-writer.js'],
    ['test/fixtures/journal-records.ts', 'dist/test/fixtures/journal-records.js'],
    ['test/support/prng.ts', 'dist/test/support/prng.js'],
    ['persistence/journal.ts', 'dist/persistence/journal.js'],
    ['persistence/journal-codec.ts', 'dist/persistence/journal-codec.js'],
    ['persistence/journal-files.ts', 'dist/persistence/journal-files.js'],
    ['persistence/journal-schema.ts', 'dist/persistence/journal-schema.js'],
    ['persistence/crc32.ts', 'dist/persistence/crc32.js'],
  ];

  function assertFixtureBuilt(): void {
    if (!fs.existsSync(fixture)) {
      throw new Error(`kill -9 test: ${fixture} is missing; compile first: cd ${root} && npx tsc -p tsconfig.json`);
    }
    for (const [source, built] of sources) {
      if (fs.statSync(path.join(root, built)).mtimeMs < fs.statSync(path.join(root, source)).mtimeMs) {
        throw new Error(`kill -9 test: ${built} is older than ${source}; recompile: cd ${root} && npx tsc -p tsconfig.json`);
      }
    }
  }

  /** Runs the writer, SIGKILLs it after `killAfterMs` past its first ack; returns the last acked sequences. */
  function runAndKill(file: string, sync: JournalSync, seed: number, killAfterMs: number): Promise<{ acked: number[]; lines: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, file, sync, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (timer === undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (signal !== 'SIGKILL') {
          reject(new Error(`writer exited by itself (code ${code}, signal ${signal}) before the kill:\n${err}`));
          return;
        }
        const lines = out.split('\n').slice(0, -1); // the last piece may be a partial line
        if (lines.length === 0) {
          reject(new Error(`writer acked nothing before the kill:\n${err}`));
          return;
        }
        const acked = lines[lines.length - 1].split(' ').map(Number);
        resolve({ acked, lines: lines.length });
      });
    });
  }

  it('every acknowledged sequence survives SIGKILL at a random moment (5 runs)', async () => {
    assertFixtureBuilt();
    const seed = Number(process.env.JOURNAL_KILL_SEED ?? Date.now() % 1_000_000);
    const random = new Prng(seed);
    const modes: JournalSync[] = ['normal', 'full', 'normal', 'full', 'normal'];
    for (let run = 0; run < modes.length; run++) {
      const file = path.join(dir, `kill-${run}.sqlite`);
      const killAfterMs = 20 + Math.floor(random.next() * 400);
      const context = `run ${run} (sync ${modes[run]}, JOURNAL_KILL_SEED=${seed}, kill after ${killAfterMs} ms)`;
      // A second life on the same file: restart after a kill, write on, kill again.
      let acked = [0, 0];
      for (let life = 0; life < 2; life++) {
        const result = await runAndKill(file, modes[run], seed + run * 10 + life, life === 0 ? killAfterMs : 20 + (killAfterMs % 97));
        expect(result.acked[0], context).toBeGreaterThanOrEqual(acked[0]);
        acked = result.acked;
      }

      const db = raw(path.basename(file));
      expect(db.pragma('integrity_check', { simple: true }), context).toBe('ok');
      db.close();

      const j = openJournal(path.basename(file));
      ['sub-a', 'sub-b'].forEach((sub, i) => {
        const max = acked[i];
        expect(max, context).toBeGreaterThan(0);
        const present = j.readSignals(sub, 1, max, journalLimits.readSignalsLimitMax);
        expect(present.length, `${context}: ${sub} 1..${max}`).toBe(max);
        expect(present[present.length - 1].sequence, context).toBe(max);
      });
      const recovered = recoverAll(j); // verifies every record after each snapshot and their continuity
      expect(recovered.map((x) => x.r.subscriptionId), context).toEqual(['sub-a', 'sub-b']);
      recovered.forEach((x, i) => expect(x.r.lastSequence, context).toBeGreaterThanOrEqual(acked[i]));
      j.commit(batchOf({ signals: [makeSignal('sub-b', recovered[1].r.lastSequence + 1)] }));
    }
  }, 120_000);
});
