/**
 * The paper broker (client/paper-broker.ts): quotes around the mid with the
 * spread, adverse slippage within its bound, volume steps and bounds, seeded
 * requotes that replay, realised profit and loss, and the crash hook that
 * books a fill and then throws.
 */
import { describe, expect, it } from 'vitest';
import { PaperBroker, PaperRejectCode, SimulatedCrash, type PaperSymbol } from '@sigplane/client';
import { Prng } from './support/prng';

const eurusd: PaperSymbol = { symbol: 'EURUSD.m', digits: 5, volumeMin: 0.01, volumeMax: 10, volumeStep: 0.01, tickSize: 0.00001, tickValue: 1, spreadPoints: 10 };
const gold: PaperSymbol = { symbol: 'GOLD', digits: 2, volumeMin: 0.1, volumeMax: 5, volumeStep: 0.1, tickSize: 0.01, tickValue: 1, spreadPoints: 30 };

function broker(options: { seed?: number; requoteProbability?: number; slippagePointsMax?: number } = {}): PaperBroker {
  const prng = new Prng(options.seed ?? 1);
  const b = new PaperBroker({
    symbols: [eurusd, gold],
    balance: 10_000,
    random: () => prng.next(),
    requoteProbability: options.requoteProbability ?? 0,
    slippagePointsMax: options.slippagePointsMax ?? 0,
  });
  b.setMid('EURUSD.m', 1.1);
  b.setMid('GOLD', 2400);
  return b;
}

const order = { symbol: 'EURUSD.m', orderType: 0 as const, volume: 0.5, stopLoss: 0, takeProfit: 0, comment: 'k1' };

describe('paper broker', () => {
  it('quotes the spread around the mid and fills at the quote without slippage', async () => {
    const b = broker();
    expect(b.quote('EURUSD.m')).toEqual({ bid: 1.09995, ask: 1.10005 });
    expect(b.quote('EURUSD')).toBeNull();
    expect(await b.open(order)).toMatchObject({ ok: true, price: 1.10005, volume: 0.5 });
    expect(await b.open({ ...order, orderType: 1, comment: 'k2' })).toMatchObject({ ok: true, price: 1.09995 });
  });

  it('slips against the trader by at most slippagePointsMax points', async () => {
    const b = broker({ slippagePointsMax: 3 });
    for (let i = 0; i < 50; i++) {
      const buy = await b.open({ ...order, comment: `b${i}` });
      const sell = await b.open({ ...order, orderType: 1, comment: `s${i}` });
      if (!buy.ok || !sell.ok) throw new Error('refused');
      expect(buy.price).toBeGreaterThanOrEqual(1.10005);
      expect(buy.price).toBeLessThanOrEqual(1.10008 + 1e-9);
      expect(sell.price).toBeLessThanOrEqual(1.09995);
      expect(sell.price).toBeGreaterThanOrEqual(1.09992 - 1e-9);
    }
  });

  it('refuses volumes off the step or outside the bounds, unknown symbols and long comments, for good', async () => {
    const b = broker();
    expect(await b.open({ ...order, volume: 0.015 })).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_VOLUME, transient: false });
    expect(await b.open({ ...order, symbol: 'GOLD', volume: 0.05 })).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_VOLUME });
    expect(await b.open({ ...order, volume: 10.01 })).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_VOLUME });
    expect(await b.open({ ...order, symbol: 'EURUSD' })).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_SYMBOL });
    expect(await b.open({ ...order, comment: 'x'.repeat(32) })).toMatchObject({ ok: false, code: PaperRejectCode.COMMENT_TOO_LONG });
    const opened = await b.open({ ...order, symbol: 'GOLD', volume: 0.3 });
    if (!opened.ok) throw new Error('refused');
    // 0.05 would leave 0.25: off the step; 0.25 would leave 0.05: below the minimum.
    expect(await b.close(opened.ticket, 0.05)).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_VOLUME });
    expect(await b.close(opened.ticket, 0.25)).toMatchObject({ ok: false, code: PaperRejectCode.INVALID_VOLUME });
    expect(await b.close('nope', 0.1)).toMatchObject({ ok: false, code: PaperRejectCode.POSITION_NOT_FOUND });
    expect(b.snapshotPositions()).toHaveLength(1);
  });

  it('requotes are transient, seeded and replay exactly', async () => {
    const outcomes = async (seed: number): Promise<string[]> => {
      const b = broker({ seed, requoteProbability: 0.3 });
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await b.open({ ...order, comment: `r${i}` });
        out.push(r.ok ? 'ok' : `${r.code}:${r.transient}`);
      }
      return out;
    };
    const first = await outcomes(42);
    expect(first).toEqual(await outcomes(42));
    expect(first).toContain('REQUOTE:true');
    expect(first).toContain('ok');
  });

  it('realises profit and loss into the balance; equity floats with the quotes', async () => {
    const b = broker();
    const opened = await b.open(order); // buy 0.5 at 1.10005
    if (!opened.ok) throw new Error('refused');
    b.setMid('EURUSD.m', 1.1011); // bid 1.10105: +100 points x 0.5 lots x $1
    expect(b.equity()).toBeCloseTo(10_050, 6);
    await b.close(opened.ticket, 0.2);
    expect(b.snapshotPositions()[0].volume).toBe(0.3);
    await b.close(opened.ticket, 0.3);
    expect(b.equity()).toBeCloseTo(10_050, 6);
    expect(b.snapshotPositions()).toEqual([]);
  });

  it('crashAfterNextFill books the fill, then throws once', async () => {
    const b = broker();
    b.crashAfterNextFill = true;
    await expect(b.open(order)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(b.snapshotPositions().map((p) => p.comment)).toEqual(['k1']);
    expect(await b.open({ ...order, comment: 'k2' })).toMatchObject({ ok: true });
    expect(b.executions.map((e) => [e.kind, e.comment])).toEqual([
      ['open', 'k1'],
      ['open', 'k2'],
    ]);
  });
});
