/**
 * The read-lag rule on its own (io/receiver-read-lag.ts): when a probe is
 * due, which pong answers it, and when a receiver counts as too far
 * behind, in time or in bytes. Sockets are plain objects, time is passed in.
 */
import { expect, it } from 'vitest';
import { ReadLagWatch, serverFrameBytes } from '../io/receiver-read-lag';

const limits = { probeIntervalMs: 1_000, readLagMsMax: 10_000, unreadBytesMax: 1_000_000 };

function answer(watch: ReadLagWatch<object>, socket: object, probe: Uint8Array | null, nowMs: number): number | null {
  expect(probe).not.toBeNull();
  return watch.onPong(socket, probe!, nowMs);
}

it('probes a receiver after it was sent something, one probe at a time, at most once per interval', () => {
  const watch = new ReadLagWatch<object>(limits);
  const r = {};
  expect(watch.probeDue(r, 0)).toBeNull(); // nothing sent: nothing to lag behind
  watch.sent(r, 100);
  const first = watch.probeDue(r, 0);
  expect(first).not.toBeNull();
  watch.sent(r, 100);
  expect(watch.probeDue(r, 5_000)).toBeNull(); // still outstanding
  expect(answer(watch, r, first, 300)).toBe(300);
  expect(watch.probeDue(r, 900)).toBeNull(); // answered, but the interval has not passed
  expect(watch.probeDue(r, 1_000)).not.toBeNull();
});

it('takes only the pong that answers the outstanding probe', () => {
  const watch = new ReadLagWatch<object>(limits);
  const r = {};
  watch.sent(r, 100);
  const probe = watch.probeDue(r, 0)!;
  expect(watch.onPong(r, new Uint8Array(0), 10)).toBeNull(); // uWS's own keep-alive ping has no payload
  const other = Uint8Array.from(probe);
  other[3] ^= 1;
  expect(watch.onPong(r, other, 10)).toBeNull();
  expect(watch.onPong(r, probe.subarray(0, 3), 10)).toBeNull();
  expect(watch.onPong({}, probe, 10)).toBeNull(); // another socket's
  expect(watch.onPong(r, probe, 20)).toBe(20);
  expect(watch.onPong(r, probe, 30)).toBeNull(); // answered already
});

it('confirms only what was sent before the answered probe', () => {
  const watch = new ReadLagWatch<object>(limits);
  const r = {};
  watch.sent(r, 400);
  const probe = watch.probeDue(r, 0);
  watch.sent(r, 250);
  expect(watch.unreadBytes(r)).toBe(650);
  answer(watch, r, probe, 50);
  expect(watch.unreadBytes(r)).toBe(250);
});

it('counts a receiver whose probe goes unanswered past readLagMsMax as behind (read_lag), however little it was sent', () => {
  const watch = new ReadLagWatch<object>(limits);
  const r = {};
  watch.sent(r, 10);
  watch.probeDue(r, 0);
  expect(watch.behind(r, 10_000)).toBeNull();
  expect(watch.behind(r, 10_001)).toBe('read_lag');
  expect(watch.allBehind(10_001)).toEqual([[r, 'read_lag']]);
});

it('counts a receiver past unreadBytesMax as behind (unread_bytes) once its probe has been out for an interval, not for a burst it reads at once', () => {
  const watch = new ReadLagWatch<object>(limits);
  const burst = {};
  watch.sent(burst, 1_500_000); // a catch-up, say
  const probe = watch.probeDue(burst, 0);
  expect(watch.behind(burst, 0)).toBeNull();
  answer(watch, burst, probe, 40);
  expect(watch.behind(burst, 2_000)).toBeNull();

  const slow = {};
  watch.sent(slow, 600_000);
  watch.probeDue(slow, 0);
  watch.sent(slow, 600_000);
  expect(watch.behind(slow, 999)).toBeNull();
  expect(watch.behind(slow, 1_000)).toBe('unread_bytes');
});

it('forgets a receiver on close', () => {
  const watch = new ReadLagWatch<object>(limits);
  const r = {};
  watch.sent(r, 10);
  watch.probeDue(r, 0);
  watch.forget(r);
  expect(watch.size).toBe(0);
  expect(watch.allBehind(60_000)).toEqual([]);
});

it('refuses limits that cannot work', () => {
  expect(() => new ReadLagWatch({ ...limits, probeIntervalMs: 0 })).toThrow(/probeIntervalMs/);
  expect(() => new ReadLagWatch({ ...limits, readLagMsMax: 1_000 })).toThrow(/readLagMsMax/);
  expect(() => new ReadLagWatch({ ...limits, unreadBytesMax: 0 })).toThrow(/unreadBytesMax/);
});

it('counts WebSocket headers as they go out from the server', () => {
  expect(serverFrameBytes(125)).toBe(127);
  expect(serverFrameBytes(126)).toBe(130);
  expect(serverFrameBytes(65_536)).toBe(65_546);
});
