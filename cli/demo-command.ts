/**
 * `sigplane demo`: a whole copy-trading session on this machine. Starts a
 * server (embedded Postgres unless DATABASE_URL is set) that sends each
 * receiver license its copy settings, creates a subscription, allows
 * 127.0.0.1, issues three receiver licenses with different settings, then a
 * v2 master opens, modifies, partially and fully closes positions while
 * three receivers copy them onto paper broker accounts (client/copier.ts
 * over client/paper-broker.ts), printing every execution as it happens. One
 * receiver drops out and resumes midway from its position map: it misses
 * nothing and repeats nothing. At the end, a table per account: what it
 * holds against what the master holds, and whether any master position was
 * opened twice (exit status 1 when an account is wrong).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Copier, MasterClient, PaperBroker, ReceiverClient, copyRules, type CopyExecution, type PaperSymbol } from '@sigplane/client';
import { SigplaneServer } from '../io/server';
import { ReceiverSettingsStore } from '../persistence/pg/receiver-settings-store';
import { parseToken } from '../persistence/pg/tokens';
import type { CopySettings } from '@sigplane/protocol';
import { parseCommand, UsageError, type CommandSpec } from './args';
import { openContext } from './context';
import { lockDataFolder } from './data-folder-lock';
import { log } from './log';

const { filterReason, localOrderType, localStops, mapSymbol, sizeVolume, targetVolume } = copyRules;

const spec: CommandSpec = {
  usage: 'sigplane demo [options]',
  summary: 'Start a server, a master and three copying receivers on paper accounts, and show every execution.',
  options: {
    signals: { type: 'string', help: 'how many signals the master sends', default: '30' },
    'interval-ms': { type: 'string', help: 'pause between signals', default: '150' },
    data: { type: 'string', help: 'data folder (default: a new temporary one)' },
  },
};

interface Instrument {
  symbol: string;
  digits: number;
  tickSize: number;
  tickValue: number;
  pip: number;
  start: number;
  spreadPoints: number;
}

const instruments: Instrument[] = [
  { symbol: 'EURUSD', digits: 5, tickSize: 0.00001, tickValue: 1, pip: 0.0001, start: 1.08765, spreadPoints: 10 },
  { symbol: 'USDJPY', digits: 3, tickSize: 0.001, tickValue: 0.64, pip: 0.01, start: 157.123, spreadPoints: 12 },
  { symbol: 'XAUUSD', digits: 2, tickSize: 0.01, tickValue: 1, pip: 0.1, start: 2650.5, spreadPoints: 25 },
  { symbol: 'GBPUSD', digits: 5, tickSize: 0.00001, tickValue: 1, pip: 0.0001, start: 1.27012, spreadPoints: 12 },
];

/** The three subscribers: each its own account size and copy settings (stored as `sigplane receiver-settings set` does). */
const accounts: { name: string; balance: number; patch: Record<string, unknown>; describe: string }[] = [
  { name: 'alice', balance: 50_000, patch: { symbolSuffix: '.m', lotMode: 'MULTIPLIER', lotValue: 2 }, describe: 'lots x2, symbols with suffix .m' },
  { name: 'bob', balance: 10_000, patch: { lotMode: 'FIXED', lotValue: 0.1, reverse: true, symbolMap: { XAUUSD: 'GOLD' } }, describe: '0.1 lots fixed, reversed, XAUUSD as GOLD' },
  { name: 'carol', balance: 25_000, patch: { lotMode: 'EQUITY_RATIO', lotValue: 1, masterEquity: 100_000 }, describe: 'equity ratio 25k / 100k' },
];

const sideName = (side: 0 | 1): string => (side === 0 ? 'BUY' : 'SELL');

/** The volumes the master's opens cycle through. */
const openVolumes = [0.3, 0.5, 0.2, 0.4, 0.15, 0.25];
/** How long the closing summary waits for the server's acks of the last execution reports. */
const reportsAckWaitMs = 5_000;

