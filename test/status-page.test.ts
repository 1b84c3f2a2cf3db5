/**
 * The read-only status page, in headless Chromium (Debian's chromium driven
 * by playwright-core): off (404) without a status token; with one, the page
 * asks for the token, then shows subscriptions, states, connected masters
 * and receivers, rates, latency percentiles and rejects by code, and a
 * signal sent during the test changes what it shows. The snapshot JSON
 * refuses a wrong or missing token.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMaster, openReceiver, send, waitForDeliveries } from './support/e2e';
import { v1Fields, v1Frame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import type { WireClient } from './support/wire-client';

const chromiumPath = '/usr/bin/chromium';
const statusToken = crypto.randomBytes(32).toString('hex');
let t: TestServer;
let off: TestServer;
let s: TestSubscription;
let browser: Browser;
let page: Page;
let master: WireClient;
let receiver: WireClient;

beforeAll(async () => {
  if (!fs.existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/ci-system-packages.sh (Debian package chromium)`);
  t = await startTestServer({ shardCount: 1, statusToken });
  off = await startTestServer({ shardCount: 1 });
  s = await t.subscription();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await master?.close();
  await receiver?.close();
  await browser?.close();
  await t?.close();
  await off?.close();
});

describe('status page', () => {
  it('is off without a status token: every /status path answers 404', async () => {
    for (const p of ['/status', '/status/app.js', '/status/snapshot.json']) {
      const r = await fetch(`http://127.0.0.1:${off.server.port}${p}`, { headers: { authorization: `Bearer ${statusToken}` } });
      expect(r.status, p).toBe(404);
    }
  });

  it('refuses the snapshot without the token or with a wrong one', async () => {
    const url = `http://127.0.0.1:${t.server.port}/status/snapshot.json`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${statusToken.slice(1)}x` } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${statusToken}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  it('asks for the token, then shows live figures; a signal sent now changes the page', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // CSP violations and script errors; not the 401 of the wrong token or the browser's own favicon request.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(message.text());
    });
    const response = await page.goto(`http://127.0.0.1:${t.server.port}/status`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.locator('#login').waitFor({ state: 'visible' });

    // A wrong token is refused and the page says so.
    await page.fill('#token', 'not-the-status-token-not-the-status-token');
    await page.click('#login button');
    await expect.poll(() => page.textContent('#login-error')).toBe('That token was refused.');

    await page.fill('#token', statusToken);
    await page.click('#login button');
    await page.locator('#board').waitFor({ state: 'visible' });
    expect(await page.textContent('#signals-accepted')).toBe('0');

    receiver = await openReceiver(t, s.receiverToken, null);
    master = await openMaster(t, s);
    // Connected peers and the subscription appear.
    await expect.poll(() => page.textContent('#peers'), { timeout: 10_000 }).toBe('1 / 1');
    const row = page.locator('#subscriptions tbody tr', { hasText: s.subscriptionId });
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);

    // The signal sent during the test.
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 1)))).toMatchObject({ kind: 'ack', status: 'ACCEPTED' });
    await waitForDeliveries(receiver, 1);
    await expect.poll(() => page.textContent('#signals-accepted'), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => page.textContent('#deliveries'), { timeout: 10_000 }).toBe('1');
    const cells = await row.locator('td').allTextContents();
    expect(cells).toEqual([s.subscriptionId, 'ACTIVE', '1', '1 (1)', '1', expect.stringMatching(/^\d+\.\d$/)]);
    // Latency percentiles of the one signal.
    const latency = await page.locator('#latency tbody tr').first().locator('td').allTextContents();
    expect(latency[0]).toBe('ingest to ack');
    expect(latency[1]).toBe('1');
    expect(Number(latency[2])).toBeGreaterThan(0);

    // A forged signal shows under rejects by code.
    expect(await send(master, v1Frame('not the key', v1Fields(s.subscriptionId, 2)))).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    await expect
      .poll(() => page.locator('#rejects tbody tr').allTextContents(), { timeout: 10_000 })
      .toContain('SIGNATURE_INVALID1');

    expect(errors).toEqual([]);
  });

  it('keeps the token out of the URL and the page source', async () => {
    expect(page.url()).not.toContain(statusToken);
    expect(await page.content()).not.toContain(statusToken);
  });
});
