/**
 * Free space for the shard journals: the filesystem of the data folder,
 * read with statfs every journalDisk.checkIntervalMs on the I/O thread.
 *
 *   ok    records are taken.
 *   low   free space fell below the reserve. Records that would grow a
 *         journal (signals, master snapshots, execution reports, security
 *         events) are refused at the I/O thread, BUSY, before a journal
 *         write can fail for lack of space. Receivers' cursor acks still go:
 *         one small row each, rewritten in place.
 *   full  a shard's journal write failed for lack of space (or the shard
 *         died while the disk was short). The shard has stopped
 *         (engine/shard-host.ts) and waits; records are refused as in `low`.
 *
 * From `low` or `full` back to `ok` only once free space reaches the resume
 * mark (the reserve plus journalDisk.resumeRatio of it, at least
 * journalDisk.resumeBytesMin more): a disk hovering at the reserve does not
 * flap, and a stopped shard starts again only with room to work. `full`
 * also holds for a while (journalDisk.fullHoldMsMin, doubling up to
 * fullHoldMsMax while it keeps coming back): a restart costs a replay of the
 * journal, so a shard that finds no room again is not restarted in a loop.
 *
 * Why a reserve rather than waiting for the write to fail: the journal is
 * not the only writer of the data folder (an embedded Postgres, the
 * shipper's checkpoints, the WAL, which a checkpoint needs room to move
 * into the main file), and a failed write costs the shard's connections a
 * resync. Free space is what an unprivileged writer may use (statfs
 * bavail), so root's reserved blocks never count as room.
 */
import fs from 'node:fs';
import { journalDisk } from '@sigplane/protocol';
import type { ShardInbound } from './shard-protocol';

export type JournalSpaceLevel = 'ok' | 'low' | 'full';

/** The reserve as configured: the smaller of those given applies; none given (or 0 bytes) is no reserve. */
export interface JournalDiskReserve {
  bytes?: number;
  /** Share of the filesystem's size, 0..1. */
  ratio?: number;
}

export const journalDiskReserveDefault: JournalDiskReserve = {
  bytes: journalDisk.reserveBytesDefault,
  ratio: journalDisk.reserveRatioDefault,
};

export interface JournalSpaceStatus {
  level: JournalSpaceLevel;
  /** Bytes free for the journals at the last reading (null before the first). */
  freeBytes: number | null;
  /** Size of the filesystem. */
  totalBytes: number | null;
  /** Below this, records that grow a journal are refused. */
  reserveBytes: number;
  /** At or above this, they are taken again. */
  resumeBytes: number;
  checkedAtMs: number | null;
  /** Why the last reading failed (the level stays as it was), or null. */
  error: string | null;
}

export function reserveBytesOf(reserve: JournalDiskReserve, totalBytes: number): number {
  let bytes = reserve.bytes ?? Number.POSITIVE_INFINITY;
  if (reserve.ratio !== undefined) bytes = Math.min(bytes, Math.floor(reserve.ratio * totalBytes));
  return Number.isFinite(bytes) ? bytes : 0;
}

export function resumeBytesOf(reserveBytes: number): number {
  return reserveBytes + Math.max(Math.ceil(reserveBytes * journalDisk.resumeRatio), journalDisk.resumeBytesMin);
}

/** The level after a reading of `freeBytes` (hysteresis: see the header). */
export function nextSpaceLevel(level: JournalSpaceLevel, freeBytes: number, reserveBytes: number, resumeBytes: number): JournalSpaceLevel {
  if (freeBytes >= resumeBytes) return 'ok';
  if (level === 'ok' && freeBytes < reserveBytes) return 'low';
  return level;
}

/** Records refused while the journal disk is not `ok`: those that add rows to a journal. */
export function growsJournal(message: ShardInbound): boolean {
  if (message.t === 'security' || message.t === 'report') return true;
  return message.t === 'event' && (message.ev.kind === 'signal' || message.ev.kind === 'masterSnapshot');
}