/** A tiny seeded generator (the demo replays the same fills every run; socket timing aside). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface MasterPosition {
  id: string;
  symbol: string;
  side: 0 | 1;
  volume: number;
  stopLoss: number;
  takeProfit: number;
}

/** One subscriber's side: a paper account that outlives its copier and client (a process that stops and starts again). */
class Account {
  copier: Copier | null = null;
  client: ReceiverClient | null = null;
  readonly broker: PaperBroker;
  readonly mapFile: string;

  constructor(
    readonly name: string,
    readonly token: string,
    readonly settings: CopySettings,
    balance: number,
    dataDir: string,
    private readonly say: (line: string) => void,
  ) {
    const random = lcg(name.length * 7919 + name.charCodeAt(0));
    const symbols: PaperSymbol[] = instruments.map((i) => ({
      symbol: mapSymbol(settings, i.symbol),
      digits: i.digits,
      volumeMin: 0.01,
      volumeMax: 50,
      volumeStep: 0.01,
      tickSize: i.tickSize,
      tickValue: i.tickValue,
      spreadPoints: i.spreadPoints,
    }));
    this.broker = new PaperBroker({ symbols, balance, random, slippagePointsMax: 3 });
    this.mapFile = path.join(dataDir, `demo-copier-${name}.json`);
    fs.rmSync(this.mapFile, { force: true });
  }

  /** A copier over the account's position map (resuming where it stopped) and a client; `ready` runs before connecting. */
  async start(url: string, ready?: (copier: Copier) => void): Promise<void> {
    const copier = Copier.open({ broker: this.broker, mapFile: this.mapFile, currency: 'USD' });
    ready?.(copier);
    const client = new ReceiverClient();
    client.on('error', () => undefined); // the demo shows executions; reconnects are the client's business
    copier.on('execution', (e: CopyExecution) => this.print(e));
    copier.reportTo(client);
    this.copier = copier;
    this.client = client;
    await client.connect(url, this.token, copier.receiverOptions());
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.close();
  }

  private print(e: CopyExecution): void {
    const who = `  ${this.name.padEnd(6)} #${String(e.sequence).padStart(3)}`;
    if (e.kind === 'skip') {
      this.say(`${who} skip   master ${e.masterPositionId}: ${e.reason}`);
      return;
    }
    // The account's own record of the ticket: its symbol and side.
    let fill = null;
    for (const x of this.broker.executions) if (x.ticket === e.ticket) fill = x;
    const symbol = fill?.symbol ?? '?';
    const side = fill === null ? '' : sideName(fill.orderType);
    if (e.kind === 'modify') {
      this.say(`${who} modify ${symbol} ${side} stops moved`);
      return;
    }
    const price = e.price === null ? '' : ` @ ${e.price}`;
    const slippage = e.slippagePips === null ? '' : `, slippage ${e.slippagePips.toFixed(1)} pips`;
    const profit = e.profit === null ? '' : `, profit ${e.profit.toFixed(2)} USD`;
    this.say(`${who} ${e.kind.padEnd(6)} ${symbol} ${side} ${e.volume.toFixed(2)}${price}${slippage}${profit}`);
  }
}

type Say = (line: string) => void;

/** The server the demo runs and what it runs on: a data folder held, a database, the settings store. */
interface DemoServer {
  server: SigplaneServer;
  context: Awaited<ReturnType<typeof openContext>>;
  settingsStore: ReceiverSettingsStore;
  release(): void;
  /** ws://127.0.0.1:port */
  base: string;
}

/** What the master did: the positions it still holds, the last sequence, the summed publish-to-ack time. */
interface MasterSession {
  book: Map<string, MasterPosition>;
  lastSequence: number;
  ackTotalMs: number;
}

