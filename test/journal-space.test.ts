/**
 * The journal disk's levels (engine/journal-space.ts): the reserve, the
 * hysteresis that keeps a disk at the reserve from flapping, which records
 * are refused, the `--journal-disk-reserve` setting, and the watch reading
 * a real filesystem (a small tmpfs of the test's own).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { serveSchema } from '../cli/config-serve';
import {
  growsJournal,
  JournalSpaceWatch,
  nextSpaceLevel,
  reserveBytesOf,
  resumeBytesOf,
  type JournalSpaceLevel,
} from '../engine/journal-space';
import { journalDisk } from '@sigplane/protocol';
import type { ShardInbound } from '../engine/shard-protocol';
import { mountTmpfs, type Tmpfs } from './support/tmpfs';

const mebibyte = 1024 * 1024;
const mounts: Tmpfs[] = [];
afterAll(() => {
  for (const m of mounts.splice(0)) m.unmount();
});

describe('levels', () => {
  it('the reserve is the smaller of the bytes and the share given; none is no reserve', () => {
    expect(reserveBytesOf({ bytes: 256 * mebibyte, ratio: 0.05 }, 1000 * mebibyte * 1024)).toBe(256 * mebibyte);
    expect(reserveBytesOf({ bytes: 256 * mebibyte, ratio: 0.05 }, 100 * mebibyte)).toBe(5 * mebibyte);
    expect(reserveBytesOf({ ratio: 0.1 }, 1000)).toBe(100);
    expect(reserveBytesOf({ bytes: 0 }, 1000)).toBe(0);
    expect(reserveBytesOf({}, 1000)).toBe(0);
  });

  it('the resume mark lies a quarter of the reserve above it, and at least resumeBytesMin', () => {
    expect(resumeBytesOf(0)).toBe(journalDisk.resumeBytesMin);
    expect(resumeBytesOf(mebibyte)).toBe(mebibyte + journalDisk.resumeBytesMin);
    expect(resumeBytesOf(256 * mebibyte)).toBe(320 * mebibyte);
  });

  it('low below the reserve, ok again only at the resume mark; full stays full until then', () => {
    const reserve = 100;
    const resume = 150;
    const walk = (start: JournalSpaceLevel, frees: number[]): JournalSpaceLevel[] => {
      const seen: JournalSpaceLevel[] = [];
      let level = start;
      for (const free of frees) seen.push((level = nextSpaceLevel(level, free, reserve, resume)));
      return seen;
    };
    expect(walk('ok', [200, 100, 99, 100, 149, 120, 150, 120, 99])).toEqual(['ok', 'ok', 'low', 'low', 'low', 'low', 'ok', 'ok', 'low']);
    expect(walk('full', [0, 120, 149, 150])).toEqual(['full', 'full', 'full', 'ok']);
    // No reserve: never low, but a full disk still waits for the resume mark.
    expect(nextSpaceLevel('ok', 0, 0, resumeBytesOf(0))).toBe('ok');
    expect(nextSpaceLevel('full', mebibyte - 1, 0, resumeBytesOf(0))).toBe('full');
  });

  it('refuses what adds journal rows, lets cursor acks, attaches and detaches through', () => {
    const sub = '00000000-0000-4000-8000-000000000000';
    const refused: ShardInbound[] = [
      { t: 'security', ev: { atMs: 1, code: 'BUSY', subscriptionId: sub, role: 'master', remoteAddress: '127.0.0.1', sequence: null, detail: 'x' } },
      { t: 'event', sub, ev: { kind: 'masterSnapshot', connId: 1, snapshot: { subscriptionId: sub, sequence: 1, generatedAtMs: 1, positions: [] } } },
    ] as ShardInbound[];
    const taken: ShardInbound[] = [
      { t: 'event', sub, ev: { kind: 'deliveryAck', connId: 2, receiverId: 'r', sequence: 3 } },
      { t: 'event', sub, ev: { kind: 'masterAttach', connId: 1 } },
      { t: 'event', sub, ev: { kind: 'receiverDetach', connId: 2 } },
      { t: 'stop' },
    ] as ShardInbound[];
    expect(refused.map(growsJournal)).toEqual([true, true]);
    expect(taken.map(growsJournal)).toEqual([false, false, false, false]);
  });
});

describe('--journal-disk-reserve', () => {
  const parse = serveSchema['journal-disk-reserve'].parse;

  it('takes a size, a percentage, both, or 0', () => {
    expect(parse(serveSchema['journal-disk-reserve'].default)).toEqual({ bytes: journalDisk.reserveBytesDefault, ratio: journalDisk.reserveRatioDefault });
    expect(parse('1GiB')).toEqual({ bytes: 1024 * mebibyte });
    expect(parse('2.5%')).toEqual({ ratio: 0.025 });
    expect(parse('10%, 512MiB')).toEqual({ ratio: 0.1, bytes: 512 * mebibyte });
    expect(parse('0')).toEqual({ bytes: 0 });
  });

  it('refuses anything else, naming the forms it takes', () => {
    for (const bad of ['', 'lots', '100%', '-1MiB', '5%,6%', '1GiB,2GiB', '1GiB,5%,0', '5 %']) {
      expect(() => parse(bad), bad).toThrow(/must be a size \(256MiB\), a percentage of the filesystem \(5%\), both/);
    }
  });
});

describe('JournalSpaceWatch on a real filesystem', () => {
  it('reads statfs: low below the reserve, ok once freed past the resume mark, full when told until then', () => {
    const disk = mountTmpfs(4 * mebibyte, 'sigplane-space-');
    mounts.push(disk);
    const changes: string[] = [];
    let nowMs = 1_000_000;
    const watch = new JournalSpaceWatch({
      dir: disk.dir,
      reserve: { bytes: mebibyte },
      onChange: (s, previous) => void changes.push(`${previous}->${s.level}`),
      nowMs: () => nowMs,
    });
    expect(watch.checkNow()).toMatchObject({ level: 'ok', reserveBytes: mebibyte, resumeBytes: 2 * mebibyte, totalBytes: 4 * mebibyte, error: null });
    expect(watch.refusing).toBe(false);

    disk.fill(mebibyte / 2);
    const low = watch.checkNow();
    expect(low.level).toBe('low');
    expect(low.freeBytes).toBeLessThan(mebibyte);
    expect(watch.refusing).toBe(true);

    disk.free();
    expect(watch.checkNow().level).toBe('ok');
    watch.reportFull();
    expect(watch.status.level).toBe('full');
    disk.fill(mebibyte + mebibyte / 2); // above the reserve, below the resume mark: still full
    nowMs += journalDisk.fullHoldMsMin;
    expect(watch.checkNow().level).toBe('full');
    disk.free();
    expect(watch.checkNow().level).toBe('ok');

    // Full again soon after: held twice as long, room or not; much later: the shortest hold again.
    watch.reportFull();
    nowMs += journalDisk.fullHoldMsMin;
    expect(watch.checkNow().level).toBe('full');
    nowMs += journalDisk.fullHoldMsMin;
    expect(watch.checkNow().level).toBe('ok');
    nowMs += journalDisk.fullHoldMsMax;
    watch.reportFull();
    expect(watch.checkNow().level).toBe('full');
    nowMs += journalDisk.fullHoldMsMin;
    expect(watch.checkNow().level).toBe('ok');
    expect(changes).toEqual(['ok->low', 'low->ok', 'ok->full', 'full->ok', 'ok->full', 'full->ok', 'ok->full', 'full->ok']);
  });
});
