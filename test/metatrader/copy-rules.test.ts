/**
 * The Receiver EA's copy rules (mql5/Include/Sigplane/CopyRules.mqh) against
 * client/copy-rules.ts on thousands of seeded random inputs: every lot mode,
 * bounds, steps, reverse, stop switches, filters, price deviation and
 * signal age. The answers must be identical, doubles bit for bit: the EA
 * and the TypeScript copier size every copy alike. Also the pip sizes of
 * proto/pip-size.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pipSize, copySettingsDefaults, type CopySettings, type LotMode } from '@sigplane/protocol';
import { planOpen, roundToStep, targetVolume, type SymbolSpec } from '../../client/copy-rules';
import { Prng } from '../support/prng';
import { bits } from './support/selftest';
import { eaBinaries, eaBuildTimeoutMs } from './support/ea-build';

// Compiled here (once per version of the sources) rather than inside a test's own timeout.
beforeAll(() => void eaBinaries(), eaBuildTimeoutMs);
import { selftest } from './support/selftest';

const lotModes: LotMode[] = ['FIXED', 'MULTIPLIER', 'EQUITY_RATIO', 'RISK_PERCENT'];
const lotModeNumber: Record<LotMode, number> = { FIXED: 1, MULTIPLIER: 2, EQUITY_RATIO: 3, RISK_PERCENT: 4 };

function randomSettings(r: Prng): CopySettings {
  const lotMode = r.pick(lotModes);
  const lotMin = r.chance(0.3) ? r.int(1, 50) / 100 : 0;
  return {
    ...copySettingsDefaults,
    symbolPrefix: r.chance(0.3) ? 'x' : '',
    symbolSuffix: r.chance(0.3) ? '.m' : '',
    lotMode,
    lotValue: lotMode === 'FIXED' ? r.int(1, 300) / 100 : lotMode === 'RISK_PERCENT' ? r.int(1, 50) / 10 : r.int(1, 400) / 100,
    masterEquity: lotMode === 'EQUITY_RATIO' ? r.int(1_000, 100_000) : 0,
    lotMin,
    lotMax: r.chance(0.3) ? lotMin + r.int(1, 200) / 100 : 0,
    reverse: r.chance(0.5),
    copyStopLoss: r.chance(0.7),
    copyTakeProfit: r.chance(0.7),
    priceDeviationPipsMax: r.chance(0.3) ? r.int(1, 30) : 0,
    signalAgeMsMax: r.chance(0.2) ? r.int(100, 5_000) : 0,
  };
}

function settingsArgs(s: CopySettings): string {
  return [
    lotModeNumber[s.lotMode],
    bits(s.lotValue),
    bits(s.masterEquity),
    bits(s.lotMin),
    bits(s.lotMax),
    s.reverse ? 1 : 0,
    s.copyStopLoss ? 1 : 0,
    s.copyTakeProfit ? 1 : 0,
    bits(s.priceDeviationPipsMax),
    s.signalAgeMsMax,
    s.symbolPrefix || '-',
    s.symbolSuffix || '-',
    s.magicsBlocked[0] ?? 0,
    s.symbolsAllowed[0] ?? '-',
  ].join(' ');
}

function randomSpec(r: Prng, symbol: string): SymbolSpec {
  const step = r.pick([0.01, 0.1, 1, 0.001]);
  const digits = r.pick([5, 3, 2]);
  return {
    symbol,
    digits,
    volumeMin: step * r.int(1, 5),
    volumeMax: r.pick([50, 100, 7.5]),
    volumeStep: step,
    tickValue: r.pick([1, 0.67, 10, 0.1]),
    tickSize: 10 ** -digits,
  };
}

function specArgs(s: SymbolSpec): string {
  return [s.digits, bits(s.volumeMin), bits(s.volumeMax), bits(s.volumeStep), bits(s.tickValue), bits(s.tickSize)].join(' ');
}

describe('copy rules: the EA against client/copy-rules.ts', () => {
  it('plans the same open (or the same skip) for 4,000 random master positions', () => {
    const r = new Prng(77_001);
    const cases: { line: string; expected: string }[] = [];
    for (let i = 0; i < 4000; i++) {
      const settings = randomSettings(r);
      const masterSymbol = r.pick(['EURUSD', 'USDJPY', 'XAUUSD', 'US30']);
      const orderType = r.chance(0.9) ? r.int(0, 1) : r.int(2, 8);
      const price = masterSymbol === 'XAUUSD' ? 2400 + r.next() * 10 : masterSymbol === 'USDJPY' ? 150 + r.next() : masterSymbol === 'US30' ? 39_000 + r.next() * 50 : 1.1 + r.next() / 100;
      const pip = pipSize(masterSymbol);
      const master = {
        symbol: masterSymbol,
        orderType,
        volume: r.int(1, 500) / 100,
        price,
        stopLoss: r.chance(0.8) ? price - (orderType === 0 ? 1 : -1) * r.int(5, 100) * pip : 0,
        takeProfit: r.chance(0.8) ? price + r.int(5, 200) * pip : 0,
        magic: r.pick(['0', '7', '9']),
      };
      if (r.chance(0.2)) settings.magicsBlocked = ['9'];
      if (r.chance(0.1)) settings.symbolsAllowed = ['EURUSD'];
      const spec = r.chance(0.95) ? randomSpec(r, 'X') : null;
      const quoteMove = (r.next() - 0.5) * 40 * pip;
      const quote = r.chance(0.95) ? { bid: price + quoteMove, ask: price + quoteMove + 2 * pip } : null;
      const equity = r.int(1_000, 200_000);
      const nowMs = 1_767_225_600_000;
      const generatedAtMs = r.chance(0.5) ? nowMs - r.int(0, 6_000) : null;
      const plan = planOpen({ settings, master, spec, quote, equity, generatedAtMs, nowMs });
      const expected =
        plan.kind === 'open'
          ? `open ${plan.symbol} ${plan.orderType} ${bits(plan.volume)} ${bits(plan.stopLoss)} ${bits(plan.takeProfit)}`
          : `skip ${plan.reason}`;
      const line = [
        'plan',
        settingsArgs(settings),
        masterSymbol,
        orderType,
        bits(master.volume),
        bits(master.price),
        bits(master.stopLoss),
        bits(master.takeProfit),
        master.magic,
        spec === null ? 'none' : `spec ${specArgs(spec)}`,
        quote === null ? 'none none' : `${bits(quote.bid)} ${bits(quote.ask)}`,
        bits(equity),
        generatedAtMs ?? 0,
        nowMs,
        generatedAtMs === null ? 0 : 1,
      ].join(' ');
      cases.push({ line, expected });
    }
    const sent = cases;
    const answers = selftest(sent.map((c) => c.line));
    const differ = sent.map((c, i) => ({ line: c.line, expected: c.expected, got: answers[i] })).filter((c) => c.expected !== c.got);
    expect(differ.slice(0, 3)).toEqual([]);
    // Every outcome was met.
    const outcomes = new Set(sent.map((c) => c.expected.split(' ')[0] === 'open' ? 'open' : c.expected));
    for (const o of ['open', 'skip NOT_A_POSITION', 'skip MAGIC_BLOCKED', 'skip SYMBOL_NOT_ALLOWED', 'skip SIGNAL_TOO_OLD', 'skip SYMBOL_UNKNOWN', 'skip PRICE_DEVIATION', 'skip NO_STOP_LOSS', 'skip LOT_BELOW_MIN', 'skip NO_QUOTE']) {
      expect(outcomes.has(o), o).toBe(true);
    }
  });

  it('keeps the same target volume after partial closes, and rounds lots the same way', () => {
    const r = new Prng(77_002);
    const lines: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const settings = randomSettings(r);
      const spec = randomSpec(r, 'X');
      const localOpen = r.int(1, 400) / 100;
      const masterOpen = r.int(1, 400) / 100;
      const masterNow = r.chance(0.1) ? 0 : r.int(1, Math.round(masterOpen * 100)) / 100;
      lines.push(`target ${settingsArgs(settings)} ${bits(localOpen)} ${bits(masterOpen)} ${bits(masterNow)} ${specArgs(spec)}`);
      expected.push(bits(targetVolume(localOpen, masterOpen, masterNow, settings, spec)));
      // Negative too: a copy's excess over its target is rounded with the same function.
      const v = (r.next() - 0.5) * 20;
      const step = r.pick([0.01, 0.1, 1, 0.001, 0.05]);
      const down = r.chance(0.5);
      lines.push(`round ${bits(v)} ${bits(step)} ${down ? 'down' : 'nearest'}`);
      expected.push(bits(roundToStep(v, step, down ? 'down' : 'nearest')));
    }
    // Exact halves, where Math.round and a round-half-away-from-zero part ways.
    for (const [v, step] of [[0.005, 0.01], [0.015, 0.01], [0.25, 0.1], [2.5, 1], [0.0125, 0.005], [-2.5, 1], [-0.5, 1], [-0.125, 0.25]] as const) {
      lines.push(`round ${bits(v)} ${bits(step)} nearest`);
      expected.push(bits(roundToStep(v, step, 'nearest')));
    }
    expect(selftest(lines)).toEqual(expected);
  });

  it('gives the pip sizes of proto/pip-size.ts', () => {
    const symbols = ['EURUSD', 'EURUSDm', 'USDJPY', 'gbpjpy.pro', 'XAUUSD', 'xagusd', 'BTCUSD', 'ETHUSDT', 'US30', 'NAS100.cash', 'GER40', 'AUS200', 'USOIL', 'X'];
    expect(selftest(symbols.map((s) => `pip ${s}`))).toEqual(symbols.map((s) => bits(pipSize(s))));
  });
});