export async function demoCommand(argv: string[]): Promise<void> {
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const count = Number(values.signals);
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new UsageError('--signals must be 1..100000');
  if (!(intervalMs >= 0)) throw new UsageError('--interval-ms must be >= 0');
  const dataDir = (values.data as string | undefined) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-demo-'));
  const say: Say = (line) => void process.stdout.write(`${line}\n`);

  const demo = await startDemoServer(dataDir);
  say(`server on ${demo.base} (data in ${demo.context.dataDir})`);
  const receiverUrl = `${demo.base}/v1/receiver`;
  const created = await demo.context.store.createSubscription({ name: 'demo' });
  await demo.context.store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  say(`subscription ${created.subscriptionId}, MAC key ${created.macKeyId}`);
  const team = await issueAccounts(demo, created.subscriptionId, say);
  for (const account of team) await account.start(receiverUrl);

  const master = new MasterClient();
  await master.connect(`${demo.base}/v1/master`, created.masterToken, {
    signing: { version: 2, keyId: created.macKeyId, key: Buffer.from(created.macSecretHex, 'hex') },
  });
  const session = await runMasterSession(master, team, receiverUrl, count, intervalMs, say);
  for (const account of team) await account.client!.waitFor(session.lastSequence, 15_000);

  const prefix = `sp:${created.subscriptionId.replace(/-/g, '').slice(0, 6)}:`;
  printHoldings(team, session.book, prefix, say);
  printVerdicts(team, session.book, prefix, say);
  await printReportsAcked(team, say);
  say(`mean publish-to-ack round trip: ${(session.ackTotalMs / count).toFixed(2)} ms (includes the journal commit)`);
  await master.close();
  for (const account of team) await account.stop();
  await demo.server.stop();
  await demo.context.close();
  demo.release();
}

/** Start-up: hold the data folder, open the database, start a server that sends each receiver license its copy settings. */
async function startDemoServer(dataDir: string): Promise<DemoServer> {
  const lock = lockDataFolder(dataDir, 'sigplane demo');
  const context = await openContext(dataDir);
  // Copy settings of each receiver license, sent on subscribe and on change (as `sigplane serve` wires them).
  const settingsStore = new ReceiverSettingsStore(context.database.pool);
  const server = new SigplaneServer({
    host: '127.0.0.1',
    port: 0,
    shardCount: 1,
    dataDir: context.dataDir,
    journalSync: 'full',
    authenticator: context.store,
    tokenHash: (token) => parseToken(token)?.hash ?? null,
    databaseReady: async () => true,
    receiverSettings: (tokenId) => settingsStore.load(tokenId),
    log,
  });
  await server.start();
  return { server, context, settingsStore, release: () => lock.release(), base: `ws://127.0.0.1:${server.port}` };
}

/** A receiver license per account, its copy settings stored, and its paper account at the instruments' start prices. */
async function issueAccounts(demo: DemoServer, subscriptionId: string, say: Say): Promise<Account[]> {
  const team: Account[] = [];
  for (const a of accounts) {
    const { token, tokenId } = await demo.context.store.issueReceiverToken(subscriptionId, { label: a.name });
    const stored = await demo.settingsStore.update(tokenId, a.patch, { metadata: { via: 'demo' } });
    const account = new Account(a.name, token, stored.settings, a.balance, demo.context.dataDir, say);
    for (const i of instruments) account.broker.setMid(mapSymbol(stored.settings, i.symbol), i.start);
    say(`${a.name.padEnd(6)} ${a.balance} USD account, ${a.describe} (settings revision ${stored.revision})`);
    team.push(account);
  }
  return team;
}

/**
 * The master's session: `count` signals (opens, stop moves, partial and full
 * closes) as the market moves; bob drops out after a third of them and
 * resumes from his position map after two thirds.
 */
async function runMasterSession(master: MasterClient, team: Account[], receiverUrl: string, count: number, intervalMs: number, say: Say): Promise<MasterSession> {
  const mids = new Map(instruments.map((i) => [i.symbol, i.start]));
  const book = new Map<string, MasterPosition>();
  const counter = { nextPosition: 1 };
  let ackTotalMs = 0;
  let lastSequence = 0;
  const bob = team[1]!;
  for (let i = 0; i < count; i++) {
    moveMarket(i, mids, team);
    const started = performance.now();
    const { published, what } = await publishStep(master, i, book, mids, counter);
    ackTotalMs += performance.now() - started;
    lastSequence = published.sequence;
    say(`master #${published.sequence} ${what} -> ${published.status}`);

    if (i === Math.floor(count / 3)) {
      say('  (bob disconnects)');
      await bob.stop();
    }
    if (i === Math.floor((2 * count) / 3)) {
      await bob.start(receiverUrl, (copier) => say(`  (bob reconnects and resumes after #${copier.lastSequence ?? 0}, the last signal his account executed)`));
    }
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
  }
  if (bob.client === null) await bob.start(receiverUrl);
  return { book, lastSequence, ackTotalMs };
}

