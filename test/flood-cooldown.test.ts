/**
 * io/flood-cooldown.ts: a token closed for flooding waits out its cool-down;
 * other tokens do not; memory stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { FloodCooldown } from '../io/flood-cooldown';

describe('FloodCooldown', () => {
  it('holds a token back for the cool-down, then lets it go', () => {
    const c = new FloodCooldown(10_000, 100);
    c.start('a', 1_000);
    expect(c.remainingMs('a', 1_000)).toBe(10_000);
    expect(c.remainingMs('a', 10_999)).toBe(1);
    expect(c.remainingMs('b', 5_000)).toBe(0);
    expect(c.remainingMs('a', 11_000)).toBe(0);
    expect(c.size).toBe(0);
  });

  it('a second close restarts the cool-down', () => {
    const c = new FloodCooldown(10_000, 100);
    c.start('a', 0);
    c.start('a', 8_000);
    expect(c.remainingMs('a', 12_000)).toBe(6_000);
  });

  it('never holds more than entriesMax tokens, forgetting the oldest first, and drops expired ones as it goes', () => {
    const c = new FloodCooldown(10_000, 3);
    for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) c.start(id, i);
    expect(c.size).toBe(3);
    expect(c.remainingMs('a', 4)).toBe(0);
    expect(c.remainingMs('d', 4)).toBeGreaterThan(0);
    c.start('e', 20_000);
    expect(c.size).toBe(1);
  });

  it('refuses nonsense limits', () => {
    expect(() => new FloodCooldown(0, 10)).toThrow();
    expect(() => new FloodCooldown(1_000, 0)).toThrow();
  });
});
