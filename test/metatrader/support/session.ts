/**
 * What the MetaTrader tests share: the market (three instruments as the
 * TypeScript paper session has them), EA processes wired to a test server
 * (master and receivers, each on its own paper account and state folder),
 * a seeded master trading session driven through the master's terminal,
 * and the comparison of accounts by copy key.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mapSymbol } from '../../../client/copy-rules';
import type { PaperSymbol } from '../../../client/paper-broker';
import { startShipper } from '../../../persistence/shipper/shipper';
import type { CopySettings } from '@sigplane/protocol';
import { startTestServer, type TestServer } from '../../support/test-server';
import { eaBinaries } from './ea-build';
import { EaProcess, type EaSymbol } from './ea-process';

export interface Instrument {
  symbol: string;
  digits: number;
  tickSize: number;
  tickValue: number;
  pip: number;
  start: number;
}

export const instruments: Instrument[] = [
  { symbol: 'EURUSD', digits: 5, tickSize: 0.00001, tickValue: 1, pip: 0.0001, start: 1.1 },
  { symbol: 'USDJPY', digits: 3, tickSize: 0.001, tickValue: 0.67, pip: 0.01, start: 150 },
  { symbol: 'XAUUSD', digits: 2, tickSize: 0.01, tickValue: 1, pip: 0.1, start: 2400 },
];

/** A receiver account's symbols: the master's, mapped by the settings, with per-symbol overrides. */
export function accountSymbols(settings: CopySettings | null, overrides: Record<string, Partial<EaSymbol>> = {}, spreadPoints = 12): EaSymbol[] {
  return instruments.map((i) => ({
    symbol: settings === null ? i.symbol : mapSymbol(settings, i.symbol),
    digits: i.digits,
    volumeMin: 0.01,
    volumeMax: 50,
    volumeStep: 0.01,
    tickValue: i.tickValue,
    tickSize: i.tickSize,
    spreadPoints,
    ...overrides[i.symbol],
  }));
}

export function paperSymbols(symbols: EaSymbol[]): PaperSymbol[] {
  return symbols.map((s) => ({ ...s }));
}

export interface EaEndpoint {
  masterUrl: string;
  receiverUrl: string;
}

let logins = 5_000_000;

export function masterEa(dir: string, server: EaEndpoint, sub: { masterToken: string; macKeyId: string; macSecretHex: string }, extra: Partial<ConstructorParameters<typeof EaProcess>[0]> = {}, inputs: Record<string, string | number> = {}): EaProcess {
  fs.mkdirSync(dir, { recursive: true });
  return new EaProcess({
    name: 'master',
    binary: eaBinaries().master,
    terminalFile: path.join(dir, 'master-terminal.sqlite'),
    filesDir: dir,
    symbols: accountSymbols(null, {}, 0),
    login: logins++,
    inputs: { ServerUrl: server.masterUrl, MasterToken: sub.masterToken, KeyId: sub.macKeyId, MacSecret: sub.macSecretHex, TimerMs: 5, ...inputs },
    ...extra,
  });
}

export function receiverEa(name: string, dir: string, server: EaEndpoint, token: string, symbols: EaSymbol[], extra: Partial<ConstructorParameters<typeof EaProcess>[0]> = {}): EaProcess {
  fs.mkdirSync(dir, { recursive: true });
  return new EaProcess({
    name,
    binary: eaBinaries().receiver,
    terminalFile: path.join(dir, `${name}-terminal.sqlite`),
    filesDir: dir,
    symbols,
    login: logins++,
    inputs: { ServerUrl: server.receiverUrl, LicenseToken: token, TimerMs: 5 },
    ...extra,
  });
}

/** A held position as the comparison sees it: per copy key, what the account holds. */
export interface Holding {
  key: string;
  symbol: string;
  side: number;
  volume: number;
  stopLoss: number;
  takeProfit: number;
}

