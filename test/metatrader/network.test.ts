/**
 * The EAs' connection, against real servers:
 *   - TLS: both EAs copy over wss:// from `sigplane serve`'s TLS listener,
 *     verifying its certificate (a CA file trusted by the C++ platform
 *     layer, as MT5 trusts the Windows store);
 *   - a server whose certificate is not trusted, or names another host, is
 *     refused: no Welcome, the failure logged as TLS_FAILED;
 *   - nothing is ever sent in plain text to a wss:// URL: a listener that
 *     does not speak TLS sees a TLS ClientHello and never the upgrade
 *     request or the token;
 *   - a server that goes away (stopped: its port refuses connections) and
 *     comes back: the master keeps trading into its outbox meanwhile, both
 *     EAs reconnect on their own, and the receiver ends holding what the
 *     master holds.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../support/prng';
import { TcpProxy } from '../support/tcp-proxy';
import { startTestServer, type TestServer } from '../support/test-server';
import { eaBinaries, eaBuildTimeoutMs } from './support/ea-build';
import { accountSymbols, freePort, holdings, MasterTrader, masterEa, receiverEa, waitUntil } from './support/session';

let dir: string;
const closers: (() => Promise<void>)[] = [];

function certificate(name: string, subjectAltName: string): { certFile: string; keyFile: string } {
  const keyFile = path.join(dir, `${name}-key.pem`);
  const certFile = path.join(dir, `${name}-cert.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${subjectAltName}`],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile };
}

beforeAll(() => {
  eaBinaries(); // compiled here (once per version of the sources) rather than inside a test's own timeout
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-ea-network-'));
}, eaBuildTimeoutMs);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  let t: TestServer;
  let good: { certFile: string; keyFile: string };

  beforeAll(async () => {
    good = certificate('localhost', 'IP:127.0.0.1,DNS:localhost');
    t = await startTestServer({ shardCount: 1, tls: good, receiverSettings: true });
    closers.push(() => t.close());
  });

  it('copies over wss:// with the server certificate verified', async () => {
    expect(t.masterUrl.startsWith('wss://127.0.0.1:')).toBe(true);
    const sub = await t.subscription();
    const master = masterEa(path.join(dir, 'tls-master'), t, sub, { caFile: good.certFile });
    const receiver = receiverEa('tls-receiver', path.join(dir, 'tls-receiver'), t, sub.receiverToken, accountSymbols(null), { caFile: good.certFile });
    closers.push(() => master.kill9(), () => receiver.kill9());
    await master.start();
    await receiver.start();
    await master.waitStatus('welcome over TLS', (s) => s.welcomed === true);
    await receiver.waitStatus('welcome over TLS', (s) => s.welcomed === true);
    await master.request('mid EURUSD 1.1');
    await receiver.request('mid EURUSD 1.1');
    const opened = await master.request('open EURUSD 0 0.3 1.09 1.12 7');
    await receiver.waitStatus('the copy', (s) => s.lastSequence === 1);
    expect(holdings(receiver.positions())).toEqual([
      { key: `sp:${sub.subscriptionId.replace(/-/g, '').slice(0, 6)}:${opened.ticket}`, symbol: 'EURUSD', side: 0, volume: 0.3, stopLoss: 1.09, takeProfit: 1.12 },
    ]);
  });

  it('refuses a server whose certificate it does not trust, or that names another host', async () => {
    const sub = await t.subscription();
    const stranger = certificate('stranger', 'IP:127.0.0.1,DNS:localhost');
    const otherHost = certificate('other', 'DNS:other.example');
    const otherServer = await startTestServer({ shardCount: 1, tls: otherHost });
    closers.push(() => otherServer.close());
    const otherSub = await otherServer.subscription();
    const untrusting = masterEa(path.join(dir, 'tls-untrusted'), t, sub, { caFile: stranger.certFile });
    const misnamed = masterEa(path.join(dir, 'tls-misnamed'), otherServer, otherSub, { caFile: otherHost.certFile });
    closers.push(() => untrusting.kill9(), () => misnamed.kill9());
    for (const ea of [untrusting, misnamed]) {
      await ea.start();
      await ea.waitLine((l) => l.code === 'DISCONNECTED' && String(l.msg).includes('TLS_FAILED'), 20_000);
      expect((await ea.status()).welcomed).toBe(false);
    }
    // Nothing but TLS failures: the EA never got as far as an upgrade answer.
    for (const ea of [untrusting, misnamed]) {
      const disconnects = ea.logs('DISCONNECTED').map((l) => String(l.msg));
      expect(disconnects.every((m) => m.includes('TLS_FAILED')), disconnects.join('\n')).toBe(true);
      expect(ea.logs('WELCOME')).toEqual([]);
    }
    expect(misnamed.logs('DISCONNECTED')[0].msg).toMatch(/hostname|IP address mismatch/);
  });

  it('never sends the upgrade or the token in plain text to a wss:// URL', async () => {
    const received: Buffer[] = [];
    const plain = net.createServer((socket) => {
      socket.on('data', (d) => {
        received.push(d);
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    const port = (plain.address() as net.AddressInfo).port;
    const token = 'spm_' + 'a'.repeat(64) + '_00000000';
    const ea = masterEa(path.join(dir, 'tls-plain'), { masterUrl: `wss://127.0.0.1:${port}/v1/master`, receiverUrl: '' }, { masterToken: token, macKeyId: 'k1-x', macSecretHex: 'ab'.repeat(32) });
    closers.push(() => ea.kill9());
    await ea.start();
    await ea.waitLine((l) => l.code === 'DISCONNECTED' && String(l.msg).includes('TLS_FAILED'), 20_000);
    await waitUntil('a second attempt', () => ea.logs('DISCONNECTED').length >= 2, 20_000);
    const bytes = Buffer.concat(received);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes[0]).toBe(0x16); // a TLS handshake record: the ClientHello
    expect(bytes.includes(Buffer.from('GET /v1'))).toBe(false);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from('Authorization'))).toBe(false);
  });
});

describe('a server that goes away and comes back', () => {
  it('queues signals in the outbox while it is away, and both EAs resume on their own', async () => {
    const t = await startTestServer({ shardCount: 1, receiverSettings: true });
    closers.push(() => t.close());
    const sub = await t.subscription();
    const port = await freePort();
    let proxy = new TcpProxy(port, { host: '127.0.0.1', port: t.server.port });
    await proxy.listen();
    closers.push(() => proxy.close());
    const endpoint = { masterUrl: `ws://127.0.0.1:${port}/v1/master`, receiverUrl: `ws://127.0.0.1:${port}/v1/receiver` };
    const master = masterEa(path.join(dir, 'outage-master'), endpoint, sub);
    const receiver = receiverEa('outage-receiver', path.join(dir, 'outage-receiver'), endpoint, sub.receiverToken, accountSymbols(null));
    closers.push(() => master.kill9(), () => receiver.kill9());
    await master.startWelcomed();
    await receiver.start();
    const random = new Prng(515);
    const trader = new MasterTrader(() => master, random, async (symbol, mid) => void (await receiver.request(`mid ${symbol} ${mid}`)));
    await trader.moveMarket();
    for (let i = 0; i < 10; i++) await trader.step();
    await receiver.waitStatus('copied the first trades', (s) => s.lastSequence === 10);

    // The server stops; its address refuses connections.
    await proxy.close();
    await t.stopServer();
    await master.waitStatus('disconnected', (s) => s.welcomed === false);
    for (let i = 0; i < 8; i++) await trader.step();
    const away = await master.status();
    expect(away.outbox).toBe(8);
    expect(away.lastAssigned).toBe(18);
    expect(master.logs('DISCONNECTED').length).toBeGreaterThan(0);

    // It comes back, on the same address.
    await t.restart();
    proxy = new TcpProxy(port, { host: '127.0.0.1', port: t.server.port });
    await proxy.listen();
    await master.waitStatus('the outbox sent again and acked', (s) => s.welcomed === true && s.outbox === 0, 30_000);
    for (let i = 0; i < 4; i++) await trader.step();
    await master.waitStatus('acked', (s) => s.outbox === 0 && s.lastAssigned === 22, 30_000);
    await receiver.waitStatus('the receiver caught up', (s) => s.lastSequence === 22, 30_000);
    const prefix = `sp:${sub.subscriptionId.replace(/-/g, '').slice(0, 6)}:`;
    const expected = [...trader.book.values()].map((p) => ({ comment: `${prefix}${p.ticket}`, symbol: p.symbol, type: p.side, volume: p.volume, sl: p.stopLoss, tp: p.takeProfit }));
    expect(holdings(receiver.positions())).toEqual(holdings(expected));
    expect(receiver.logs('WELCOME').length).toBeGreaterThanOrEqual(2);
  });
});
