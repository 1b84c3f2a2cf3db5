/**
 * Postgres really stopped and started again under load (the scenario of
 * bench/persistence/ship-outage.bench.ts, shortened): `sigplane serve` in
 * its own process on an embedded Postgres that this test stops and
 * restarts. While Postgres is down the server keeps accepting, acking and
 * delivering; once it is back the shipper drains the journal on its own,
 * and Postgres holds every acked signal exactly once. Nothing here asserts
 * a timing.
 */
import { describe, expect, it } from 'vitest';
import { measureOutage } from '../bench/persistence/ship-outage.bench';

describe('Postgres stopped and restarted under load', () => {
  it('acks and delivers throughout, then holds every acked signal exactly once', async () => {
    const lines: string[] = [];
    const plan = { ratePerSecond: 500, outageStartMs: 800, outageEndMs: 2_300, sendingEndMs: 3_000 };
    const o = await measureOutage(plan, (line) => lines.push(line));

    expect(o.signalsSent).toBe(1_500);
    expect(o.refused).toBe(0);
    expect(o.acked).toBe(o.signalsSent);
    expect(o.delivered).toBe(o.signalsSent);
    // The signal path did not wait for Postgres: signals sent during the outage were acked and delivered during it.
    expect(o.ackedDuringOutage).toBeGreaterThan(0);
    expect(o.deliveredDuringOutage).toBeGreaterThan(0);
    // Rows journaled while Postgres was down were not in it when it came back, and were shipped afterwards.
    expect(o.backlogAtRestart).toBeGreaterThan(0);
    expect(o.resumeSeconds).not.toBeNull();
    expect(o.drainSeconds).not.toBeNull();
    expect(o.rowsInPostgres).toBe(o.acked);
    expect(o.distinctSequences).toBe(o.acked);
    expect(o.lost).toBe(0);
    expect(o.duplicated).toBe(0);
    expect(lines.some((l) => l.includes('stopping Postgres'))).toBe(true);
    expect(lines.some((l) => l.includes('starting Postgres again'))).toBe(true);
  }, 180_000);
});
