/**
 * The proof of issue 14: the C++ build of both EAs copies a seeded trading
 * session through a real server.
 *
 * A trader opens, modifies, partially and fully closes positions on the
 * master's paper terminal; the Master EA (its own process) sees them only
 * through OnTradeTransaction and publishes them. Three Receiver EAs (each
 * its own process, paper account and state file) copy them with different
 * settings, while they restart and go offline; beside each, a TypeScript
 * copier (client/copier.ts on client/paper-broker.ts) with the same
 * settings copies the same subscription. At the end:
 *   - each EA account holds exactly what its TypeScript twin holds, copy
 *     key by copy key: symbol, side, volume, stop loss, take profit;
 *   - no master position was opened twice on any EA account, and every
 *     copy held is of a position the master still holds;
 *   - every execution report an EA made is one row of execution_reports.
 * A second session does the same for a v1 master (netting orders).
 *
 * Fill prices differ between the accounts (requotes, slippage and timing
 * are each account's own): the settings here size copies from the master's
 * volumes only, so the volumes must agree exactly.
 * SIGPLANE_TEST_SEED replays the session.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Copier, PaperBroker, ReceiverClient, type SigplaneClientError } from '@sigplane/client';
import { mapSymbol } from '../../client/copy-rules';
import { createPool } from '../../persistence/pg/pool';
import { ReceiverSettingsStore } from '../../persistence/pg/receiver-settings-store';
import type { CopySettings } from '@sigplane/protocol';
import { Prng } from '../support/prng';
import type { TestServer } from '../support/test-server';
import type { EaProcess, EaSymbol } from './support/ea-process';
import {
  accountSymbols,
  type EaTestBed,
  holdings,
  instruments,
  masterEa,
  MasterTrader,
  opensByKey,
  paperSymbols,
  receiverEa,
  startEaTestBed,
  waitUntil,
} from './support/session';
import { eaBuildTimeoutMs } from './support/ea-build';

const seed = Number(process.env.SIGPLANE_TEST_SEED ?? 20261207);
const steps = 90;

let bed: EaTestBed;
let t: TestServer;
let dir: string;
let closers: (() => Promise<void>)[];

beforeAll(async () => {
  bed = await startEaTestBed('session', { shardCount: 2, shipper: true });
  ({ server: t, dir, closers } = bed);
}, eaBuildTimeoutMs);

afterAll(async () => {
  await bed?.close();
});

/** A TypeScript copier on a paper account: the reference an EA account is compared with. */
class TwinCopier {
  readonly broker: PaperBroker;
  readonly client = new ReceiverClient();
  readonly copier: Copier;
  readonly errors: string[] = [];

  constructor(
    name: string,
    symbols: EaSymbol[],
    balance: number,
    randomSeed: number,
    private readonly token: string,
  ) {
    const random = new Prng(randomSeed);
    this.broker = new PaperBroker({ symbols: paperSymbols(symbols), balance, random: () => random.next(), requoteProbability: 0.05, slippagePointsMax: 3 });
    this.copier = Copier.open({ broker: this.broker, mapFile: path.join(dir, `${name}-twin.json`), currency: 'USD' });
    this.client.on('error', (e: SigplaneClientError) => this.errors.push(e.code));
  }

  async start(): Promise<void> {
    this.copier.reportTo(this.client);
    await this.client.connect(t.receiverUrl, this.token, { ...this.copier.receiverOptions(), reconnect: { minMs: 20, maxMs: 200 } });
  }
}

interface Follower {
  name: string;
  settings: CopySettings;
  ea: EaProcess;
  twin: TwinCopier;
  tokenId: string;
}

async function follow(
  sub: { subscriptionId: string },
  name: string,
  patch: Record<string, unknown>,
  overrides: Record<string, Partial<EaSymbol>>,
  balance: number,
  index: number,
): Promise<Follower> {
  const pool = createPool(t.databaseUrl, { max: 1 });
  try {
    const store = new ReceiverSettingsStore(pool);
    const eaLicense = await t.receiverToken(sub.subscriptionId);
    const twinLicense = await t.receiverToken(sub.subscriptionId);
    const stored = await store.update(eaLicense.tokenId, patch);
    await store.update(twinLicense.tokenId, patch);
    const symbols = accountSymbols(stored.settings, overrides);
    const ea = receiverEa(name, path.join(dir, name), t, eaLicense.token, symbols, { balance, seed: seed * 7 + index, requote: 0.05, slippage: 3 });
    const twin = new TwinCopier(name, symbols, balance, seed * 11 + index, twinLicense.token);
    closers.push(() => twin.client.close());
    closers.push(() => ea.kill9());
    return { name, settings: stored.settings, ea, twin, tokenId: eaLicense.tokenId };
  } finally {
    await pool.end();
  }
}

