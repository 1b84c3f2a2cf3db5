/**
 * Incident response against a running server: the operator's commands run
 * as real processes (`node dist/cli/main.js`), reach the server through the
 * Postgres control channel, and act on live connections. How soon is not
 * asserted (a busy machine is slow, not wrong): each wait below is a bound
 * on liveness, far above the control channel's usual delay.
 *
 * - isolate: every connection of that subscription (masters and receivers)
 *   gets StateChange ISOLATED then close 4003; another subscription's
 *   connections stay; upgrades are refused 403 SUBSCRIPTION_ISOLATED;
 *   nothing is accepted; lift lets them back and the sequence continues.
 * - revoke: exactly the sessions of that token close with 4004.
 * - rotate-credentials: old master token refused, new one works, the old MAC
 *   key verifies during the overlap and the new one works.
 * - the control listener survives its Postgres connection being killed, and
 *   catches up on what it missed (isolation, revocation, lift).
 * Each action's audit_log row is checked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeInteger, stateName } from '@sigplane/protocol';
import { cliPath as cli, runCli, type CliRun } from './support/cli-process';
import { openMaster, openReceiver, range, send, sleep, states, waitForDeliveries } from './support/e2e';
import { v1Fields, v1Frame, v2Body, v2Frame } from './support/signals';
import { startTestServer, type TestServer, type TestSubscription } from './support/test-server';
import { WireClient, type UpgradeRefusal } from './support/wire-client';

const closeIsolated = 4003;
const closeRevoked = 4004;
/** Longest wait for a close or a state change the control channel brings: liveness, not speed. */
const closeWaitMs = 15_000;

let t: TestServer;
let tempDir: string;

beforeAll(async () => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  t = await startTestServer({ shardCount: 2, control: true });
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-incident-'));
});