/** The market moves a little at step `i` (well inside the server's 50 pip price guard), on every account. */
function moveMarket(i: number, mids: Map<string, number>, team: Account[]): void {
  for (const [n, inst] of instruments.entries()) {
    const mid = Number((mids.get(inst.symbol)! + ((((i + 3) * (n + 5) * 7) % 11) - 5) * 0.4 * inst.pip).toFixed(inst.digits));
    mids.set(inst.symbol, mid);
    for (const account of team) account.broker.setMid(mapSymbol(account.settings, inst.symbol), mid);
  }
}

/** Step `i` of the master: an open while it holds fewer than three (and every fourth step), else a stop move, a partial close or a close. */
async function publishStep(
  master: MasterClient,
  i: number,
  book: Map<string, MasterPosition>,
  mids: Map<string, number>,
  counter: { nextPosition: number },
): Promise<{ published: { sequence: number; status: string }; what: string }> {
  const open = [...book.values()];
  const step = i % 4;
  if (open.length < 3 || step === 0) {
    const inst = instruments[i % instruments.length]!;
    const mid = mids.get(inst.symbol)!;
    const side = (i % 3 === 1 ? 1 : 0) as 0 | 1;
    const dir = side === 0 ? 1 : -1;
    const p: MasterPosition = {
      id: String(counter.nextPosition++),
      symbol: inst.symbol,
      side,
      volume: openVolumes[i % openVolumes.length]!,
      stopLoss: Number((mid - dir * 40 * inst.pip).toFixed(inst.digits)),
      takeProfit: Number((mid + dir * 80 * inst.pip).toFixed(inst.digits)),
    };
    const published = await master.publish({ symbol: p.symbol, orderType: side, volume: p.volume, price: mid, action: 1, positionId: p.id, stopLoss: p.stopLoss, takeProfit: p.takeProfit });
    book.set(p.id, p);
    return { published, what: `OPEN ${p.symbol} ${sideName(side)} ${p.volume} (position ${p.id})` };
  }
  const p = step === 2 ? (open.find((x) => x.volume >= 0.2) ?? open[0]!) : open[0]!;
  const inst = instruments.find((x) => x.symbol === p.symbol)!;
  const mid = mids.get(p.symbol)!;
  const base = { symbol: p.symbol, orderType: p.side, price: mid, positionId: p.id };
  if (step === 1) {
    const dir = p.side === 0 ? 1 : -1;
    p.stopLoss = Number((mid - dir * 25 * inst.pip).toFixed(inst.digits));
    p.takeProfit = Number((mid + dir * 60 * inst.pip).toFixed(inst.digits));
    const published = await master.publish({ ...base, volume: p.volume, action: 2, stopLoss: p.stopLoss, takeProfit: p.takeProfit });
    return { published, what: `MODIFY position ${p.id} stops` };
  }
  if (step === 2 && p.volume >= 0.2) {
    const part = Number((Math.round(p.volume * 50) / 100).toFixed(2));
    const published = await master.publish({ ...base, volume: part, action: 4, stopLoss: p.stopLoss, takeProfit: p.takeProfit });
    p.volume = Number((p.volume - part).toFixed(2));
    return { published, what: `PARTIAL_CLOSE position ${p.id} ${part} of it (${p.volume} left)` };
  }
  const published = await master.publish({ ...base, volume: p.volume, action: 3 });
  book.delete(p.id);
  return { published, what: `CLOSE position ${p.id} ${p.symbol}` };
}