async function setMid(followers: Follower[], symbol: string, mid: number): Promise<void> {
  for (const f of followers) {
    const local = mapSymbol(f.settings, symbol);
    if (f.ea.running) await f.ea.request(`mid ${local} ${mid}`);
    f.twin.broker.setMid(local, mid);
  }
}

/** What each account ends with equals its twin's, and nothing was opened twice. */
function expectSameAccounts(followers: Follower[], prefix: string, masterTickets: Set<string>, context: string): void {
  for (const f of followers) {
    const mine = holdings(f.ea.positions());
    const twin = holdings(f.twin.broker.snapshotPositions());
    expect(mine, `${f.name} (${context}): the EA's account against client/copier.ts's`).toEqual(twin);
    for (const [key, n] of opensByKey(f.ea.deals())) expect(n, `${f.name}: ${key} opened ${n} times`).toBe(1);
    for (const h of mine) {
      expect(h.key.startsWith(prefix), `${f.name}: ${h.key}`).toBe(true);
      if (masterTickets.size > 0 || !h.key.slice(prefix.length).startsWith('n')) {
        expect(masterTickets.has(h.key.slice(prefix.length)), `${f.name}: ${h.key} copies a position the master no longer holds`).toBe(true);
      }
    }
  }
}

/** The master attached and welcomed, the followers started, quotes everywhere. */
async function begin(
  name: string,
  sub: { masterToken: string; macKeyId: string; macSecretHex: string },
  followers: Follower[],
  random: Prng,
  inputs: Record<string, number> = {},
): Promise<{ master: EaProcess; trader: MasterTrader }> {
  const master = masterEa(path.join(dir, name), t, sub, {}, inputs);
  closers.push(() => master.kill9());
  await master.startWelcomed();
  const trader = new MasterTrader(() => master, random, (symbol, mid) => setMid(followers, symbol, mid));
  for (const f of followers) {
    await f.ea.start();
    await f.twin.start();
  }
  await trader.moveMarket();
  return { master, trader };
}

/** A follower's EA started again, quoted at the market's prices. */
async function restartFollower(f: Follower, trader: MasterTrader): Promise<void> {
  await f.ea.start();
  for (const i of instruments) await f.ea.request(`mid ${mapSymbol(f.settings, i.symbol)} ${trader.mids.get(i.symbol)}`);
}

/** Every signal acked, every follower (EA and twin) at the last one: its sequence. */
async function caughtUp(master: EaProcess, followers: Follower[]): Promise<number> {
  const published = await master.waitStatus('every signal acked', (s) => s.outbox === 0 && (s.signals as number) > 0, 60_000);
  const last = published.lastAssigned as number;
  for (const f of followers) {
    await f.ea.waitStatus(`${f.name} at ${last}`, (s) => s.lastSequence === last, 60_000);
    await f.twin.client.waitFor(last, 60_000);
  }
  return last;
}

