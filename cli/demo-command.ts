/**
 * `sigplane demo`: a whole copy-trading session on this machine. Starts a
 * server (embedded Postgres unless DATABASE_URL is set), creates a
 * subscription, allows 127.0.0.1, issues three receiver licenses, then a
 * v2 master opens, modifies and closes positions while three receivers
 * print what they execute. One receiver drops out and resumes midway, to
 * show that it misses nothing and repeats nothing.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { MasterClient, ReceiverClient } from '../client';
import { SigplaneServer } from '../io/server';
import { parseToken } from '../persistence/pg/tokens';
import { parseCommand, UsageError, type CommandSpec } from './args';
import { openContext } from './context';
import { log } from './log';

const spec: CommandSpec = {
  usage: 'sigplane demo [options]',
  summary: 'Start a server, a master and three receivers, and show signals flowing.',
  options: {
    signals: { type: 'string', help: 'how many signals the master sends', default: '30' },
    'interval-ms': { type: 'string', help: 'pause between signals', default: '150' },
    data: { type: 'string', help: 'data folder (default: a new temporary one)' },
  },
};

const symbols = ['EURUSD', 'USDJPY', 'XAUUSD', 'GBPUSD'] as const;
const prices: Record<string, number> = { EURUSD: 1.08765, USDJPY: 157.123, XAUUSD: 2650.5, GBPUSD: 1.27012 };

export async function demoCommand(argv: string[]): Promise<void> {
  const values = parseCommand(spec, argv);
  if (values === null) return;
  const count = Number(values.signals);
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new UsageError('--signals must be 1..100000');
  if (!(intervalMs >= 0)) throw new UsageError('--interval-ms must be >= 0');
  const dataDir = (values.data as string | undefined) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sigplane-demo-'));

  const context = await openContext(dataDir);
  const server = new SigplaneServer({
    host: '127.0.0.1',
    port: 0,
    shardCount: 1,
    dataDir: context.dataDir,
    journalSync: 'full',
    authenticator: context.store,
    tokenHash: (token) => parseToken(token)?.hash ?? null,
    databaseReady: async () => true,
    log,
  });
  await server.start();
  const base = `ws://127.0.0.1:${server.port}`;
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say(`server on ${base} (data in ${context.dataDir})`);

  const created = await context.store.createSubscription({ name: 'demo' });
  await context.store.addAllowedIp(created.subscriptionId, '127.0.0.1', {});
  say(`subscription ${created.subscriptionId}, MAC key ${created.macKeyId}`);

  const receivers: ReceiverClient[] = [];
  const executed = new Map<string, number[]>();
  for (const name of ['alice', 'bob', 'carol']) {
    const { token } = await context.store.issueReceiverToken(created.subscriptionId, { label: name });
    const receiver = new ReceiverClient();
    executed.set(name, []);
    await receiver.connect(`${base}/v1/receiver`, token, {
      lastSequence: 0,
      onSignal: (d) => {
        executed.get(name)!.push(d.sequenceNumber);
        const s = d.signal;
        say(`  ${name.padEnd(6)} executes #${String(d.sequenceNumber).padStart(3)} ${actionName(s.action)} ${s.symbol} ${s.volume} @ ${s.price}`);
      },
      onSnapshot: (snap) => say(`  ${name.padEnd(6)} resyncs to #${snap.sequenceNumber} with ${snap.positions.length} positions`),
    });
    receivers.push(receiver);
  }

  const master = new MasterClient();
  await master.connect(`${base}/v1/master`, created.masterToken, {
    signing: { version: 2, keyId: created.macKeyId, key: Buffer.from(created.macSecretHex, 'hex') },
  });
  const open: { id: number; symbol: string }[] = [];
  let nextPosition = 1;
  let ackTotalMs = 0;
  for (let i = 0; i < count; i++) {
    const symbol = symbols[i % symbols.length]!;
    const price = prices[symbol]!;
    const closing = open.length > 2 && i % 3 === 2;
    const position = closing ? open.shift()! : { id: nextPosition++, symbol };
    const started = performance.now();
    const result = await master.publish({
      symbol: position.symbol,
      orderType: 0,
      volume: 0.1,
      price: prices[position.symbol]!,
      action: closing ? 3 : 1,
      positionId: String(position.id),
      stopLoss: closing ? 0 : price * 0.99,
      takeProfit: closing ? 0 : price * 1.01,
    });
    ackTotalMs += performance.now() - started;
    if (!closing) open.push(position);
    say(`master #${result.sequence} ${closing ? 'CLOSE' : 'OPEN'} ${position.symbol} -> ${result.status}`);
    if (i === Math.floor(count / 3)) {
      say('  (bob disconnects)');
      await receivers[1]!.close();
    }
    if (i === Math.floor((2 * count) / 3)) {
      say('  (bob reconnects and resumes from his last executed signal)');
      const { token } = await context.store.issueReceiverToken(created.subscriptionId, { label: 'bob-again' });
      const bob = new ReceiverClient();
      const last = executed.get('bob')!.at(-1) ?? 0;
      await bob.connect(`${base}/v1/receiver`, token, {
        lastSequence: last,
        onSignal: (d) => {
          executed.get('bob')!.push(d.sequenceNumber);
          say(`  bob    executes #${String(d.sequenceNumber).padStart(3)} (resumed)`);
        },
        onSnapshot: () => undefined,
      });
      receivers[1] = bob;
    }
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
  }
  for (const receiver of receivers) await receiver.waitFor(count, 10_000);
  say('');
  for (const [name, seqs] of executed) {
    const inOrder = seqs.every((s, i) => s === i + 1);
    say(`${name}: executed ${seqs.length} signals, each once and in order: ${inOrder && seqs.length === count ? 'yes' : 'NO'}`);
  }
  say(`mean publish-to-ack round trip: ${(ackTotalMs / count).toFixed(2)} ms (includes the journal commit)`);
  await master.close();
  for (const receiver of receivers) await receiver.close();
  await server.stop();
  await context.close();
}

function actionName(action: number): string {
  return ['NETTING', 'OPEN', 'MODIFY', 'CLOSE', 'PARTIAL_CLOSE'][action] ?? `ACTION_${action}`;
}