afterAll(async () => {
  await t?.close();
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

type Run = CliRun;

/** `sigplane ...` as an operator runs it, against the test server's database and KEK. */
function sigplane(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SIGPLANE_') || name === 'DATABASE_URL') delete env[name];
  Object.assign(env, { DATABASE_URL: t.databaseUrl, SIGPLANE_KEK: t.kekBase64 });
  return runCli([...args, '--data', path.join(tempDir, 'data')], { env, cwd: tempDir });
}

async function sigplaneOk(args: string[]): Promise<string> {
  const r = await sigplane(args);
  expect(r.code, `sigplane ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** When each client's socket closed (ms since the epoch). */
async function refusal(url: string, token: string): Promise<{ status: number; code: string }> {
  const result = await WireClient.connect(url, token);
  if (result instanceof WireClient) {
    await result.close();
    throw new Error('upgrade was accepted');
  }
  return { status: (result as UpgradeRefusal).status, code: (JSON.parse(result.body) as { code: string }).code };
}

interface AuditRow {
  event_type: string;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  metadata: Record<string, unknown> | null;
  event_time: Date;
}

async function auditRows(resourceId: string): Promise<AuditRow[]> {
  const client = new Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<AuditRow>(
      `SELECT event_type, action, resource_type, resource_id, metadata, event_time FROM audit_log
        WHERE resource_id = $1 ORDER BY event_time, log_id`,
      [resourceId],
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function sql(text: string, values: unknown[] = []): Promise<void> {
  const client = new Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

/** Signals 1..n from a v1 master, each acked ACCEPTED. */
async function publish(master: WireClient, s: TestSubscription, from: number, to: number): Promise<void> {
  for (const sequence of range(from, to)) {
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, sequence)))).toEqual({
      kind: 'ack',
      status: 'ACCEPTED',
      sequence,
    });
  }
}

function welcomeOf(client: WireClient): { state: string; lastSequence: number } {
  const welcome = client.ofKind('welcome')[0]!.welcome;
  return { state: stateName(welcome.state), lastSequence: safeInteger(welcome.lastSequence) ?? -1 };
}

describe('isolate and lift (sigplane subscription isolate|lift)', () => {
  it('isolate closes every connection of the subscription and no other; upgrades are refused; nothing is accepted; lift lets them back and the sequence continues', async () => {
    const s = await t.subscription();
    const other = await t.subscription();
    const secondLicense = await t.receiverToken(s.subscriptionId);

    const master = await openMaster(t, s);
    const receivers = [await openReceiver(t, s.receiverToken, 0), await openReceiver(t, secondLicense.token, 0)];
    const otherMaster = await openMaster(t, other);
    const otherReceiver = await openReceiver(t, other.receiverToken, 0);
    await publish(master, s, 1, 3);
    for (const r of receivers) await waitForDeliveries(r, 3);
    await publish(otherMaster, other, 1, 1);

    // The master keeps publishing while the operator acts: nothing may be accepted after the isolation.
    let nextSequence = 4;
    let streaming = true;
    const stream = (async () => {
      while (streaming && master.closeCode === null) {
        master.send(v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, nextSequence)));
        await sleep(5);
      }
    })();

    const doomed = [master, ...receivers];
    const out = await sigplaneOk(['subscription', 'isolate', '--subscription', s.subscriptionId, '--reason', 'suspected key leak (ticket 42)']);
    expect(out).toContain(`subscription ${s.subscriptionId} isolated (was ACTIVE)`);
    for (const c of doomed) expect(await c.waitForClose(closeWaitMs)).toBe(closeIsolated);
    streaming = false;
    await stream;

    // The audit row.
    const [row] = await auditRows(s.subscriptionId);
    expect(row).toMatchObject({
      event_type: 'INCIDENT',
      action: 'ISOLATE',
      resource_type: 'subscription',
      metadata: { reason: 'suspected key leak (ticket 42)', previousState: 'ACTIVE', state: 'ISOLATED', via: 'cli' },
    });

    // Each connection heard StateChange ISOLATED before its close, never the operator's reason.
    for (const c of doomed) {
      expect(states(c)).toEqual(['ISOLATED']);
      expect(c.ofKind('stateChange')[0]!.stateChange.reason).not.toContain('ticket 42');
    }
    // Nothing was accepted after the StateChange (and whatever was accepted before it was acked in order).
    const frames = master.frames;
    const isolatedAt = frames.findIndex((f) => f.kind === 'stateChange');
    expect(frames.slice(isolatedAt).filter((f) => f.kind === 'ack')).toEqual([]);
    const acked = master.ofKind('ack').map((f) => safeInteger(f.ack.sequenceNumber));
    const lastAccepted = acked.length === 0 ? 0 : Math.max(...(acked as number[]));
    expect(acked).toEqual(range(1, lastAccepted));

    // The other subscription is untouched.
    await sleep(300);
    expect(otherMaster.closeCode).toBeNull();
    expect(otherReceiver.closeCode).toBeNull();
    await publish(otherMaster, other, 2, 2);
    expect(await waitForDeliveries(otherReceiver, 2)).toEqual([1, 2]);

    // New upgrades are refused, masters and receivers alike.
    expect(await refusal(t.masterUrl, s.masterToken)).toEqual({ status: 403, code: 'SUBSCRIPTION_ISOLATED' });
    expect(await refusal(t.receiverUrl, s.receiverToken)).toEqual({ status: 403, code: 'SUBSCRIPTION_ISOLATED' });
    expect(t.server.stateOf(s.subscriptionId)).toBe('ISOLATED');
    expect(t.server.metrics.operatorCloses.get({ reason: 'ISOLATED' })).toBeGreaterThanOrEqual(3);

    // Isolating again is audited and harmless.
    expect(await sigplaneOk(['subscription', 'isolate', '--subscription', s.subscriptionId, '--reason', 'still investigating'])).toContain(
      'was already ISOLATED',
    );

    // Lift: back in, the sequence continues where it stopped.
    const lifted = await sigplaneOk(['subscription', 'lift', '--subscription', s.subscriptionId, '--reason', 'keys rotated']);
    expect(lifted).toContain('lifted');
    await until(() => t.server.stateOf(s.subscriptionId) === 'ACTIVE', 'the actor to be lifted', closeWaitMs);
    const back = await openMaster(t, s);
    expect(welcomeOf(back)).toEqual({ state: 'ACTIVE', lastSequence: lastAccepted });
    const receiver = await openReceiver(t, s.receiverToken, lastAccepted);
    await publish(back, s, lastAccepted + 1, lastAccepted + 2);
    expect(await waitForDeliveries(receiver, 2)).toEqual([lastAccepted + 1, lastAccepted + 2]);
    // A receiver that missed everything catches up on the whole, gap-free sequence.
    const fresh = await openReceiver(t, secondLicense.token, 0);
    expect(await waitForDeliveries(fresh, lastAccepted + 2)).toEqual(range(1, lastAccepted + 2));

    const actions = (await auditRows(s.subscriptionId)).map((r) => [r.event_type, r.action, r.metadata?.reason]);
    expect(actions).toEqual([
      ['INCIDENT', 'ISOLATE', 'suspected key leak (ticket 42)'],
      ['INCIDENT', 'ISOLATE', 'still investigating'],
      ['INCIDENT', 'LIFT', 'keys rotated'],
    ]);
    await Promise.all([back, receiver, fresh, otherMaster, otherReceiver].map((c) => c.close()));
  });

  it('lift of a subscription that is not isolated changes nothing; unknown ids and bad input fail clearly', async () => {
    const s = await t.subscription();
    expect(await sigplaneOk(['subscription', 'lift', '--subscription', s.subscriptionId, '--reason', 'noop'])).toContain('was not isolated');
    const missing = '00000000-0000-4000-8000-000000000000';
    const unknown = await sigplane(['subscription', 'isolate', '--subscription', missing, '--reason', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`no subscription ${missing}`);
    const bad = await sigplane(['subscription', 'isolate', '--subscription', 'nope', '--reason', 'x']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/^--subscription must be a UUID/)]);
    const noReason = await sigplane(['subscription', 'isolate', '--subscription', s.subscriptionId]);
    expect([noReason.code, noReason.stderr]).toEqual([2, expect.stringMatching(/^--reason is required/)]);
  });
});

describe('revoke (sigplane token revoke)', () => {
  it('closes exactly the sessions of that token; the token is refused afterwards', async () => {
    const s = await t.subscription();
    const victim = await t.receiverToken(s.subscriptionId);
    const master = await openMaster(t, s);
    const victimSessions = [await openReceiver(t, victim.token, 0), await openReceiver(t, victim.token, 0)];
    const bystander = await openReceiver(t, s.receiverToken, 0);
    await publish(master, s, 1, 2);

    const out = await sigplaneOk(['token', 'revoke', '--token-id', victim.tokenId, '--reason', 'license resold']);
    expect(out).toContain(`token ${victim.tokenId} (receiver, subscription ${s.subscriptionId}) revoked`);
    for (const c of victimSessions) expect(await c.waitForClose(closeWaitMs)).toBe(closeRevoked);

    await sleep(300);
    expect(master.closeCode).toBeNull();
    expect(bystander.closeCode).toBeNull();
    await publish(master, s, 3, 3);
    expect(await waitForDeliveries(bystander, 3)).toEqual([1, 2, 3]);
    expect(await refusal(t.receiverUrl, victim.token)).toEqual({ status: 401, code: 'REVOKED' });

    const rows = await auditRows(victim.tokenId);
    expect(rows.map((r) => [r.event_type, r.action, r.resource_type, r.metadata?.reason, r.metadata?.subscriptionId])).toEqual([
      ['CREDENTIAL', 'REVOKE', 'license_token', 'license resold', s.subscriptionId],
    ]);
    expect(await sigplaneOk(['token', 'revoke', '--token-id', victim.tokenId])).toContain('was already revoked');
    expect(await auditRows(victim.tokenId)).toHaveLength(1);
    const unknown = await sigplane(['token', 'revoke', '--token-id', '00000000-0000-4000-8000-000000000000']);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no token 00000000-0000-4000-8000-000000000000')]);
    await Promise.all([master.close(), bystander.close()]);
  });
});

describe('rotate every credential (sigplane subscription rotate-credentials)', () => {
  it('old master token refused and its session closed; new token works; the old MAC key verifies during the overlap, the new one too', async () => {
    const s = await t.subscription();
    const oldMaster = await openMaster(t, s);
    const receiver = await openReceiver(t, s.receiverToken, 0);
    expect(await send(oldMaster, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 1)))).toMatchObject({ status: 'ACCEPTED' });

    const rotated = JSON.parse(
      await sigplaneOk(['subscription', 'rotate-credentials', '--subscription', s.subscriptionId, '--reason', 'provider laptop stolen', '--json']),
    ) as { masterToken: string; masterTokenId: string; macKeyId: string; macSecretHex: string; previousMacKeysValidUntil: string; revokedMasterTokenIds: string[] };
    expect(await oldMaster.waitForClose(closeWaitMs)).toBe(closeRevoked);
    expect(rotated.masterToken).toMatch(/^spm_[0-9a-f]{64}_[0-9a-f]{8}$/);
    expect(rotated.macKeyId).toMatch(/^k2-[0-9a-f]{8}$/);
    expect(rotated.revokedMasterTokenIds).toHaveLength(1);
    expect(new Date(rotated.previousMacKeysValidUntil).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);

    expect(await refusal(t.masterUrl, s.masterToken)).toEqual({ status: 401, code: 'REVOKED' });
    const newMaster = await openMaster(t, { ...s, masterToken: rotated.masterToken });
    // During the overlap: the old key still verifies (v2 and v1) ...
    expect(await send(newMaster, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 2)))).toMatchObject({ status: 'ACCEPTED' });
    expect(await send(newMaster, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 3)))).toMatchObject({ status: 'ACCEPTED' });
    // ... and the new one works.
    const newKey = Buffer.from(rotated.macSecretHex, 'hex');
    expect(await send(newMaster, v2Frame(newKey, rotated.macKeyId, v2Body(s.subscriptionId, 4)))).toMatchObject({ status: 'ACCEPTED' });
    expect(await send(newMaster, v1Frame(rotated.macSecretHex, v1Fields(s.subscriptionId, 5)))).toMatchObject({ status: 'ACCEPTED' });
    // A key that is neither is still refused.
    expect(await send(newMaster, v2Frame(Buffer.alloc(32, 7), rotated.macKeyId, v2Body(s.subscriptionId, 6)))).toMatchObject({
      kind: 'reject',
      code: 'SIGNATURE_INVALID',
    });
    expect(await waitForDeliveries(receiver, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(receiver.closeCode).toBeNull(); // receiver licenses are not touched

    const [row] = await auditRows(s.subscriptionId);
    expect(row).toMatchObject({
      event_type: 'INCIDENT',
      action: 'ROTATE_CREDENTIALS',
      metadata: {
        reason: 'provider laptop stolen',
        macKeyId: rotated.macKeyId,
        masterTokenId: rotated.masterTokenId,
        revokedMasterTokenIds: rotated.revokedMasterTokenIds,
      },
    });
    expect(JSON.stringify(row)).not.toContain(rotated.macSecretHex);
    await Promise.all([newMaster.close(), receiver.close()]);
  });
});

describe('a MAC key rotated out', () => {
  it('stops verifying when its overlap ends, also on a session opened during the overlap', async () => {
    const s = await t.subscription();
    const overlapMs = 1_500;
    const next = await t.store.rotateMacKey(s.subscriptionId, { overlapMs });
    const rotatedAt = Date.now();
    const master = await openMaster(t, s);
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 1)))).toMatchObject({ status: 'ACCEPTED' });
    await sleep(rotatedAt + overlapMs + 100 - Date.now());
    expect(await send(master, v2Frame(s.macKey, s.macKeyId, v2Body(s.subscriptionId, 2)))).toMatchObject({ kind: 'reject', code: 'UNKNOWN_KEY' });
    expect(await send(master, v1Frame(s.macSecretHex, v1Fields(s.subscriptionId, 2)))).toMatchObject({ kind: 'reject', code: 'SIGNATURE_INVALID' });
    const newKey = Buffer.from(next.secretHex, 'hex');
    expect(await send(master, v2Frame(newKey, next.keyId, v2Body(s.subscriptionId, 2)))).toMatchObject({ status: 'ACCEPTED' });
    await master.close();
  });
});

describe('the control listener', () => {
  async function killListener(): Promise<number> {
    const database = new URL(t.databaseUrl).pathname.slice(1);
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE application_name = 'sigplane_control' AND datname = $1`,
        [database],
      );
      return rows.filter((r) => r.killed).length;
    } finally {
      await client.end();
    }
  }

  async function killAndAwaitReconnect(): Promise<void> {
    const listener = t.server.controlListener!;
    const before = listener.connects;
    expect(await killListener()).toBe(1);
    await until(() => listener.up && listener.connects === before + 1, 'the control listener to reconnect');
  }

  it('reconnects after its Postgres connection is killed and still acts on a later NOTIFY', async () => {
    expect(t.server.controlListener?.up).toBe(true);
    await killAndAwaitReconnect();
    const s = await t.subscription();
    const receiver = await openReceiver(t, s.receiverToken, 0);
    await sigplaneOk(['subscription', 'isolate', '--subscription', s.subscriptionId, '--reason', 'after reconnect']);
    expect(await receiver.waitForClose(closeWaitMs)).toBe(closeIsolated);
    await sigplaneOk(['subscription', 'lift', '--subscription', s.subscriptionId, '--reason', 'done']);
    const metrics = await (await fetch(`http://127.0.0.1:${t.server.port}/metrics`)).text();
    expect(metrics).toMatch(/^sigplane_control_listener_up 1$/m);
    expect(metrics).toMatch(/^sigplane_operator_closes_total\{reason="ISOLATED"\} \d+$/m);
  });

  it('catches up on changes made while it was not listening: isolation, revocation, lift', async () => {
    const s = await t.subscription();
    const victim = await t.receiverToken(s.subscriptionId);
    const other = await t.subscription();
    const master = await openMaster(t, s);
    const receiver = await openReceiver(t, s.receiverToken, 0);
    const victimSession = await openReceiver(t, victim.token, 0);
    const otherReceiver = await openReceiver(t, other.receiverToken, 0);
    await publish(master, s, 1, 1);

    // Changed behind the channel's back (no NOTIFY): only a resync can see it.
    await sql(`UPDATE license_tokens SET revoked_at = now() WHERE token_id = $1`, [victim.tokenId]);
    await killAndAwaitReconnect();
    expect(await victimSession.waitForClose(closeWaitMs)).toBe(closeRevoked);
    expect(receiver.closeCode).toBeNull();

    await sql(`UPDATE subscriptions SET state = 'ISOLATED' WHERE subscription_id = $1`, [s.subscriptionId]);
    await killAndAwaitReconnect();
    expect(await master.waitForClose(closeWaitMs)).toBe(closeIsolated);
    expect(await receiver.waitForClose(closeWaitMs)).toBe(closeIsolated);
    expect(otherReceiver.closeCode).toBeNull();
    await until(() => t.server.stateOf(s.subscriptionId) === 'ISOLATED', 'the actor to be isolated');

    await sql(`UPDATE subscriptions SET state = 'ACTIVE' WHERE subscription_id = $1`, [s.subscriptionId]);
    await killAndAwaitReconnect();
    await until(() => t.server.stateOf(s.subscriptionId) === 'ACTIVE', 'the actor to be lifted');
    const back = await openMaster(t, s);
    expect(welcomeOf(back)).toEqual({ state: 'ACTIVE', lastSequence: 1 });
    await publish(back, s, 2, 2);
    await Promise.all([back.close(), otherReceiver.close()]);
  });

  it('a restarted server lifts an actor its journal left ISOLATED when the subscription was lifted meanwhile', async () => {
    const s = await t.subscription();
    const master = await openMaster(t, s);
    await publish(master, s, 1, 2);
    await t.store.isolateSubscription(s.subscriptionId, { reason: 'before restart' });
    expect(await master.waitForClose(closeWaitMs)).toBe(closeIsolated);
    await until(() => t.server.stateOf(s.subscriptionId) === 'ISOLATED', 'the actor to be isolated');

    await t.stopServer();
    await t.store.liftIsolation(s.subscriptionId, { reason: 'while the server was down' });
    await t.restart();

    await until(() => t.server.stateOf(s.subscriptionId) === 'ACTIVE', 'the recovered actor to be lifted');
    const back = await openMaster(t, s);
    expect(welcomeOf(back)).toEqual({ state: 'ACTIVE', lastSequence: 2 });
    await publish(back, s, 3, 3);
    const receiver = await openReceiver(t, s.receiverToken, 0);
    expect(await waitForDeliveries(receiver, 3)).toEqual([1, 2, 3]);
    await Promise.all([back.close(), receiver.close()]);
  });
});
