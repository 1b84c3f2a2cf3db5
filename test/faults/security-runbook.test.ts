/**
 * The operators' queries on security_events (docs/security.md §4 and
 * docs/operations.md, each a ```sql block starting `-- runbook: <name>`)
 * are run exactly as written against the Postgres of a real server process
 * after real refusals: at the upgrade (an unknown token, an address not
 * allowed, a credential in the URL, a plain GET), and by the subscription
 * actor (a REPLAY storm, a PRICE_DEVIATION). Each
 * query must find them, by the code the client got, counting refusals (not
 * rows). A runbook query added to the docs without an expectation here
 * fails the test.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../persistence/pg/tokens';
import { rejectCodeName } from '@sigplane/protocol';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { openWelcomed, send } from '../support/e2e';
import { killHard, newKek, startServerProcess, stopGracefully, storeFor, until, type ServerProcess } from '../support/fault-server-process';
import { v1Fields, v1Frame } from '../support/signals';
import { WireClient } from '../support/wire-client';

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess;
const kek = newKek();

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-security-runbook-'));
  server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: kek, shards: 1 });
});
afterAll(async () => {
  if (server) await stopGracefully(server).catch(() => killHard(server));
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const address = {
  master: '127.30.0.1',
  unknownToken: '127.30.1.1',
  credentialInUrl: '127.30.1.2',
  plainGet: '127.30.1.3',
  notAllowed: '127.31.0.1',
};
/**
 * More than the shard records one by one in its burst
 * (securityEvents.shardRefusalsBurst, 200): the storm is usually partly
 * summarized, and the queries must count it right either way.
 */
const replays = 250;

/** The runbook queries of a document: name -> SQL, from its ```sql blocks that read security_events. */
function runbookQueries(doc: string): Map<string, string> {
  const text = fs.readFileSync(path.join(__dirname, '../../docs', doc), 'utf8');
  const queries = new Map<string, string>();
  for (const [, sql] of text.matchAll(/```sql\n([\s\S]*?)```/g)) {
    if (!sql!.includes('security_events')) continue;
    const name = /^-- runbook: (.+)$/m.exec(sql!)?.[1];
    expect(name, `a security_events query in docs/${doc} without a "-- runbook:" name`).toBeDefined();
    queries.set(name!, sql!);
  }
  return queries;
}

async function refusedUpgrade(url: string, token: string | null, localAddress: string): Promise<string> {
  const result = await WireClient.connect(url, token, { localAddress });
  if (result instanceof WireClient) {
    await result.close();
    return 'UPGRADED';
  }
  return (JSON.parse(result.body) as { code: string }).code;
}

function plainGet(pathName: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: pathName, localAddress }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
  });
}

type Row = Record<string, unknown>;
const numeric = (rows: Row[], column: string): Row[] => rows.map((r) => ({ ...r, [column]: Number(r[column]) }));