export function holdings(positions: { comment: string; symbol: string; type?: number; orderType?: number; volume: number; sl?: number; tp?: number; stopLoss?: number; takeProfit?: number }[]): Holding[] {
  return positions
    .map((p) => ({
      key: p.comment,
      symbol: p.symbol,
      side: p.type ?? p.orderType ?? -1,
      volume: Number(p.volume.toFixed(8)),
      stopLoss: p.sl ?? p.stopLoss ?? 0,
      takeProfit: p.tp ?? p.takeProfit ?? 0,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.volume - b.volume));
}

/** Per copy key: how many times an account opened it (a fill with entry 'in' and that comment). */
export function opensByKey(deals: { entry: string; comment: string }[]): Map<string, number> {
  const opens = new Map<string, number>();
  for (const d of deals) if (d.entry === 'in') opens.set(d.comment, (opens.get(d.comment) ?? 0) + 1);
  return opens;
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface MasterHolding {
  ticket: number;
  symbol: string;
  side: 0 | 1;
  volume: number;
  stopLoss: number;
  takeProfit: number;
  magic: string;
}

interface Random {
  next(): number;
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/**
 * A seeded trading session on the master's paper terminal, as a trader
 * would make it: opens, stop changes, partial and full closes, at prices
 * that wander. The master EA sees them only through OnTradeTransaction.
 * `book` is the truth the receivers must end up with.
 */
export class MasterTrader {
  readonly book = new Map<number, MasterHolding>();
  readonly mids = new Map(instruments.map((i) => [i.symbol, i.start]));
  readonly counts = { open: 0, modify: 0, partial: 0, close: 0 };
  /** Every trade, in order: its kind and the master's ticket. */
  readonly trades: { kind: string; ticket: number }[] = [];

  constructor(
    private readonly master: () => EaProcess,
    private readonly random: Random,
    /** Each move of a mid price, to every account that quotes the symbol. */
    private readonly onMid: (symbol: string, mid: number) => Promise<void>,
  ) {}

  async moveMarket(): Promise<void> {
    for (const i of instruments) {
      const mid = Number((this.mids.get(i.symbol)! + (this.random.next() - 0.5) * 4 * i.pip).toFixed(i.digits));
      this.mids.set(i.symbol, mid);
      await this.master().request(`mid ${i.symbol} ${mid}`);
      await this.onMid(i.symbol, mid);
    }
  }

  /** One trade; its kind. The master's terminal fills at the mid (no spread, no slippage). */
  async step(opensMax = 12): Promise<string> {
    const open = [...this.book.values()];
    const roll = this.random.next();
    if (open.length === 0 || (roll < 0.35 && open.length < opensMax)) return this.openOne();
    return this.change(this.random.pick(open), roll);
  }

  /** Open one position. */
  async openOne(): Promise<string> {
    const i = this.random.pick(instruments);
    const side = this.random.chance(0.5) ? 0 : 1;
    const mid = this.mids.get(i.symbol)!;
    const dir = side === 0 ? 1 : -1;
    const volume = this.random.int(1, 150) / 100;
    const stopLoss = Number((mid - dir * this.random.int(20, 80) * i.pip).toFixed(i.digits));
    const takeProfit = Number((mid + dir * this.random.int(20, 160) * i.pip).toFixed(i.digits));
    const magic = this.random.pick(['7', '9']);
    const r = await this.master().request(`open ${i.symbol} ${side} ${volume} ${stopLoss} ${takeProfit} ${magic}`);
    if (r.ok !== true) throw new Error(`the master's open failed: ${JSON.stringify(r)}`);
    this.book.set(r.ticket as number, { ticket: r.ticket as number, symbol: i.symbol, side, volume, stopLoss, takeProfit, magic });
    this.counts.open++;
    this.trades.push({ kind: 'open', ticket: r.ticket as number });
    return 'open';
  }

  private async change(p: MasterHolding, roll: number): Promise<string> {
    const i = instruments.find((x) => x.symbol === p.symbol)!;
    const mid = this.mids.get(p.symbol)!;
    if (roll < 0.55) {
      const dir = p.side === 0 ? 1 : -1;
      const before = { stopLoss: p.stopLoss, takeProfit: p.takeProfit };
      p.stopLoss = Number((mid - dir * this.random.int(10, 60) * i.pip).toFixed(i.digits));
      p.takeProfit = Number((mid + dir * this.random.int(10, 120) * i.pip).toFixed(i.digits));
      // A change of stops to what they were is no change (and no signal): move the take profit a pip further.
      if (p.stopLoss === before.stopLoss && p.takeProfit === before.takeProfit) p.takeProfit = Number((p.takeProfit + dir * i.pip).toFixed(i.digits));
      const r = await this.master().request(`modify ${p.ticket} ${p.stopLoss} ${p.takeProfit}`);
      if (r.ok !== true) throw new Error(`the master's modify failed: ${JSON.stringify(r)}`);
      this.counts.modify++;
      this.trades.push({ kind: 'modify', ticket: p.ticket });
      return 'modify';
    }
    if (roll < 0.8 && p.volume >= 0.02) {
      const part = this.random.int(1, Math.round(p.volume * 100) - 1) / 100;
      const r = await this.master().request(`close ${p.ticket} ${part}`);
      if (r.ok !== true) throw new Error(`the master's partial close failed: ${JSON.stringify(r)}`);
      p.volume = Number((p.volume - part).toFixed(2));
      this.counts.partial++;
      this.trades.push({ kind: 'partial', ticket: p.ticket });
      return 'partial';
    }
    const r = await this.master().request(`close ${p.ticket}`);
    if (r.ok !== true) throw new Error(`the master's close failed: ${JSON.stringify(r)}`);
    this.book.delete(p.ticket);
    this.counts.close++;
    this.trades.push({ kind: 'close', ticket: p.ticket });
    return 'close';
  }
}

export interface EaTestBed {
  server: TestServer;
  /** A temporary folder for the EAs' accounts and state files. */
  dir: string;
  /** Run at close, last pushed first (EA processes, clients, pools). */
  closers: (() => Promise<void>)[];
  close(): Promise<void>;
}

/**
 * A real server sending receivers their settings, a temporary folder, and
 * (when execution reports must reach Postgres) the shipper `sigplane serve`
 * runs beside it.
 */
export async function startEaTestBed(name: string, options: { shardCount?: number; shipper?: boolean } = {}): Promise<EaTestBed> {
  eaBinaries(); // compiled now (once per version of the sources), in the hook rather than in a test
  const shardCount = options.shardCount ?? 2;
  const server = await startTestServer({ shardCount, receiverSettings: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sigplane-ea-${name}-`));
  const shipper =
    options.shipper === true
      ? startShipper({
          databaseUrl: server.databaseUrl,
          dataDir: server.dataDir,
          shardCount,
          nodeId: `ea-${name}-test`,
          limits: { shipIntervalMs: 20, shipRetryInitialMs: 50, shipRetryMaxMs: 400, shipReconnectMaxMs: 400, shipStatusIntervalMs: 30 },
        })
      : null;
  const closers: (() => Promise<void>)[] = [];
  return {
    server,
    dir,
    closers,
    async close() {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await shipper?.stop();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port nothing listens on now (for a proxy that must keep its address across a server restart). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
