/**
 * Issue 6, scenario 9: who gets in, against the real server process and its
 * own shipper. Clients bind other 127.x.y.z source addresses (a host entry,
 * a CIDR entry, an expired and a still-valid expiring entry); tokens that
 * are wrong, mistyped, expired, revoked, of the wrong role, and rotated out
 * by `rotate-credentials`; credentials and other queries in the URL; and
 * raw TCP requests that are oversized, malformed or not upgrades at all.
 * Every refusal is an HTTP status, never a 101, and every one the server
 * decides is audited: a security_events row in Postgres (shipped from the
 * journal) with the source address and the code the client got, and the
 * rotation an audit_log row. A credential refused in a URL is never kept:
 * not in the logs, not in Postgres, not in the journal.
 *
 * Each case uses its own source address: the per-address upgrade limit
 * (rateLimits.upgradesPerIp*) must not be what refuses it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigStore } from '../../persistence/pg/config-store';
import { generateToken } from '../../persistence/pg/tokens';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { killHard, newKek, scrapeMetrics, startServerProcess, stopGracefully, storeFor, until, type ServerProcess } from '../support/fault-server-process';
import { WireClient, type UpgradeRefusal } from '../support/wire-client';

let database: TestDatabase;
let dataDir: string;
let server: ServerProcess;
let store: ConfigStore;
const kek = newKek();

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-upgrade-attacks-'));
  store = storeFor(database.pool, dataDir, kek);
  server = await startServerProcess({ databaseUrl: database.url, dataDir, kekBase64: kek, shards: 1 });
});
afterAll(async () => {
  if (server) await stopGracefully(server).catch(() => killHard(server));
  await database?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** What the server decided (the code the client got), with the address it came from (for the audit check). */
const expectedEvents: { code: string; remoteAddress: string }[] = [];
/** Credentials sent in URLs: none may be kept anywhere. */
const credentialsInUrls: string[] = [];
let nextHost = 1;
/** A source address no other case used: 127.20.<n>.<m>. */
function freshAddress(): string {
  const n = nextHost++;
  return `127.20.${Math.floor(n / 250)}.${1 + (n % 250)}`;
}

async function attempt(url: string, token: string | null, localAddress: string): Promise<'UPGRADED' | UpgradeRefusal> {
  const result = await WireClient.connect(url, token, { localAddress });
  if (result instanceof WireClient) {
    await result.close();
    return 'UPGRADED';
  }
  return result;
}

async function expectRefused(url: string, token: string | null, localAddress: string, status: number, code: string): Promise<void> {
  const result = await attempt(url, token, localAddress);
  const seen = result === 'UPGRADED' ? result : [result.status, (JSON.parse(result.body) as { code: string }).code];
  expect(seen, `${code} from ${localAddress}`).toEqual([status, code]);
  expectedEvents.push({ code, remoteAddress: localAddress });
}

/** A raw request's refusal: its status line and code, recorded for the audit check. */
async function expectRawRefused(request: string, localAddress: string, statusLine: string, code: string, what: string): Promise<void> {
  const answer = await rawRequest(request, localAddress);
  const seen = answer.statusLine === null ? answer.outcome : `${answer.statusLine} ${answer.body}`;
  expect(seen, what).toBe(`${statusLine} ${JSON.stringify({ code })}`);
  expectedEvents.push({ code, remoteAddress: localAddress });
}

interface RawAnswer {
  statusLine: string | null;
  /** The status line and headers, up to and with the blank line. */
  head: string;
  body: string;
  outcome: string;
}