describe('the security_events runbook', () => {
  let subscriptionId: string;

  beforeAll(async () => {
    const store = storeFor(database.pool, dataDir, kek);
    const created = await store.createSubscription({ name: 'runbook' });
    subscriptionId = created.subscriptionId;
    await store.addAllowedIp(subscriptionId, '127.30.0.0/16', {});
    const receiver = (await store.issueReceiverToken(subscriptionId, {})).token;

    expect(await refusedUpgrade(server.receiverUrl, generateToken('receiver').token, address.unknownToken)).toBe('UNKNOWN_TOKEN');
    expect(await refusedUpgrade(server.receiverUrl, receiver, address.notAllowed)).toBe('IP_NOT_ALLOWED');
    expect(await refusedUpgrade(`${server.receiverUrl}?x=${receiver}`, receiver, address.credentialInUrl)).toBe('CREDENTIAL_IN_URL');
    expect(await plainGet('/v1/master', address.plainGet)).toBe('400 {"code":"NOT_A_WEBSOCKET_UPGRADE"}');

    const master = await openWelcomed(server.masterUrl, created.masterToken, { localAddress: address.master });
    try {
      expect(await send(master, v1Frame(created.macSecretHex, v1Fields(subscriptionId, 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
      const from = master.frames.length;
      const replay = v1Frame(created.macSecretHex, v1Fields(subscriptionId, 1, { volume: 0.2 }));
      for (let i = 0; i < replays; i++) master.send(replay);
      await master.waitFor(() => master.frames.slice(from).filter((f) => f.kind === 'reject').length === replays, 20_000, from);
      expect(master.frames.slice(from).filter((f) => f.kind === 'reject' && rejectCodeName(f.reject.code) === 'REPLAY')).toHaveLength(replays);
      expect(await send(master, v1Frame(created.macSecretHex, v1Fields(subscriptionId, 2, { price: 1.2 })))).toMatchObject({ kind: 'reject', code: 'PRICE_DEVIATION' });
    } finally {
      await master.close();
    }

    // Shipped: the shard's refusals, summaries included, and the upgrade refusals.
    await until(
      'the refusals to reach Postgres',
      async () => {
        const { rows } = await database.pool.query<{ code: string; n: string }>(
          "SELECT code, sum(coalesce(substring(detail FROM '^([0-9]+) more ')::bigint, 1))::text AS n FROM security_events GROUP BY code",
        );
        const n = new Map(rows.map((r) => [r.code, Number(r.n)]));
        return n.get('REPLAY') === replays && n.get('PRICE_DEVIATION') === 1 && ['UNKNOWN_TOKEN', 'IP_NOT_ALLOWED', 'CREDENTIAL_IN_URL', 'NOT_A_WEBSOCKET_UPGRADE'].every((c) => n.get(c) === 1);
      },
      30_000,
    );
  });

  /** What each runbook query must return (rows it must contain), by name. */
  const expectations: Record<string, (rows: Row[]) => void> = {
    'refusals by code and source address, last hour': (rows) => {
      expect(numeric(rows, 'refusals')).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: 'REPLAY', remote_address: address.master, refusals: replays }),
          expect.objectContaining({ code: 'PRICE_DEVIATION', remote_address: address.master, refusals: 1 }),
          expect.objectContaining({ code: 'UNKNOWN_TOKEN', remote_address: address.unknownToken, refusals: 1 }),
          expect.objectContaining({ code: 'IP_NOT_ALLOWED', remote_address: address.notAllowed, refusals: 1 }),
          expect.objectContaining({ code: 'CREDENTIAL_IN_URL', remote_address: address.credentialInUrl, refusals: 1 }),
          expect.objectContaining({ code: 'NOT_A_WEBSOCKET_UPGRADE', remote_address: address.plainGet, refusals: 1 }),
        ]),
      );
    },
    'toxic flow by subscription, last day (replays, price manipulation, forged or impossible signals)': (rows) => {
      expect(numeric(rows, 'refusals')).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ subscription_id: subscriptionId, code: 'REPLAY', refusals: replays }),
          expect.objectContaining({ subscription_id: subscriptionId, code: 'PRICE_DEVIATION', refusals: 1 }),
        ]),
      );
    },
    'source addresses trying credentials, last hour': (rows) => {
      expect(numeric(rows, 'refusals')).toEqual(
        expect.arrayContaining([
          { remote_address: address.unknownToken, refusals: 1, codes: ['UNKNOWN_TOKEN'] },
          { remote_address: address.notAllowed, refusals: 1, codes: ['IP_NOT_ALLOWED'] },
        ]),
      );
    },
    'credentials sent in a URL, last 7 days (each is to be treated as leaked: rotate or revoke it)': (rows) => {
      expect(rows).toEqual([expect.objectContaining({ role: 'receiver', remote_address: address.credentialInUrl })]);
    },
    'everything refused from one source address, newest first': (rows) => {
      expect(new Set(rows.map((r) => r.code))).toEqual(new Set(['REPLAY', 'PRICE_DEVIATION']));
      expect(rows).toContainEqual(expect.objectContaining({ code: 'PRICE_DEVIATION', role: 'master', subscription_id: subscriptionId, sequence: '2' }));
      const times = rows.map((r) => (r.event_time as Date).getTime());
      expect(times).toEqual([...times].sort((a, b) => b - a));
    },
  };

  for (const doc of ['security.md', 'operations.md']) {
    it(`every security_events query in docs/${doc} finds the refusals, by the code the client got`, async () => {
      const queries = runbookQueries(doc);
      expect(queries.size).toBeGreaterThan(0);
      for (const [name, sql] of queries) {
        const check = expectations[name];
        expect(check, `no expectation for the runbook query "${name}"`).toBeDefined();
        // The one query that takes an address is shown with a documentation address (RFC 5737).
        const { rows } = await database.pool.query<Row>(sql.replaceAll("'203.0.113.7'", `'${address.master}'`));
        try {
          check!(rows);
        } catch (error) {
          throw new Error(`runbook query "${name}": ${(error as Error).message}`);
        }
      }
    });
  }
});
