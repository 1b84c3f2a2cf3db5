/**
 * Frames answered BUSY (the engine could not take them: a full ring, or a
 * journal disk short of space; io/shard-supervision.ts answers what a shard
 * stopped for lack of space never took) as security events, on the I/O
 * thread. Each frame is answered BUSY; the events are summed per
 * connection: one per wire.busyEventIntervalMs, "N frame(s)
 * refused BUSY from sequence X", whose detail starts with the count as the
 * RATE_LIMITED summaries' does (docs/security.md counts refusals, not rows).
 * Recording each refusal (a log line and a journal record) would cost the
 * most exactly when the server has least to spare.
 *
 * What is left unrecorded goes out with the next refusal after the
 * interval, with the connection's next frame after it, or when the
 * connection closes.
 */
import { RejectCode, wire, type SecurityEvent } from '@sigplane/protocol';
import type { Socket } from './connections';

export class BusyRefusalEvents {
  constructor(private readonly record: (event: SecurityEvent) => void) {}

  /** A frame of this connection was answered BUSY (`sequence` 0: it named none). */
  refused(ws: Socket, sequence: number, nowMs: number): void {
    const data = ws.getUserData().connection;
    data.busyUnreported++;
    if (data.busyUnreportedFromSequence === 0) data.busyUnreportedFromSequence = sequence;
    if (nowMs - data.busyReportedAtMs >= wire.busyEventIntervalMs) this.report(ws, nowMs);
  }

  /** Any frame of the connection: a count left over once the interval has passed is recorded. */
  due(ws: Socket, nowMs: number): void {
    const data = ws.getUserData().connection;
    if (data.busyUnreported > 0 && nowMs - data.busyReportedAtMs >= wire.busyEventIntervalMs) this.report(ws, nowMs);
  }

  /** The connection closes: what it left unrecorded is recorded. */
  closing(ws: Socket, nowMs: number): void {
    if (ws.getUserData().connection.busyUnreported > 0) this.report(ws, nowMs);
  }

  private report(ws: Socket, nowMs: number): void {
    const data = ws.getUserData().connection;
    const from = data.busyUnreportedFromSequence;
    this.record({
      atMs: nowMs,
      code: RejectCode.BUSY,
      subscriptionId: data.subscriptionId,
      role: data.role,
      remoteAddress: data.remoteAddress,
      sequence: from === 0 ? null : from,
      detail: `${data.busyUnreported} frame(s) refused BUSY${from === 0 ? '' : ` from sequence ${from}`} (engine busy: a full ring or a journal disk short of space)`,
    });
    data.busyReportedAtMs = nowMs;
    data.busyUnreported = 0;
    data.busyUnreportedFromSequence = 0;
  }
}
