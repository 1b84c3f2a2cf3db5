/**
 * A session lives only as long as what let it in: when its allowlist entry
 * is removed or expires, or its token passes its expires_at, the server
 * closes it (4006 IP_NOT_ALLOWED, 4005 EXPIRED), on an ALLOWLIST control
 * message at once and otherwise within control.sessionSweepIntervalMs.
 * Sessions still admitted stay open. Real server, real control channel.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReceiver, sleep } from './support/e2e';
import { startTestServer, type TestServer } from './support/test-server';
import type { WireClient } from './support/wire-client';

const closeExpired = 4005;
const closeIpNotAllowed = 4006;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ shardCount: 1, control: true });
});
afterAll(async () => {
  await t?.close();
});

async function stillOpen(client: WireClient): Promise<boolean> {
  await sleep(300);
  return client.closeCode === null;
}

describe('sessions end with what let them in', () => {
  it('removing an allowlist entry closes the sessions it admitted, and only those', async () => {
    const s = await t.subscription();
    await t.store.addAllowedIp(s.subscriptionId, '127.0.8.2', {});
    const kept = await openReceiver(t, s.receiverToken, 0);
    const dropped = await openReceiver(t, s.receiverToken, 0, '127.0.8.2');
    expect(await t.store.removeAllowedIp(s.subscriptionId, '127.0.8.2')).toBe(true);
    expect(await dropped.waitForClose(5_000)).toBe(closeIpNotAllowed);
    expect(await stillOpen(kept)).toBe(true);
    await kept.close();
  });

  it('an entry whose expiry moves into the past closes its sessions; a covering CIDR entry keeps others open', async () => {
    const s = await t.subscription();
    await t.store.addAllowedIp(s.subscriptionId, '127.0.9.3', {});
    await t.store.addAllowedIp(s.subscriptionId, '127.0.10.0/24', {});
    await t.store.addAllowedIp(s.subscriptionId, '127.0.10.4', {});
    const expiring = await openReceiver(t, s.receiverToken, 0, '127.0.9.3');
    const covered = await openReceiver(t, s.receiverToken, 0, '127.0.10.4');
    await t.store.addAllowedIp(s.subscriptionId, '127.0.9.3', { expiresAt: new Date(Date.now() - 1_000) });
    await t.store.addAllowedIp(s.subscriptionId, '127.0.10.4', { expiresAt: new Date(Date.now() - 1_000) });
    expect(await expiring.waitForClose(5_000)).toBe(closeIpNotAllowed);
    expect(await stillOpen(covered)).toBe(true);
    await covered.close();
  });

  it('a token past its expires_at loses its sessions; other tokens of the subscription keep theirs', async () => {
    const s = await t.subscription();
    const other = await t.receiverToken(s.subscriptionId);
    const expiring = await openReceiver(t, s.receiverToken, 0);
    const kept = await openReceiver(t, other.token, 0);
    const owner = new Client({ connectionString: t.databaseUrl });
    await owner.connect();
    try {
      await owner.query("UPDATE license_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1", [s.receiverTokenId]);
    } finally {
      await owner.end();
    }
    // Expiry is time: the periodic check finds it. Any ALLOWLIST message runs that check at once.
    await t.store.addAllowedIp(s.subscriptionId, '127.0.11.1', { expiresAt: new Date(Date.now() + 60_000) });
    expect(await expiring.waitForClose(5_000)).toBe(closeExpired);
    expect(await stillOpen(kept)).toBe(true);
    const metrics = t.server.metrics.render();
    expect(metrics).toMatch(/sigplane_operator_closes_total\{reason="EXPIRED"\} [1-9]/);
    expect(metrics).toMatch(/sigplane_operator_closes_total\{reason="IP_NOT_ALLOWED"\} [1-9]/);
    await kept.close();
  });
});
