/**
 * TLS through uWebSockets.js's SSLApp, with a certificate made by openssl in
 * this test: https health answers and a wss:// signal round trip (master ->
 * ack, receiver <- delivery) verified against that certificate; HSTS on
 * every answer under TLS (upgrade refusals too) and on none without it, with
 * both listeners in one process.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../io/admin/admin-server';
import { AdminStore } from '../persistence/pg/admin-store';
import { createPool } from '../persistence/pg/pool';
import { safeInteger } from '@sigplane/protocol';
import { subscribeFrame, v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer } from './support/test-server';
import { WireClient } from './support/wire-client';

let dir: string;
let certPem: string;
let tlsServer: TestServer;
let plainServer: TestServer;

function httpsGet(url: string, ca: string | undefined): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** A WebSocket upgrade request without a credential: the refusal's status and headers. */
function refusedUpgrade(url: string, ca?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const headers = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  return new Promise((resolve, reject) => {
    const req = url.startsWith('https:') ? https.request(url, { headers, ca }) : http.request(url, { headers });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('upgrade', () => reject(new Error('upgraded without a credential')));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-tls-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'pipe' });
  certPem = fs.readFileSync(certFile, 'utf8');
  tlsServer = await startTestServer({ shardCount: 1, tls: { certFile, keyFile } });
  plainServer = await startTestServer({ shardCount: 1 });
});

afterAll(async () => {
  await tlsServer?.close();
  await plainServer?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves https with the given certificate, and HSTS with the other security headers', async () => {
    const r = await httpsGet(`https://127.0.0.1:${tlsServer.server.port}/healthz`, certPem);
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok\n');
    expect(r.headers).toMatchObject({
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    });
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await expect(httpsGet(`https://127.0.0.1:${tlsServer.server.port}/healthz`, undefined)).rejects.toThrow(/self.signed|certificate/i);
  });

  it('carries a signal over wss:// from master to receiver', async () => {
    const s = await tlsServer.subscription();
    expect(tlsServer.masterUrl.startsWith('wss://')).toBe(true);
    const receiver = await WireClient.open(tlsServer.receiverUrl, s.receiverToken, { ca: certPem });
    const master = await WireClient.open(tlsServer.masterUrl, s.masterToken, { ca: certPem });
    try {
      receiver.send(subscribeFrame(null));
      await receiver.waitFor((f) => f.kind === 'welcome');
      await master.waitFor((f) => f.kind === 'welcome');
      master.send(v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)));
      const ack = await master.waitFor((f) => f.kind === 'ack');
      expect(ack.kind === 'ack' && safeInteger(ack.ack.sequenceNumber)).toBe(1);
      const delivery = await receiver.waitFor((f) => f.kind === 'delivery');
      expect(delivery.kind === 'delivery' && safeInteger(delivery.delivery.sequenceNumber)).toBe(1);
    } finally {
      await master.close();
      await receiver.close();
    }
  });

  it('sends HSTS on an upgrade refused under TLS', async () => {
    const refused = await WireClient.connect(tlsServer.masterUrl, null, { ca: certPem });
    expect(refused instanceof WireClient).toBe(false);
    expect(refused).toMatchObject({ status: 401, body: '{"code":"MISSING_TOKEN"}' });
    const raw = await refusedUpgrade(`https://127.0.0.1:${tlsServer.server.port}/v1/master`, certPem);
    expect(raw.status).toBe(401);
    expect(raw.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('the admin API on its own TLS listener sends HSTS too, even on a refusal', async () => {
    const pool = createPool(tlsServer.databaseUrl, { max: 2 });
    const admin = new AdminServer({
      host: '127.0.0.1',
      port: 0,
      store: tlsServer.store,
      adminStore: new AdminStore(pool, tlsServer.store),
      tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') },
    });
    await admin.start();
    try {
      const r = await httpsGet(`https://127.0.0.1:${admin.port}/admin/v1/users`, certPem);
      expect(r.status).toBe(401);
      expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      admin.stop();
      await pool.end();
    }
  });

  it('sends no HSTS without TLS, from a plain listener in the same process', async () => {
    const r = await fetch(`http://127.0.0.1:${plainServer.server.port}/healthz`);
    expect(r.status).toBe(200);
    expect(r.headers.get('strict-transport-security')).toBeNull();
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const refused = await refusedUpgrade(`http://127.0.0.1:${plainServer.server.port}/v1/master`);
    expect(refused.status).toBe(401);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    expect(refused.headers['strict-transport-security']).toBeUndefined();
  });
});
