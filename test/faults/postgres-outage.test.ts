/**
 * Issue 6, scenario 3: Postgres stopped under load, then started. The
 * server (a real child process) keeps accepting, journaling and delivering
 * while its system of record is down; when Postgres is back the shipper
 * drains the backlog, and Postgres then holds every acked signal exactly
 * once: nothing lost, nothing duplicated.
 *
 * Postgres here is a private cluster (test/support/fault-private-postgres.ts):
 * the machine's shared server is never stopped. The outage lasts
 * SIGPLANE_FAULT_PG_OUTAGE_MS (default 5 s in CI; 30 s with SIGPLANE_SOAK=1).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../persistence/pg/migrate';
import { createPool } from '../../persistence/pg/pool';
import { rejectCodeName, safeInteger } from '@sigplane/protocol';
import { deliveredSequences, openWelcomed, range, sleep } from '../support/e2e';
import {
  killHard,
  newKek,
  scrapeMetrics,
  soak,
  startServerProcess,
  stopGracefully,
  storeFor,
  until,
  type ServerProcess,
} from '../support/fault-server-process';
import { startPrivatePostgres, type PrivatePostgres } from '../support/fault-private-postgres';
import { subscribeFrame, v1Fields, v1Frame } from '../support/signals';
import { WireClient } from '../support/wire-client';
import type { Pool } from 'pg';

const outageMs = Number(process.env.SIGPLANE_FAULT_PG_OUTAGE_MS ?? (soak ? 30_000 : 5_000));
/** Signals per tick, one tick every 10 ms: about 1,000 a second, well under the rate limits. */
const signalsPerTick = 10;

let pg: PrivatePostgres;
let pool: Pool | null = null;
let server: ServerProcess | null = null;
let dataDir: string;
const kek = newKek();

beforeAll(async () => {
  if (!Number.isInteger(outageMs) || outageMs < 0) throw new Error(`SIGPLANE_FAULT_PG_OUTAGE_MS must be a whole number of ms, got ${outageMs}`);
  pg = await startPrivatePostgres();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-pg-outage-'));
});
afterAll(async () => {
  if (server !== null) await killHard(server);
  await pool?.end().catch(() => undefined);
  await pg?.destroy();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

function metricSum(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of metrics) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}

async function readyz(port: number): Promise<{ status: number; body: { journaling?: boolean; shipLagRows?: number } }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as { journaling?: boolean; shipLagRows?: number } };
}

