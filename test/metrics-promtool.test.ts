/**
 * /metrics of a live server, after real traffic (accepted, duplicate,
 * rejected, delivered, rate-limited), is accepted by `promtool check
 * metrics` (Debian package prometheus; scripts/ci-system-packages.sh installs
 * it) and carries every series the operations issue lists, with the counts
 * the traffic implies.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetricsText } from '../io/metrics';
import { openMaster, openReceiver, send, waitForDeliveries } from './support/e2e';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import type { WireClient } from './support/wire-client';

let t: TestServer;
let s: TestSubscription;
let master: WireClient;
let receiver: WireClient;

function promtoolPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('promtool is missing: run scripts/ci-system-packages.sh (Debian package prometheus)');
  }
}

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${t.server.port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** `name{labels}` -> value, for every sample line. */
const samples = parseMetricsText;

function typeOf(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
}

beforeAll(async () => {
  promtoolPath(); // fail loudly before starting anything
  t = await startTestServer({ shardCount: 2 });
  // A burst of 5 per connection: the flood below meets the per-connection limit.
  s = await t.subscription({ settings: { rateLimitPerSecond: 1, rateLimitBurst: 5 } });
  receiver = await openReceiver(t, s.receiverToken, null);
  master = await openMaster(t, s);
});

afterAll(async () => {
  await master?.close();
  await receiver?.close();
  await t?.close();
});

describe('/metrics after real traffic', () => {
  it('counts accepted, duplicate, rejected by code and rate-limited signals, and deliveries', async () => {
    const first = v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1));
    expect(await send(master, first)).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 1 });
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2)))).toEqual({ kind: 'ack', status: 'ACCEPTED', sequence: 2 });
    expect(await send(master, first)).toEqual({ kind: 'ack', status: 'DUPLICATE', sequence: 1 });
    const forged = v1Frame('not the key', v1Fields(s.subscriptionId, 3));
    expect(await send(master, forged)).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    await waitForDeliveries(receiver, 2);
    // 4 frames spent of a burst of 5: the sixth frame is over the connection's limit.
    await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 3)));
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 4)))).toMatchObject({ kind: 'reject', code: 'RATE_LIMITED' });

    const text = await scrape();
    const m = samples(text);
    expect(m.get('sigplane_signals_accepted_total')).toBe(3);
    expect(m.get('sigplane_signals_duplicate_total')).toBe(1);
    expect(m.get('sigplane_rejects_total{code="SIGNATURE_INVALID"}')).toBe(1);
    expect(m.get('sigplane_rejects_total{code="RATE_LIMITED"}')).toBe(1);
    expect(m.get('sigplane_rate_limit_hits_total{limit="connection"}')).toBe(1);
    expect(m.get('sigplane_deliveries_total')).toBeGreaterThanOrEqual(2);
    expect(m.get('sigplane_ingest_to_ack_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(m.get('sigplane_ingest_to_delivery_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(m.get('sigplane_connections{role="master"}')).toBe(1);
    expect(m.get('sigplane_connections{role="receiver"}')).toBe(1);
  });

  it('has every series the issue lists, counters typed counter and named *_total', async () => {
    // Worker counters arrive once a second: wait for the shards' first report.
    const deadline = Date.now() + 10_000;
    let text = await scrape();
    while (!/^sigplane_journal_rows_total [1-9]/m.test(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      text = await scrape();
    }
    const expected: Record<string, string> = {
      sigplane_signals_accepted_total: 'counter',
      sigplane_signals_duplicate_total: 'counter',
      sigplane_rejects_total: 'counter',
      sigplane_ingest_to_ack_seconds: 'histogram',
      sigplane_ingest_to_delivery_seconds: 'histogram',
      sigplane_ring_depth_bytes: 'gauge',
      sigplane_journal_rows_total: 'counter',
      sigplane_journal_commits_total: 'counter',
      sigplane_connections: 'gauge',
      sigplane_subscriptions: 'gauge',
      sigplane_rate_limit_hits_total: 'counter',
      sigplane_backpressure_drops_total: 'counter',
      sigplane_busy_rejects_total: 'counter',
      sigplane_shard_restarts_total: 'counter',
    };
    for (const [name, type] of Object.entries(expected)) expect(typeOf(text, name), name).toBe(type);
    for (const match of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      expect(match[2] === 'counter', `${match[1]} is a ${match[2]}`).toBe(match[1]!.endsWith('_total'));
    }
    expect(samples(text).get('sigplane_journal_rows_total')).toBeGreaterThan(0);
    // Four ring depths: inbound and outbound of each of the two shards.
    expect([...samples(text).keys()].filter((k) => k.startsWith('sigplane_ring_depth_bytes{'))).toHaveLength(4);
  });

  it('is accepted by promtool check metrics', async () => {
    const text = await scrape();
    const result = spawnSync(promtoolPath(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('promtool does find problems (the check can fail)', () => {
    const bad = '# HELP sigplane_bad A counter without _total.\n# TYPE sigplane_bad counter\nsigplane_bad 1\n';
    const result = spawnSync(promtoolPath(), ['check', 'metrics'], { input: bad, encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/_total/);
  });
});

describe('worker counters across a shard restart', () => {
  it('keep what the dead worker had reported: sigplane_journal_rows_total never goes down', async () => {
    // Shard 0 throws at its 8th inbound record (the master's attach is the first), once.
    const r = await startTestServer({ shardCount: 1, crashShardAfterRecords: { shardIndex: 0, records: 8 } });
    try {
      const sub = await r.subscription();
      const rows = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${r.server.port}/metrics`)).text();
        return samples(text).get('sigplane_journal_rows_total') ?? 0;
      };
      const seen: number[] = [];
      const untilRows = async (atLeast: number): Promise<number> => {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const value = await rows();
          seen.push(value);
          if (value >= atLeast) return value;
          if (Date.now() > deadline) throw new Error(`sigplane_journal_rows_total stayed below ${atLeast}: ${JSON.stringify(seen)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const first = await openMaster(r, sub);
      for (let seq = 1; seq <= 5; seq++) expect(await send(first, v1Frame(sub.macSecretHex, v1Fields(sub.subscriptionId, seq)))).toMatchObject({ kind: 'ack' });
      const beforeCrash = await untilRows(5); // reported by the first worker
      for (let seq = 6; seq <= 9; seq++) first.send(v1Frame(sub.macSecretHex, v1Fields(sub.subscriptionId, seq)));
      expect(await first.waitForClose()).toBe(1012);
      expect(r.server.shardRestarts).toBe(1);

      const second = await openMaster(r, sub);
      const welcome = second.ofKind('welcome')[0]!;
      let next = Number(welcome.welcome.lastSequence) + 1;
      for (let i = 0; i < 2; i++, next++) expect(await send(second, v1Frame(sub.macSecretHex, v1Fields(sub.subscriptionId, next)))).toMatchObject({ kind: 'ack' });
      // The new worker journaled 2 more signals: the total is the old one plus those, not the new worker's alone.
      await untilRows(beforeCrash + 2);
      for (let i = 1; i < seen.length; i++) expect(seen[i], JSON.stringify(seen)).toBeGreaterThanOrEqual(seen[i - 1]!);
      await second.close();
    } finally {
      await r.close();
    }
  });
});