describe('a seeded session copied by Receiver EAs, compared with client/copier.ts', () => {
  it(`v2: three settings, restarts and outages, each EA account ends as its TypeScript twin (seed ${seed})`, async () => {
    const random = new Prng(seed);
    const sub = await t.subscription();
    const followers = [
      await follow(sub, 'A-multiplier-suffix', { symbolSuffix: '.m', lotMode: 'MULTIPLIER', lotValue: 2 }, {}, 50_000, 1),
      await follow(
        sub,
        'B-fixed-reverse-mapped',
        { lotMode: 'FIXED', lotValue: 0.1, reverse: true, copyStopLoss: false, symbolMap: { XAUUSD: 'GOLD' }, symbolsBlocked: ['USDJPY'] },
        { XAUUSD: { volumeMin: 0.1, volumeStep: 0.1 } },
        20_000,
        2,
      ),
      await follow(
        sub,
        'C-half-prefix-capped',
        { symbolPrefix: 'x', lotMode: 'MULTIPLIER', lotValue: 0.5, lotMax: 0.4, copyTakeProfit: false, magicsBlocked: ['9'] },
        {},
        10_000,
        3,
      ),
    ];
    const { master, trader } = await begin('master-v2', sub, followers, random);

    const comeBackAt = new Map<Follower, number>();
    const chaos = { restart: 0, offline: 0 };
    for (let step = 0; step < steps; step++) {
      await trader.moveMarket();
      for (const [f, at] of comeBackAt) {
        if (step >= at) {
          comeBackAt.delete(f);
          await restartFollower(f, trader);
        }
      }
      if (random.chance(0.1)) {
        const f = random.pick(followers);
        if (f.ea.running) {
          if (random.chance(0.5)) {
            chaos.restart++;
            await f.ea.stop();
            await f.ea.start();
          } else {
            chaos.offline++;
            await f.ea.stop();
            comeBackAt.set(f, step + random.int(3, 15));
          }
        }
      }
      await trader.step();
    }
    for (const f of comeBackAt.keys()) await restartFollower(f, trader);
    const last = await caughtUp(master, followers);
    expect(trader.counts.open).toBeGreaterThan(10);
    expect(trader.counts.partial).toBeGreaterThan(3);
    expect(trader.counts.close).toBeGreaterThan(3);
    expect(trader.counts.modify).toBeGreaterThan(3);
    expect(chaos.restart + chaos.offline).toBeGreaterThan(2);
    // One signal per trade: nothing published twice, nothing lost.
    expect(last).toBe(trader.counts.open + trader.counts.modify + trader.counts.partial + trader.counts.close);

    const prefix = `sp:${sub.subscriptionId.replace(/-/g, '').slice(0, 6)}:`;
    if (process.env.SIGPLANE_TEST_VERBOSE) {
      console.log(JSON.stringify({ seed, last, counts: trader.counts, chaos, held: followers.map((f) => [f.name, f.ea.positions().length, f.ea.deals().length, f.ea.starts]) }));
    }
    expectSameAccounts(followers, prefix, new Set([...trader.book.keys()].map(String)), `seed ${seed}`);
    // Something was really copied on each account, and skipped where the settings say so.
    for (const f of followers) expect(f.ea.positions().length + f.ea.deals().length, f.name).toBeGreaterThan(5);

    // Every execution report an EA made landed once in Postgres.
    const pool = createPool(t.databaseUrl, { max: 1 });
    closers.push(() => pool.end());
    for (const f of followers) {
      await f.ea.waitStatus(`${f.name}'s reports acked`, (s) => s.unackedReports === 0);
      const made = new Set(f.ea.logs('REPORT').map((l) => l.msg as string));
      expect(made.size, f.name).toBeGreaterThan(0);
      const landed = async (): Promise<string[]> =>
        (
          await pool.query<{ key: string }>(
            "SELECT sequence::text || '|' || master_position_id || '|' || kind AS key FROM execution_reports WHERE receiver_id = $1",
            [f.tokenId],
          )
        ).rows.map((r) => r.key);
      await waitUntil(`${f.name}'s reports in Postgres`, async () => (await landed()).length >= made.size, 30_000);
      const rows = await landed();
      expect(new Set(rows).size, `${f.name}: one row per key`).toBe(rows.length);
      expect([...rows].sort(), f.name).toEqual([...made].sort());
    }
  }, 180_000);

  it(`v1: a master signing the seed's format is copied as net positions, as client/copier.ts copies it (seed ${seed})`, async () => {
    const random = new Prng(seed + 1);
    const sub = await t.subscription();
    const followers = [await follow(sub, 'N-netting', { symbolSuffix: '.m', lotMode: 'MULTIPLIER', lotValue: 2 }, {}, 50_000, 4)];
    const { master, trader } = await begin('master-v1', sub, followers, random, { SigningVersion: 1 });
    for (let step = 0; step < 40; step++) {
      await trader.moveMarket();
      if (step === 20) {
        await followers[0].ea.stop();
        await restartFollower(followers[0], trader);
      }
      await trader.step(6);
    }
    const last = await caughtUp(master, followers);
    const prefix = `sp:${sub.subscriptionId.replace(/-/g, '').slice(0, 6)}:`;
    expectSameAccounts(followers, prefix, new Set(), `v1, seed ${seed}`);
    // And each account holds twice the master's net volume per symbol (MULTIPLIER 2).
    for (const i of instruments) {
      const net = [...trader.book.values()].filter((p) => p.symbol === i.symbol).reduce((s, p) => s + (p.side === 0 ? p.volume : -p.volume), 0);
      const local = followers[0].ea.positions().filter((p) => p.symbol === `${i.symbol}.m`).reduce((s, p) => s + (p.type === 0 ? p.volume : -p.volume), 0);
      expect(Number(local.toFixed(2)), i.symbol).toBe(Number((net * 2).toFixed(2)));
    }
  }, 120_000);
});