it(`keeps serving through a ${outageMs / 1000} s Postgres outage, then ships every acked signal exactly once`, async () => {
  // The server migrates the private cluster on start; the test's own pool comes after.
  const setupPool = createPool(pg.url, { max: 2 });
  pool = setupPool;
  await migrate(setupPool);
  const store = storeFor(setupPool, dataDir, kek);
  const created = await store.createSubscription({ name: 'pg-outage' });
  await store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  await store.setSubscriptionSettings(created.subscriptionId, { rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 });
  const receiverTokens = [(await store.issueReceiverToken(created.subscriptionId, {})).token, (await store.issueReceiverToken(created.subscriptionId, {})).token];
  const lateToken = (await store.issueReceiverToken(created.subscriptionId, {})).token;

  server = await startServerProcess({ databaseUrl: pg.url, dataDir, kekBase64: kek, shards: 1 });
  const port = server.port;
  const master = await openWelcomed(server.masterUrl, created.masterToken);
  await master.waitFor((f) => f.kind === 'welcome');
  const receivers: WireClient[] = [];
  for (const token of receiverTokens) {
    const receiver = await openWelcomed(server.receiverUrl, token, {}, (r) => r.send(subscribeFrame(0)));
    receivers.push(receiver);
  }

  let next = 1;
  let sending = true;
  const load = (async () => {
    while (sending) {
      for (let i = 0; i < signalsPerTick; i++) master.send(v1Frame(created.macSecretHex, v1Fields(created.subscriptionId, next++)));
      await sleep(10);
    }
  })();
  const acked = (): number[] => master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber)!);

  // Load flowing and shipping before the outage.
  await until('signals to reach Postgres before the outage', async () => {
    const { rows } = await setupPool.query<{ n: number }>('SELECT count(*)::int AS n FROM signals');
    return rows[0]!.n > 200;
  });
  await setupPool.end();
  pool = null;

  // ---- Postgres down ----
  const ackedBeforeOutage = acked().length;
  await pg.stop();
  const outageStarted = Date.now();
  await until('the server to report journaling', async () => (await readyz(port)).body.journaling === true, 15_000, () => server!.stderr().slice(-2000));
  const down = await scrapeMetrics(port);
  expect(down.get('sigplane_shipper_postgres_up')).toBe(0);
  // A new connection cannot be authenticated without the store: refused, never upgraded.
  const refused = await WireClient.connect(server.receiverUrl, lateToken);
  expect(refused instanceof WireClient ? 'upgraded' : [refused.status, (JSON.parse(refused.body) as { code: string }).code]).toEqual([503, 'UNAVAILABLE']);
  const remaining = outageMs - (Date.now() - outageStarted);
  if (remaining > 0) await sleep(remaining);
  const ackedDuringOutage = acked().length - ackedBeforeOutage;
  const lagAtEnd = metricSum(await scrapeMetrics(port), 'sigplane_shipper_lag_rows');
  console.log(`[postgres-outage] ${Date.now() - outageStarted} ms without Postgres: ${ackedDuringOutage} signals acked meanwhile, ${lagAtEnd} journal rows waiting`);
  // The signal path never depended on Postgres: acks and deliveries kept flowing.
  expect(ackedDuringOutage).toBeGreaterThan(0);
  // The shipper reports its lag when it retries (with backoff), so the gauge may trail the journal: it only has to show a backlog.
  expect(lagAtEnd).toBeGreaterThan(0);

  // ---- Postgres back ----
  await pg.start();
  await sleep(500);
  sending = false;
  await load;
  const lastSent = next - 1;
  await until('every signal to be answered', () => master.ofKind('ack').length + master.ofKind('reject').length >= lastSent, 30_000);
  expect(master.ofKind('reject').map((f) => rejectCodeName(f.reject.code))).toEqual([]);
  expect(acked()).toEqual(range(1, lastSent));
  for (const receiver of receivers) {
    await until('receivers to get every signal', () => deliveredSequences(receiver).length >= lastSent, 30_000);
    expect(deliveredSequences(receiver)).toEqual(range(1, lastSent));
  }

  const drainStarted = Date.now();
  await until(
    'the shipper to drain the backlog',
    async () => {
      const m = await scrapeMetrics(port);
      return m.get('sigplane_shipper_postgres_up') === 1 && metricSum(m, 'sigplane_shipper_lag_rows') === 0;
    },
    60_000,
    () => server!.stderr().slice(-2000),
  );
  console.log(`[postgres-outage] backlog drained ${Date.now() - drainStarted} ms after the signals stopped`);
  expect((await readyz(port)).body.journaling).toBe(false);

  // Postgres holds every acked signal once: compare rows, not counts alone.
  const check = createPool(pg.url, { max: 1 });
  try {
    const { rows } = await check.query<{ seq: string }>('SELECT sequence::text AS seq FROM signals WHERE subscription_id = $1 ORDER BY sequence', [
      created.subscriptionId,
    ]);
    expect(rows.map((r) => Number(r.seq))).toEqual(range(1, lastSent));
    const { rows: dupes } = await check.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT sequence FROM signals GROUP BY subscription_id, sequence HAVING count(*) > 1) d',
    );
    expect(dupes[0]!.n).toBe(0);
  } finally {
    await check.end();
  }
  await Promise.all([master, ...receivers].map((c) => c.close()));
  await stopGracefully(server);
  server = null;
}, soak ? 180_000 : 90_000);