/** One raw HTTP request over TCP from `localAddress`: the status line and whether the socket was closed. */
function rawRequest(request: string | Buffer, localAddress: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(finish('no answer within 2 s'));
    }, 2_000);
    const finish = (silent = 'closed without an answer'): RawAnswer => {
      const statusLine = received === '' ? null : received.split('\r\n')[0]!;
      const bodyAt = received.indexOf('\r\n\r\n');
      const head = bodyAt < 0 ? received : received.slice(0, bodyAt + 4);
      return { statusLine, head, body: bodyAt < 0 ? '' : received.slice(bodyAt + 4), outcome: statusLine ?? silent };
    };
    let settled = false;
    socket.on('data', (d) => {
      received += d.toString('latin1');
      // The head is complete: give a body 50 ms to follow, then look.
      if (!settled && received.includes('\r\n\r\n')) {
        settled = true;
        setTimeout(() => {
          clearTimeout(timer);
          socket.destroy();
          resolve(finish());
        }, 50);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(finish());
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(finish());
    });
    socket.write(request);
  });
}

function upgradeRequest(pathName: string, headers: Record<string, string>): string {
  const lines = [`GET ${pathName} HTTP/1.1`, `Host: 127.0.0.1:${server.port}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const wsHeaders = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' };

describe('source addresses against the allowlist', () => {
  it('lets in a host entry, a CIDR entry and an unexpired entry; refuses others and an expired entry, masters and receivers alike', async () => {
    const created = await store.createSubscription({ name: 'allowlist' });
    const sub = created.subscriptionId;
    await store.addAllowedIp(sub, '127.21.0.1', {});
    await store.addAllowedIp(sub, '127.21.1.0/24', {});
    await store.addAllowedIp(sub, '127.21.2.1', { expiresAt: new Date(Date.now() - 1_000) });
    await store.addAllowedIp(sub, '127.21.3.1', { expiresAt: new Date(Date.now() + 3_600_000) });
    const receiver = (await store.issueReceiverToken(sub, {})).token;
    const master = created.masterToken;

    for (const address of ['127.21.0.1', '127.21.1.77', '127.21.1.254', '127.21.3.1']) {
      expect(await attempt(server.receiverUrl, receiver, address), address).toBe('UPGRADED');
    }
    expect(await attempt(server.masterUrl, master, '127.21.1.9')).toBe('UPGRADED');
    for (const address of ['127.21.0.2', '127.21.2.1', '127.21.4.1', '127.0.0.1']) {
      await expectRefused(server.receiverUrl, receiver, address, 403, 'IP_NOT_ALLOWED');
    }
    await expectRefused(server.masterUrl, master, '127.21.0.3', 403, 'IP_NOT_ALLOWED');
    await expectRefused(server.masterUrl, master, '127.21.2.1', 403, 'IP_NOT_ALLOWED');
  });
});

describe('credentials', () => {
  it('refuses wrong, mistyped, expired, revoked, wrong-role and rotated-out tokens before the upgrade', async () => {
    const created = await store.createSubscription({ name: 'tokens' });
    const sub = created.subscriptionId;
    await store.addAllowedIp(sub, '127.20.0.0/16', {});
    const good = await store.issueReceiverToken(sub, {});
    expect(await attempt(server.receiverUrl, good.token, freshAddress())).toBe('UPGRADED');

    await expectRefused(server.receiverUrl, generateToken('receiver').token, freshAddress(), 401, 'UNKNOWN_TOKEN');
    const typo = good.token.slice(0, 20) + (good.token[20] === 'a' ? 'b' : 'a') + good.token.slice(21);
    await expectRefused(server.receiverUrl, typo, freshAddress(), 401, 'MALFORMED_TOKEN');
    await expectRefused(server.receiverUrl, 'spr_not-a-token', freshAddress(), 401, 'MALFORMED_TOKEN');
    await expectRefused(server.receiverUrl, null, freshAddress(), 401, 'MISSING_TOKEN');

    const expired = await store.issueReceiverToken(sub, {});
    await database.pool.query("UPDATE license_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1", [expired.tokenId]);
    await expectRefused(server.receiverUrl, expired.token, freshAddress(), 401, 'EXPIRED');

    const revoked = await store.issueReceiverToken(sub, {});
    expect(await attempt(server.receiverUrl, revoked.token, freshAddress())).toBe('UPGRADED');
    await store.revokeToken(revoked.tokenId, { reason: 'fault suite' });
    await expectRefused(server.receiverUrl, revoked.token, freshAddress(), 401, 'REVOKED');

    await expectRefused(server.receiverUrl, created.masterToken, freshAddress(), 403, 'WRONG_ROLE');
    await expectRefused(server.masterUrl, good.token, freshAddress(), 403, 'WRONG_ROLE');

    // rotate-credentials: the old master token is out at once, the new one is in.
    expect(await attempt(server.masterUrl, created.masterToken, freshAddress())).toBe('UPGRADED');
    const rotated = await store.rotateCredentials(sub, { overlapMs: 0, reason: 'fault suite: rotated out' });
    await expectRefused(server.masterUrl, created.masterToken, freshAddress(), 401, 'REVOKED');
    expect(await attempt(server.masterUrl, rotated.masterToken, freshAddress())).toBe('UPGRADED');
    const audit = await database.pool.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE resource_id = $1 AND event_type = 'INCIDENT' ORDER BY event_time",
      [sub],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['ROTATE_CREDENTIALS']);
  });

  it('refuses a credential in the URL and an oversized Authorization header', async () => {
    const created = await store.createSubscription({ name: 'url' });
    await store.addAllowedIp(created.subscriptionId, '127.20.0.0/16', {});
    const token = (await store.issueReceiverToken(created.subscriptionId, {})).token;
    await expectRefused(`${server.receiverUrl}?token=${token}`, token, freshAddress(), 400, 'CREDENTIAL_IN_URL');
    credentialsInUrls.push(token);
    await expectRefused(server.receiverUrl, `spr_${'a'.repeat(2_000)}`, freshAddress(), 431, 'AUTHORIZATION_TOO_LARGE');
  });
});

describe('raw upgrade requests', () => {
  let token: string;
  beforeAll(async () => {
    const created = await store.createSubscription({ name: 'raw' });
    await store.addAllowedIp(created.subscriptionId, '127.20.0.0/16', {});
    token = (await store.issueReceiverToken(created.subscriptionId, {})).token;
  });

  it('answers a well-formed raw upgrade 101 (the harness itself works)', async () => {
    const answer = await rawRequest(upgradeRequest('/v1/receiver', { ...wsHeaders, Authorization: `Bearer ${token}` }), freshAddress());
    expect(answer.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('never upgrades an oversized or malformed request', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const padding: Record<string, string> = {};
    for (let i = 0; i < 64; i++) padding[`X-Pad-${i}`] = 'p'.repeat(1_000);
    const cases: { what: string; request: string }[] = [
      { what: '64 headers of 1 KiB', request: upgradeRequest('/v1/receiver', { ...wsHeaders, ...auth, ...padding }) },
      { what: 'a 1 MiB header line', request: upgradeRequest('/v1/receiver', { ...wsHeaders, ...auth, 'X-Long': 'x'.repeat(1024 * 1024) }) },
      { what: 'an 8 KiB path', request: upgradeRequest(`/v1/receiver/${'a'.repeat(8_192)}`, { ...wsHeaders, ...auth }) },
      { what: 'a garbage request line', request: 'HELLO THERE\r\n\r\n' },
      { what: 'a header line without a colon', request: `GET /v1/receiver HTTP/1.1\r\nHost: x\r\nUpgrade websocket\r\nAuthorization: Bearer ${token}\r\n\r\n` },
      { what: 'no Sec-WebSocket-Key', request: upgradeRequest('/v1/receiver', { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', ...auth }) },
      { what: 'a POST', request: upgradeRequest('/v1/receiver', { ...wsHeaders, ...auth }).replace(/^GET/, 'POST') },
      { what: 'a NUL byte in the Authorization header', request: upgradeRequest('/v1/receiver', { ...wsHeaders, Authorization: `Bearer ${token}\u0000x` }) },
      { what: 'two Authorization headers, the first bogus', request: upgradeRequest('/v1/receiver', { ...wsHeaders, Authorization: 'Bearer spr_bogus' }).replace('\r\n\r\n', `\r\nAuthorization: Bearer ${token}\r\n\r\n`) },
      { what: 'an unknown path', request: upgradeRequest('/v1/admin', { ...wsHeaders, ...auth }) },
    ];
    const answers: Record<string, string> = {};
    for (const c of cases) answers[c.what] = (await rawRequest(c.request, freshAddress())).outcome;
    console.log(`[upgrade-attacks] raw answers: ${JSON.stringify(answers, null, 1)}`);
    for (const c of cases) {
      const line = answers[c.what];
      // An HTTP refusal or a closed connection; never a 101.
      expect(!line.startsWith('HTTP/') || /^HTTP\/1\.1 [45]\d\d /.test(line), `${c.what}: ${line}`).toBe(true);
    }
  });
});

describe('raw upgrade requests that pass the token and address checks but are not proper upgrades', () => {
  // uWebSockets.js routes any GET on a WebSocket path to the upgrade handler;
  // handleUpgrade itself refuses what RFC 6455 4.2.1 does not allow and a
  // header block far larger than any EA sends (wire.upgradeHeaderBytesMax).
  let token: string;
  beforeAll(async () => {
    const created = await store.createSubscription({ name: 'raw-bugs' });
    await store.addAllowedIp(created.subscriptionId, '127.20.0.0/16', {});
    token = (await store.issueReceiverToken(created.subscriptionId, {})).token;
  });

  it('refuses an upgrade request with a 48 KiB header (a receiver needs about 300 bytes)', async () => {
    const answer = await rawRequest(upgradeRequest('/v1/receiver', { ...wsHeaders, Authorization: `Bearer ${token}`, 'X-Long': 'x'.repeat(48 * 1024) }), freshAddress());
    expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(JSON.parse(answer.body)).toEqual({ code: 'HEADERS_TOO_LARGE' });
  });

  it('refuses an upgrade request without "Upgrade: websocket" (RFC 6455 4.2.1)', async () => {
    const { Upgrade: _omitted, ...noUpgrade } = wsHeaders;
    const answer = await rawRequest(upgradeRequest('/v1/receiver', { ...noUpgrade, Authorization: `Bearer ${token}` }), freshAddress());
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(answer.body)).toEqual({ code: 'NOT_A_WEBSOCKET_UPGRADE' });
  });

  it('refuses a WebSocket version other than 13 with 426 and the version it speaks', async () => {
    const answer = await rawRequest(upgradeRequest('/v1/receiver', { ...wsHeaders, 'Sec-WebSocket-Version': '8', Authorization: `Bearer ${token}` }), freshAddress());
    expect(answer.statusLine).toBe('HTTP/1.1 426 Upgrade Required');
    expect(JSON.parse(answer.body)).toEqual({ code: 'UNSUPPORTED_WEBSOCKET_VERSION' });
  });
});

describe('the URL: neither endpoint takes a query, and a credential in one is refused as such', () => {
  let sub: string;
  beforeAll(async () => {
    sub = (await store.createSubscription({ name: 'url-query' })).subscriptionId;
    await store.addAllowedIp(sub, '127.20.0.0/16', {});
  });

  /** Every character as %XX. */
  const percentEncoded = (text: string): string => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');

  it('refuses a token-shaped value or a credential-named parameter anywhere in the query, however encoded, with a valid header', async () => {
    const receiver = (await store.issueReceiverToken(sub, {})).token;
    const master = (await store.rotateCredentials(sub, { overlapMs: 0, reason: 'fault suite: url' })).masterToken;
    credentialsInUrls.push(receiver, master);
    const body = receiver.split('_')[1]!;
    const queries: Record<string, string> = {
      'a parameter of any name': `x=${receiver}`,
      api_key: `api_key=${receiver}`,
      license: `license=${receiver}`,
      'a percent-encoded name': `%74oken=${receiver}`,
      'a bare token': receiver,
      'a fully percent-encoded value': `x=${percentEncoded(receiver)}`,
      'a doubly percent-encoded value': `x=${percentEncoded(receiver).replaceAll('%', '%25')}`,
      'an encoded underscore': `x=${receiver.replace('_', '%5F')}`,
      'a Bearer value with + for the space': `auth=Bearer+${receiver}`,
      'the token after another parameter': `lang=en&t=${receiver}`,
      'the token as a parameter name': `${receiver}=1`,
      'the secret without its prefix': `x=${body}`,
      'a credential name without a value': 'access_token',
      'a credential name with a short value': 'password=hunter2',
    };
    for (const [what, query] of Object.entries(queries)) {
      const headers = { ...wsHeaders, Authorization: `Bearer ${receiver}` };
      await expectRawRefused(upgradeRequest(`/v1/receiver?${query}`, headers), freshAddress(), 'HTTP/1.1 400 Bad Request', 'CREDENTIAL_IN_URL', what);
    }
    await expectRawRefused(
      upgradeRequest(`/v1/master?k=${master}`, { ...wsHeaders, Authorization: `Bearer ${master}` }),
      freshAddress(),
      'HTTP/1.1 400 Bad Request',
      'CREDENTIAL_IN_URL',
      'a master token on /v1/master',
    );
    // Found before anything else: a plain GET (no upgrade at all) with a token in its URL.
    await expectRawRefused(upgradeRequest(`/v1/master?${master}`, {}), freshAddress(), 'HTTP/1.1 400 Bad Request', 'CREDENTIAL_IN_URL', 'a plain GET');
  });

  it('refuses any other query with QUERY_NOT_ALLOWED, and takes an empty one', async () => {
    const receiver = (await store.issueReceiverToken(sub, {})).token;
    const master = (await store.rotateCredentials(sub, { overlapMs: 0, reason: 'fault suite: query' })).masterToken;
    for (const query of ['x=1', 'v=2&lang=en', 'debug', '%00', '=']) {
      await expectRawRefused(upgradeRequest(`/v1/receiver?${query}`, { ...wsHeaders, Authorization: `Bearer ${receiver}` }), freshAddress(), 'HTTP/1.1 400 Bad Request', 'QUERY_NOT_ALLOWED', query);
    }
    await expectRawRefused(upgradeRequest('/v1/master?x=1', { ...wsHeaders, Authorization: `Bearer ${master}` }), freshAddress(), 'HTTP/1.1 400 Bad Request', 'QUERY_NOT_ALLOWED', 'master');
    const empty = await rawRequest(upgradeRequest('/v1/receiver?', { ...wsHeaders, Authorization: `Bearer ${receiver}` }), freshAddress());
    expect(empty.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
  });
});

describe('requests on the WebSocket paths that are not WebSocket upgrades', () => {
  it('answers a plain GET, a POST and an upgrade without Sec-WebSocket-Key 400 NOT_A_WEBSOCKET_UPGRADE, on both paths', async () => {
    const { 'Sec-WebSocket-Key': _key, ...noKey } = wsHeaders;
    for (const path of ['/v1/master', '/v1/receiver']) {
      await expectRawRefused(upgradeRequest(path, {}), freshAddress(), 'HTTP/1.1 400 Bad Request', 'NOT_A_WEBSOCKET_UPGRADE', `plain GET ${path}`);
      await expectRawRefused(upgradeRequest(path, noKey), freshAddress(), 'HTTP/1.1 400 Bad Request', 'NOT_A_WEBSOCKET_UPGRADE', `no key ${path}`);
      await expectRawRefused(upgradeRequest(path, { ...wsHeaders, 'Sec-WebSocket-Key': 'short' }), freshAddress(), 'HTTP/1.1 400 Bad Request', 'NOT_A_WEBSOCKET_UPGRADE', `short key ${path}`);
      await expectRawRefused(
        upgradeRequest(path, { ...wsHeaders, 'Content-Length': '0' }).replace(/^GET/, 'POST'),
        freshAddress(),
        'HTTP/1.1 400 Bad Request',
        'NOT_A_WEBSOCKET_UPGRADE',
        `POST ${path}`,
      );
    }
    // Other paths stay 404, and are not security events.
    const other = await rawRequest(upgradeRequest('/v1/other', {}), freshAddress());
    expect(`${other.statusLine} ${other.body}`).toBe('HTTP/1.1 404 Not Found {"code":"NOT_FOUND"}');
  });

  it('answers 426 with the version it speaks to an upgrade of another or no WebSocket version', async () => {
    const { 'Sec-WebSocket-Version': _version, ...noVersion } = wsHeaders;
    for (const headers of [{ ...wsHeaders, 'Sec-WebSocket-Version': '8' }, noVersion]) {
      const address = freshAddress();
      const answer = await rawRequest(upgradeRequest('/v1/master', headers), address);
      expect(`${answer.statusLine} ${answer.body}`).toBe('HTTP/1.1 426 Upgrade Required {"code":"UNSUPPORTED_WEBSOCKET_VERSION"}');
      expect(answer.head.toLowerCase()).toContain('\r\nsec-websocket-version: 13\r\n');
      expectedEvents.push({ code: 'UNSUPPORTED_WEBSOCKET_VERSION', remoteAddress: address });
    }
  });
});

describe('audit', () => {
  it('records every refusal the server decided as a security event in Postgres, under the code the client got, with its source address, and counts it', async () => {
    expect(expectedEvents.length).toBeGreaterThan(40);
    type Row = { code: string; remote_address: string };
    let rows: Row[] = [];
    const key = (e: { code: string; remoteAddress: string }): string => `${e.code} ${e.remoteAddress}`;
    const missing = (): string[] => {
      const shipped = new Set(rows.map((r) => key({ code: r.code, remoteAddress: r.remote_address })));
      return expectedEvents.map(key).filter((k) => !shipped.has(k));
    };
    await until(
      'the refusals to be shipped to Postgres',
      async () => {
        rows = (await database.pool.query<Row>("SELECT code, remote_address FROM security_events WHERE remote_address LIKE '127.%'")).rows;
        return missing().length === 0;
      },
      30_000,
      () => `missing: ${missing().join(', ')}`,
    );
    const metrics = await scrapeMetrics(server.port);
    const byReason = new Map<string, number>();
    for (const e of expectedEvents) byReason.set(e.code, (byReason.get(e.code) ?? 0) + 1);
    for (const [reason, n] of byReason) expect(metrics.get(`sigplane_upgrades_refused_total{reason="${reason}"}`), reason).toBeGreaterThanOrEqual(n);
  });

  it('keeps no credential it refused in a URL: not in the logs, not in Postgres, not in the journal', async () => {
    expect(credentialsInUrls.length).toBeGreaterThanOrEqual(3);
    const secrets = credentialsInUrls.map((token) => token.split('_')[1]!);
    const logs = server.stderr();
    expect(logs).toContain('CREDENTIAL_IN_URL');
    const dumped = (await database.pool.query<{ row: string }>('SELECT security_events::text AS row FROM security_events')).rows.map((r) => r.row).join('\n');
    expect(dumped).toContain('CREDENTIAL_IN_URL');
    const journals = fs
      .readdirSync(dataDir)
      .filter((name) => name.startsWith('journal-'))
      .map((name) => fs.readFileSync(path.join(dataDir, name)).toString('latin1'))
      .join('');
    expect(journals.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(logs.includes(secret), 'a credential in the logs').toBe(false);
      expect(dumped.includes(secret), 'a credential in security_events').toBe(false);
      expect(journals.includes(secret), 'a credential in a journal').toBe(false);
    }
  });
});
