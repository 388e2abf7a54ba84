import fc from 'fast-check';
import { isoTime } from './iso-time.js';

const MAX_TIME_MS = 8.64e15;

/** What isoTime must equal: the string, or the error's type and message. */
function reference(ms: number): string {
  try {
    return new Date(ms).toISOString();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

function actual(ms: number): string {
  try {
    return isoTime(ms);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('isoTime', () => {
  it('is toISOString for any millisecond a Date can hold, in any order (the cached day changes under it)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_TIME_MS, max: MAX_TIME_MS }), (ms) => actual(ms) === reference(ms)),
      { numRuns: 20_000 },
    );
  });

  it('is toISOString around today, where the service calls it, including a day’s edges', () => {
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    fc.assert(
      fc.property(fc.integer({ min: today - 3 * 86_400_000, max: today + 3 * 86_400_000 }), (ms) => actual(ms) === reference(ms)),
      { numRuns: 20_000 },
    );
    for (const ms of [today - 1, today, today + 1, today + 86_399_999, today + 86_400_000, 0, -1, 1, 999, 1000, 59_999, 3_599_999]) {
      expect(actual(ms)).toBe(reference(ms));
    }
  });

  it('takes what a Date takes: fractions, -0, the range’s ends, and refuses the rest as toISOString does', () => {
    fc.assert(
      fc.property(fc.double({ min: -MAX_TIME_MS * 1.01, max: MAX_TIME_MS * 1.01 }), (ms) => actual(ms) === reference(ms)),
      {
        numRuns: 20_000,
      },
    );
    for (const ms of [-0, 0.5, -0.5, -1.5, 1.999, MAX_TIME_MS, -MAX_TIME_MS, MAX_TIME_MS + 1, -MAX_TIME_MS - 1, NaN, Infinity, -Infinity]) {
      expect(actual(ms)).toBe(reference(ms));
    }
    expect(() => isoTime(NaN)).toThrow(RangeError);
  });
});
