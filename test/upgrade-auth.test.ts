/**
 * Who gets in: every refusal happens before the 101 answer, with a stable
 * code, and is counted. Clients bind other 127.x addresses to test the IP
 * allowlist.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient, type UpgradeRefusal } from './support/wire-client';
import { until } from './support/fault-server-process';
import { journalPathOf } from '../persistence/journal';
import { generateToken } from '../persistence/pg/tokens';

let t: TestServer;
/** Every line the server logged, as JSON text. */
const logLines: string[] = [];
/** The security events the server logged. */
const loggedEvents: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  t = await startTestServer({
    shardCount: 1,
    log: (level, message, fields) => {
      logLines.push(JSON.stringify({ level, message, ...fields }));
      if (message === 'security event' && fields !== undefined) loggedEvents.push(fields);
    },
  });
});
afterAll(async () => {
  await t?.close();
});

async function refusal(url: string, token: string | null, options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<UpgradeRefusal> {
  const result = await WireClient.connect(url, token, options);
  if (result instanceof WireClient) {
    await result.close();
    throw new Error('upgrade was accepted');
  }
  return result;
}

function code(r: UpgradeRefusal): string {
  return (JSON.parse(r.body) as { code: string }).code;
}

describe('upgrade', () => {
  it('lets a valid receiver and master in from an allowed address', async () => {
    const s = await t.subscription();
    const receiver = await WireClient.open(t.receiverUrl, s.receiverToken);
    const master = await WireClient.open(t.masterUrl, s.masterToken);
    await master.waitFor((f) => f.kind === 'welcome');
    // uWS copies userData onto the socket property by property: one property, not ConnectionData's twenty (io/connections.ts SocketData).
    const sockets = t.server.connections.connectionsWhere((sub) => sub === s.subscriptionId);
    expect(sockets.map((ws) => Object.keys(ws.getUserData()))).toEqual([['connection'], ['connection']]);
    const [first, second] = sockets.map((ws) => ws.getUserData().connection);
    expect([first!.role, second!.role].sort()).toEqual(['master', 'receiver']);
    // Equal settings are one object for the subscription's connections, not a copy each (io/connections.ts shareSubscriptionValues).
    expect(first!.settings).toBe(second!.settings);
    expect(first!.macKeys.length + second!.macKeys.length).toBe(1);
    await Promise.all([receiver.close(), master.close()]);
  });

  it('refuses a missing, malformed, unknown, expired or revoked token with 401', async () => {
    const s = await t.subscription();
    expect(code(await refusal(t.receiverUrl, null))).toBe('MISSING_TOKEN');
    const missing = await refusal(t.receiverUrl, 'spr_nothex');
    expect([missing.status, code(missing)]).toEqual([401, 'MALFORMED_TOKEN']);
    // Right format, one character changed: the checksum catches it without a lookup.
    const typo = s.receiverToken.slice(0, 10) + (s.receiverToken[10] === 'a' ? 'b' : 'a') + s.receiverToken.slice(11);
    expect(code(await refusal(t.receiverUrl, typo))).toBe('MALFORMED_TOKEN');
    const unknown = generateToken('receiver').token;
    expect(code(await refusal(t.receiverUrl, unknown))).toBe('UNKNOWN_TOKEN');

    const expired = await t.receiverToken(s.subscriptionId);
    const { Client } = await import('pg');
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    await client.query("UPDATE license_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1", [expired.tokenId]);
    await client.end();
    const e = await refusal(t.receiverUrl, expired.token);
    expect([e.status, code(e)]).toEqual([401, 'EXPIRED']);

    const revoked = await t.receiverToken(s.subscriptionId);
    await t.store.revokeToken(revoked.tokenId);
    expect(code(await refusal(t.receiverUrl, revoked.token))).toBe('REVOKED');
    expect(t.server.metrics.upgradesRefused.get({ reason: 'REVOKED' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses a token of the wrong role with 403', async () => {
    const s = await t.subscription();
    const r = await refusal(t.receiverUrl, s.masterToken);
    expect([r.status, code(r)]).toEqual([403, 'WRONG_ROLE']);
    expect(code(await refusal(t.masterUrl, s.receiverToken))).toBe('WRONG_ROLE');
  });

  it('refuses a source address the allowlist does not hold; defaults deny', async () => {
    const s = await t.subscription(); // allows 127.0.0.1 only
    const r = await refusal(t.receiverUrl, s.receiverToken, { localAddress: '127.0.0.2' });
    expect([r.status, code(r)]).toEqual([403, 'IP_NOT_ALLOWED']);
    const none = await t.subscription({ allowIp: null });
    expect(code(await refusal(t.receiverUrl, none.receiverToken))).toBe('IP_NOT_ALLOWED');
    expect(code(await refusal(t.masterUrl, none.masterToken))).toBe('IP_NOT_ALLOWED');
    const network = await t.subscription({ allowIp: '127.0.0.0/24' });
    const ok = await WireClient.open(t.receiverUrl, network.receiverToken, { localAddress: '127.0.0.3' });
    await ok.close();
    const expiring = await t.subscription({ allowIp: null });
    await t.store.addAllowedIp(expiring.subscriptionId, '127.0.0.1', { expiresAt: new Date(Date.now() - 1000) });
    expect(code(await refusal(t.receiverUrl, expiring.receiverToken))).toBe('IP_NOT_ALLOWED');
  });

  it('never takes a credential from the URL', async () => {
    const s = await t.subscription();
    const r = await refusal(`${t.receiverUrl}?token=${s.receiverToken}`, s.receiverToken);
    expect([r.status, code(r)]).toEqual([400, 'CREDENTIAL_IN_URL']);
    expect(code(await refusal(`${t.receiverUrl}?access_token=${s.receiverToken}`, null))).toBe('CREDENTIAL_IN_URL');
    // Under any name, bare, or encoded: found all the same.
    expect(code(await refusal(`${t.receiverUrl}?x=${s.receiverToken}`, s.receiverToken))).toBe('CREDENTIAL_IN_URL');
    expect(code(await refusal(`${t.masterUrl}?${s.masterToken}`, s.masterToken))).toBe('CREDENTIAL_IN_URL');
    expect(code(await refusal(`${t.masterUrl}?%6Bey=${s.masterToken.replace('_', '%5F')}`, s.masterToken))).toBe('CREDENTIAL_IN_URL');
  });

  it('says which credential it found in the URL (its parameter, its kind), never the credential itself', async () => {
    const s = await t.subscription();
    const password = 'hunter2-7f3e';
    const cases: { query: string; found: string }[] = [
      { query: `token=${s.receiverToken}`, found: 'parameter "token", a receiver token' },
      { query: `lang=en&access_token=${s.receiverToken}`, found: 'parameter "token", a receiver token' },
      { query: `%6Bey=${s.masterToken.replace('_', '%5F')}`, found: 'parameter "key", a master token' },
      { query: `x=${s.masterToken}`, found: 'a master token' },
      { query: `${s.receiverToken}=1`, found: 'a receiver token' },
      { query: `password=${password}`, found: 'parameter "password"' },
      { query: 'mac=3f2a', found: 'parameter "mac"' },
      { query: 'x-hmac=3f2a', found: 'parameter "hmac"' },
    ];
    // One source address per case: each event is found by it.
    const addressOf = (i: number): string => `127.0.7.${i + 1}`;
    for (const [i, { query }] of cases.entries()) {
      const r = await refusal(`${t.receiverUrl}?${query}`, null, { localAddress: addressOf(i) });
      expect([r.status, code(r)], query).toEqual([400, 'CREDENTIAL_IN_URL']);
    }
    const eventOf = (i: number) => loggedEvents.find((e) => e.code === 'CREDENTIAL_IN_URL' && e.remoteAddress === addressOf(i));
    await until('a logged event per case', () => cases.every((_c, i) => eventOf(i) !== undefined), 10_000);
    for (const [i, { found }] of cases.entries()) {
      expect(eventOf(i)!.detail, cases[i]!.query).toBe(`a credential in the query string: ${found} (not kept): treat it as leaked`);
    }

    // Never the credential: not in the log, not in the events journaled (read from the journal's files themselves).
    const secrets = [s.receiverToken.split('_')[1]!, s.masterToken.split('_')[1]!, password];
    const journal = journalPathOf(t.dataDir, 0);
    const journalText = (): string =>
      ['', '-wal']
        .map((suffix) => `${journal}${suffix}`)
        .filter((file) => fs.existsSync(file))
        .map((file) => fs.readFileSync(file).toString('latin1'))
        .join('');
    await until('the events journaled', () => cases.every(({ found }) => journalText().includes(found)), 10_000);
    const logged = logLines.join('\n');
    for (const secret of secrets) {
      expect(logged.includes(secret), 'a credential in the log').toBe(false);
      expect(journalText().includes(secret), 'a credential in the journal').toBe(false);
    }
  });

  it('takes no query string at all on either path', async () => {
    const s = await t.subscription();
    const before = t.server.metrics.upgradesRefused.get({ reason: 'QUERY_NOT_ALLOWED' });
    const r = await refusal(`${t.receiverUrl}?lang=en`, s.receiverToken);
    expect([r.status, code(r)]).toEqual([400, 'QUERY_NOT_ALLOWED']);
    expect(code(await refusal(`${t.masterUrl}?v=2`, s.masterToken))).toBe('QUERY_NOT_ALLOWED');
    expect(t.server.metrics.upgradesRefused.get({ reason: 'QUERY_NOT_ALLOWED' })).toBe(before + 2);
  });

  it('answers a plain GET on either path 400 NOT_A_WEBSOCKET_UPGRADE, not 404', async () => {
    for (const path of ['/v1/master', '/v1/receiver']) {
      const response = await fetch(`http://127.0.0.1:${t.server.port}${path}`);
      expect([response.status, await response.json()]).toEqual([400, { code: 'NOT_A_WEBSOCKET_UPGRADE' }]);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('refuses an oversized Authorization header', async () => {
    const r = await refusal(t.receiverUrl, `spr_${'a'.repeat(1000)}`);
    expect([r.status, code(r)]).toEqual([431, 'AUTHORIZATION_TOO_LARGE']);
  });

  it('puts security headers on HTTP answers', async () => {
    const response = await fetch(`http://127.0.0.1:${t.server.port}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const metrics = await (await fetch(`http://127.0.0.1:${t.server.port}/metrics`)).text();
    expect(metrics).toContain('sigplane_upgrades_refused_total');
    const ready = await fetch(`http://127.0.0.1:${t.server.port}/readyz`);
    expect(ready.status).toBe(200);
  });
});