export interface JournalSpaceWatchOptions {
  dir: string;
  reserve: JournalDiskReserve;
  /** The level changed (logs, and the shard host restarts shards that waited for space). */
  onChange: (status: JournalSpaceStatus, previous: JournalSpaceLevel) => void;
  intervalMs?: number;
  /** The clock (default Date.now). */
  nowMs?: () => number;
}

export class JournalSpaceWatch {
  private current: JournalSpaceStatus;
  private timer: NodeJS.Timeout | null = null;
  private reading = false;
  /** `full` holds until then, whatever the free space. */
  private fullUntilMs = 0;
  private fullHoldMs = 0;
  private recoveredFromFullAtMs = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly options: JournalSpaceWatchOptions) {
    const { bytes, ratio } = options.reserve;
    if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes >= 0)) throw new RangeError(`journal disk reserve: bytes must be a whole number >= 0, got ${bytes}`);
    if (ratio !== undefined && !(ratio >= 0 && ratio < 1)) throw new RangeError(`journal disk reserve: ratio must be in [0, 1), got ${ratio}`);
    this.now = options.nowMs ?? Date.now;
    this.current = { level: 'ok', freeBytes: null, totalBytes: null, reserveBytes: 0, resumeBytes: resumeBytesOf(0), checkedAtMs: null, error: null };
  }

  get status(): JournalSpaceStatus {
    return { ...this.current };
  }

  /** Records that grow a journal are refused. */
  get refusing(): boolean {
    return this.current.level !== 'ok';
  }

  /** Reads once now (so the first signal is judged on a real reading), then every intervalMs. */
  start(): void {
    if (this.timer !== null) return;
    this.checkNow();
    this.timer = setInterval(() => this.checkLater(), this.options.intervalMs ?? journalDisk.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** A journal write failed for lack of space: `full` until free space reaches the resume mark, and for the hold. */
  reportFull(): void {
    const nowMs = this.now();
    if (this.current.level === 'full') {
      this.fullUntilMs = Math.max(this.fullUntilMs, nowMs + this.fullHoldMs); // another shard, same shortage
      return;
    }
    const again = nowMs - this.recoveredFromFullAtMs < journalDisk.fullHoldMsMax;
    this.fullHoldMs = again ? Math.min(this.fullHoldMs * 2, journalDisk.fullHoldMsMax) : journalDisk.fullHoldMsMin;
    this.fullUntilMs = nowMs + this.fullHoldMs;
    this.setLevel('full');
  }

  /** Reads now, synchronously: for a decision that cannot wait for the next reading. */
  checkNow(): JournalSpaceStatus {
    try {
      this.apply(fs.statfsSync(this.options.dir));
    } catch (error) {
      this.current.error = (error as Error).message;
    }
    return this.status;
  }

  private checkLater(): void {
    if (this.reading) return;
    this.reading = true;
    fs.promises.statfs(this.options.dir).then(
      (s) => {
        this.reading = false;
        this.apply(s);
      },
      (error: unknown) => {
        this.reading = false;
        this.current.error = (error as Error).message;
      },
    );
  }

  private apply(s: fs.StatsFs): void {
    const freeBytes = s.bavail * s.bsize;
    const totalBytes = s.blocks * s.bsize;
    const reserveBytes = reserveBytesOf(this.options.reserve, totalBytes);
    Object.assign(this.current, { freeBytes, totalBytes, reserveBytes, resumeBytes: resumeBytesOf(reserveBytes), checkedAtMs: this.now(), error: null });
    const level = nextSpaceLevel(this.current.level, freeBytes, reserveBytes, this.current.resumeBytes);
    if (this.current.level === 'full' && this.now() < this.fullUntilMs) return;
    if (this.current.level === 'full' && level !== 'full') this.recoveredFromFullAtMs = this.now();
    this.setLevel(level);
  }

  private setLevel(level: JournalSpaceLevel): void {
    const previous = this.current.level;
    if (level === previous) return;
    this.current.level = level;
    this.options.onChange(this.status, previous);
  }
}
