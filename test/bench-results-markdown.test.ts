/** How RESULTS.md prints a measured number: three significant digits, thousands grouped. */
import { describe, expect, it } from 'vitest';
import { significant } from '../bench/results-markdown';

describe('significant', () => {
  it('keeps three significant digits below 1,000 and whole grouped numbers from there', () => {
    expect(significant(12.345)).toBe('12.3');
    expect(significant(0.012345)).toBe('0.0123');
    expect(significant(999.4)).toBe('999');
    expect(significant(1234.4)).toBe('1,234');
    expect(significant(2_153_775.2)).toBe('2,153,775');
  });

  it('groups a value that rounds up to 1,000 like any other from 1,000 up', () => {
    expect(significant(999.7)).toBe('1,000');
    expect(significant(-999.7)).toBe('-1,000');
  });

  it('prints what is not a finite number as it is', () => {
    expect(significant(Number.NaN)).toBe('NaN');
    expect(significant(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});
