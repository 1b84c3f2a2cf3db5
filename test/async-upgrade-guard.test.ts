/**
 * The guard against uWS's cork-after-async-upgrade bug (io/async-upgrade-guard.ts):
 * corked until a close inside the upgrading cork shows the bug, uncorked after.
 * (The bug itself shows under `node --cpu-prof` on a server's first connection;
 * docs/reliability.md.)
 */
import { describe, expect, it } from 'vitest';
import { abnormalCloseCode, AsyncUpgradeGuard } from '../io/async-upgrade-guard';

describe('AsyncUpgradeGuard', () => {
  it('corks upgrades while the bug has not been seen, and ignores closes that are not it', () => {
    const guard = new AsyncUpgradeGuard();
    const calls: string[] = [];
    guard.upgrade(1, (fn) => { calls.push('cork'); fn(); }, () => {
      calls.push('upgrade 1');
      // A close of another connection, or with another code, inside the cork is not the bug.
      expect(guard.closedDuringUpgrade(2, abnormalCloseCode)).toBe(false);
      expect(guard.closedDuringUpgrade(1, 1000)).toBe(false);
    });
    // The same connection closing abnormally later, outside its upgrade, is not the bug either.
    expect(guard.closedDuringUpgrade(1, abnormalCloseCode)).toBe(false);
    expect(calls).toEqual(['cork', 'upgrade 1']);
    expect(guard.corking).toBe(true);
  });

  it('stops corking once uWS closes the connection inside the cork that upgrades it', () => {
    const guard = new AsyncUpgradeGuard();
    const calls: string[] = [];
    const cork = (fn: () => void): void => {
      calls.push('cork');
      fn();
      // uWS's cork() closes the socket it just upgraded and runs the close callback before returning.
      calls.push(`close seen: ${guard.closedDuringUpgrade(7, abnormalCloseCode)}`);
    };
    guard.upgrade(7, cork, () => calls.push('upgrade 7'));
    expect(guard.corking).toBe(false);
    guard.upgrade(8, cork, () => calls.push('upgrade 8'));
    // Seen once (true once, the count the server keeps), and upgrade 8 went uncorked.
    expect(calls).toEqual(['cork', 'upgrade 7', 'close seen: true', 'upgrade 8']);
    // Outside any corked upgrade nothing more is counted.
    expect(guard.closedDuringUpgrade(8, abnormalCloseCode)).toBe(false);
  });

  it('is not left mid-upgrade when the upgrade throws', () => {
    const guard = new AsyncUpgradeGuard();
    expect(() => guard.upgrade(3, (fn) => fn(), () => { throw new Error('boom'); })).toThrow('boom');
    expect(guard.closedDuringUpgrade(3, abnormalCloseCode)).toBe(false);
    expect(guard.corking).toBe(true);
  });
});