/** The closing table: each position the master holds, and what each account holds for it. */
function printHoldings(team: Account[], book: Map<string, MasterPosition>, prefix: string, say: Say): void {
  say('');
  say(`master holds ${book.size} position(s):`);
  const cell = (text: string): string => text.padEnd(24);
  say(`  ${cell('master')}${team.map((a) => cell(a.name)).join('')}`);
  for (const p of book.values()) {
    const row = team.map((a) => {
      const mine = a.broker.snapshotPositions().filter((h) => h.comment === `${prefix}${p.id}`);
      return cell(mine.length === 0 ? '-' : mine.map((h) => `${h.symbol} ${sideName(h.orderType)} ${h.volume}`).join(' + '));
    });
    say(`  ${cell(`#${p.id} ${p.symbol} ${sideName(p.side)} ${p.volume}`)}${row.join('')}`);
  }
  say('');
}

/** Per account: does it hold the master's positions under its settings, and was no master position opened twice? Exit status 1 when not. */
function printVerdicts(team: Account[], book: Map<string, MasterPosition>, prefix: string, say: Say): void {
  for (const account of team) {
    const problems = checkAccount(account, book, prefix);
    const opens = new Map<string, number>();
    for (const x of account.broker.executions) if (x.kind === 'open') opens.set(x.comment, (opens.get(x.comment) ?? 0) + 1);
    const twice = [...opens].filter(([, n]) => n > 1).map(([comment]) => comment);
    if (problems.length > 0 || twice.length > 0) process.exitCode = 1;
    say(
      `${account.name}: holds the master's ${book.size} position(s) under its settings: ${problems.length === 0 ? 'yes' : `NO (${problems.join('; ')})`}; ` +
        `no master position opened twice: ${twice.length === 0 ? 'yes' : `NO (${twice.join(', ')})`}`,
    );
  }
}

/** Execution reports: the server acks each one it journaled (waited for up to reportsAckWaitMs). */
async function printReportsAcked(team: Account[], say: Say): Promise<void> {
  const until = Date.now() + reportsAckWaitMs;
  while (team.some((a) => a.client!.unackedReportCount > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  say(`execution reports acked by the server: ${team.map((a) => `${a.name} ${a.client!.counters.reportsAcked}`).join(', ')} (bob's since he reconnected)`);
}

/** What the account holds against the master's book under its settings; empty when it is exactly right. */
function checkAccount(account: Account, book: Map<string, MasterPosition>, prefix: string): string[] {
  const problems: string[] = [];
  const settings = account.settings;
  const held = account.broker.snapshotPositions();
  const copies = new Map(account.copier!.positions.map((e) => [e.masterPositionId, e]));
  for (const h of held) {
    if (!h.comment.startsWith(prefix) || !book.has(h.comment.slice(prefix.length))) problems.push(`${h.symbol} ${h.volume} copies nothing the master holds`);
  }
  for (const p of book.values()) {
    const mine = held.filter((h) => h.comment === `${prefix}${p.id}`);
    const entry = copies.get(p.id);
    if (filterReason(settings, p.symbol, '0') !== null || entry?.status === 'SKIPPED') {
      if (mine.length > 0) problems.push(`#${p.id} is held though not copied`);
      continue;
    }
    if (entry === undefined || mine.length !== 1) {
      problems.push(`#${p.id}: ${mine.length} copies`);
      continue;
    }
    const h = mine[0]!;
    const symbolSpec = account.broker.symbolSpec(h.symbol)!;
    const stops = localStops(settings, p.stopLoss, p.takeProfit);
    if (h.symbol !== mapSymbol(settings, p.symbol)) problems.push(`#${p.id}: symbol ${h.symbol}`);
    if (h.orderType !== localOrderType(settings, p.side)) problems.push(`#${p.id}: side ${sideName(h.orderType)}`);
    if (h.stopLoss !== stops.stopLoss || h.takeProfit !== stops.takeProfit) problems.push(`#${p.id}: stops ${h.stopLoss}/${h.takeProfit}`);
    if (h.volume !== targetVolume(entry.localOpenVolume, entry.masterOpenVolume, p.volume, settings, symbolSpec)) problems.push(`#${p.id}: volume ${h.volume}`);
    // Opened with the settings' size (equity ratio: with the equity of that moment, not checked here).
    if (settings.lotMode !== 'EQUITY_RATIO') {
      const sized = sizeVolume(settings, { volume: entry.masterOpenVolume, price: 0, stopLoss: 0 }, symbolSpec, 0);
      if (!sized.ok || sized.volume !== entry.localOpenVolume) problems.push(`#${p.id}: opened with ${entry.localOpenVolume}`);
    }
  }
  return problems;
}
