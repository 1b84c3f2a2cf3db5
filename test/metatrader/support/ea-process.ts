/**
 * One EA of the C++ build in its simulated terminal (mql5/cpp/terminal-loop.cpp)
 * as a child process: commands on stdin, JSON lines on stdout (replies,
 * the EA's logs, events). The paper account lives in `terminalFile`, the
 * EA's state in `filesDir`: both outlive the process, so a test can kill
 * it with SIGKILL and start it again on the same account and state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PaperSymbol } from '../../../client/paper-broker';

/** A symbol of the paper account: the TypeScript paper broker's specification, the same fields. */
export type EaSymbol = PaperSymbol;

export interface EaOptions {
  binary: string;
  terminalFile: string;
  filesDir: string;
  symbols: EaSymbol[];
  inputs: Record<string, string | number>;
  netting?: boolean;
  balance?: number;
  seed?: number;
  requote?: number;
  slippage?: number;
  login?: number;
  caFile?: string;
  /** Name in failure messages. */
  name: string;
}

export type EaLine = Record<string, unknown> & { log?: string; code?: string; msg?: string; reply?: string; event?: string };

export interface PaperDeal {
  ticket: number;
  order_ticket: number;
  position: number;
  symbol: string;
  type: number;
  entry: string;
  volume: number;
  price: number;
  profit: number;
  comment: string;
}

export interface PaperPosition {
  ticket: number;
  symbol: string;
  type: number;
  volume: number;
  price_open: number;
  sl: number;
  tp: number;
  magic: string;
  comment: string;
}

export class EaProcess {
  readonly lines: EaLine[] = [];
  private child: ChildProcess | null = null;
  private buffer = '';
  private stderr = '';
  private exit: Promise<number | null> = Promise.resolve(null);
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  starts = 0;

  constructor(readonly options: EaOptions) {}

  get running(): boolean {
    return this.child !== null;
  }

  /** Start the process (again); resolves once OnInit succeeded. */
  async start(): Promise<void> {
    const o = this.options;
    const args = ['--terminal', o.terminalFile, '--balance', String(o.balance ?? 10_000), '--seed', String(o.seed ?? 1), '--login', String(o.login ?? 1000001)];
    if (o.netting) args.push('--netting');
    if (o.requote !== undefined) args.push('--requote', String(o.requote));
    if (o.slippage !== undefined) args.push('--slippage', String(o.slippage));
    for (const s of o.symbols) {
      args.push('--symbol', [s.symbol, s.digits, s.volumeMin, s.volumeMax, s.volumeStep, s.tickValue, s.tickSize, s.spreadPoints].join(','));
    }
    for (const [k, v] of Object.entries(o.inputs)) args.push('--input', `${k}=${v}`);
    const child = spawn(o.binary, args, {
      env: { ...process.env, SIGPLANE_EA_FILES: o.filesDir, SIGPLANE_EA_CA_FILE: o.caFile ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    const from = this.lines.length;
    // A command written as the process dies (it was told to die at a fill) is lost, as it would be.
    child.stdin!.on('error', () => undefined);
    child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exit = new Promise((resolve) => {
      child.once('exit', (code) => {
        if (this.child === child) this.child = null;
        this.wake();
        resolve(code);
      });
    });
    await this.waitLine((l) => l.event === 'ready' || l.event === 'init-failed', 20_000, from);
    const last = this.lines.slice(from).find((l) => l.event === 'ready' || l.event === 'init-failed');
    if (last?.event !== 'ready') throw new Error(`${o.name} did not start: ${this.describe(from)}`);
  }

  /** Start, then wait for the server's Welcome (a provider attaches the EA, sees it connected, then trades). */
  async startWelcomed(): Promise<void> {
    await this.start();
    await this.waitStatus('the first welcome', (s) => s.welcomed === true);
  }

  private onData(text: string): void {
    this.buffer += text;
    let at: number;
    while ((at = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 1);
      if (line.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(line) as EaLine);
      } catch {
        this.lines.push({ raw: line });
      }
    }
    this.wake();
  }

  private wake(): void {
    const still = this.waiters.filter((w) => !w.check());
    for (const w of this.waiters) if (!still.includes(w)) w.resolve();
    this.waiters = still;
  }

  /** The last lines, for failure messages. */
  describe(from = 0): string {
    // Status replies are what a wait polls with; the lines worth reading are the others, and the last status.
    const lines = this.lines.slice(from);
    const others = lines.filter((l) => l.reply !== 'status').slice(-40);
    const lastStatus = [...lines].reverse().find((l) => l.reply === 'status');
    const shown = lastStatus === undefined ? others : [...others, lastStatus];
    return `${shown.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${this.stderr.slice(-2000)}`;
  }

  waitLine(check: (l: EaLine) => boolean, timeoutMs = 20_000, from = 0): Promise<EaLine> {
    return new Promise((resolve, reject) => {
      const find = () => this.lines.slice(from).find(check);
      const found = find();
      if (found !== undefined) return resolve(found);
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.options.name}: timed out waiting for a line\n${this.describe()}`));
      }, timeoutMs);
      const waiter = {
        check: () => find() !== undefined || this.child === null,
        resolve: () => {
          clearTimeout(timer);
          const line = find();
          if (line !== undefined) resolve(line);
          else reject(new Error(`${this.options.name} exited while waiting\n${this.describe()}`));
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Send a command and wait for its reply. */
  async request(command: string, timeoutMs = 20_000): Promise<EaLine> {
    if (this.child === null) throw new Error(`${this.options.name} is not running`);
    const from = this.lines.length;
    const name = command.split(' ')[0];
    this.child.stdin!.write(command + '\n');
    return this.waitLine((l) => l.reply === name, timeoutMs, from);
  }

  /** Send a command without waiting (it may kill the process). */
  send(command: string): void {
    this.child?.stdin!.write(command + '\n');
  }

  async status(): Promise<EaLine> {
    return this.request('status');
  }

  /** Poll `status` until `check` holds. */
  async waitStatus(what: string, check: (s: EaLine) => boolean, timeoutMs = 30_000): Promise<EaLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status();
      if (check(s)) return s;
      if (Date.now() > until) throw new Error(`${this.options.name}: timed out waiting for ${what}: ${JSON.stringify(s)}\n${this.describe()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** `quit`: OnDeinit, then the process exits. */
  async stop(): Promise<void> {
    if (this.child === null) return;
    this.child.stdin!.write('quit\n');
    await this.exited();
  }

  async kill9(): Promise<void> {
    if (this.child === null) return;
    this.child.kill('SIGKILL');
    await this.exited();
  }

  async exited(): Promise<number | null> {
    return this.exit;
  }

  logs(code: string): EaLine[] {
    return this.lines.filter((l) => l.code === code);
  }

  /** The paper account's fills, read from its file (a reader beside the running process). */
  deals(): PaperDeal[] {
    return this.readTerminal<PaperDeal>('SELECT * FROM deals ORDER BY ticket');
  }

  positions(): PaperPosition[] {
    return this.readTerminal<PaperPosition>('SELECT * FROM positions ORDER BY ticket');
  }

  private readTerminal<T>(sql: string): T[] {
    const db = new Database(this.options.terminalFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  stateFile(kind: 'master' | 'receiver', instance = ''): string {
    return path.join(this.options.filesDir, `sigplane-${kind}-${this.options.login ?? 1000001}${instance === '' ? '' : `-${instance}`}.sqlite`);
  }
}
