import { median, pairedRatio } from '../bench/paired-ratio.js';

/** `npm run bench:compare`'s verdict: this build's figure over the other's, round by round, with its 95 % interval. */
describe('the paired ratio of two builds', () => {
  it('is the geometric mean of the rounds’ ratios, whatever each round did to both', () => {
    // Every round this build takes 0.8 of the other's time, on a machine three times slower in some rounds.
    const theirs = [1, 3, 1, 3, 2, 1];
    const mine = theirs.map((value) => value * 0.8);
    const paired = pairedRatio(mine, theirs);
    expect(paired.ratio).toBeCloseTo(0.8, 10);
    expect(paired.interval!.low).toBeCloseTo(0.8, 10);
    expect(paired.interval!.high).toBeCloseTo(0.8, 10);
    expect(paired.shows).toBe(true);
  });

  it('gives Student’s t interval over the log ratios', () => {
    // Ratios 0.9, 1.0 and 1.2: logs with mean m and standard deviation s, t(2) = 4.303.
    const logs = [0.9, 1.0, 1.2].map(Math.log);
    const m = logs.reduce((a, b) => a + b) / 3;
    const s = Math.sqrt(logs.reduce((sum, value) => sum + (value - m) ** 2, 0) / 2);
    const paired = pairedRatio([0.9, 2.0, 3.6], [1, 2, 3]);
    expect(paired.ratio).toBeCloseTo(Math.cbrt(0.9 * 1.0 * 1.2), 10);
    expect(paired.interval!.low).toBeCloseTo(Math.exp(m - (4.303 * s) / Math.sqrt(3)), 10);
    expect(paired.interval!.high).toBeCloseTo(Math.exp(m + (4.303 * s) / Math.sqrt(3)), 10);
    expect(paired.shows).toBe(false);
  });

  it('says a change shows only when its whole interval is on one side of 1', () => {
    // Lower in every round, by 5 to 15 %: shows.
    expect(pairedRatio([0.9, 0.85, 0.95, 0.9, 0.88, 0.92], [1, 1, 1, 1, 1, 1]).shows).toBe(true);
    // Lower in 8 of 12 rounds, with the spread a busy machine gives: does not.
    const noisy = pairedRatio([0.8, 0.9, 1.2, 0.95, 0.85, 1.15, 0.9, 1.1, 0.92, 0.97, 1.05, 0.9], Array(12).fill(1) as number[]);
    expect(noisy.ratio).toBeLessThan(1);
    expect(noisy.shows).toBe(false);
    expect(noisy.interval!.low).toBeLessThan(1);
    expect(noisy.interval!.high).toBeGreaterThan(1);
    // Higher, consistently: shows too.
    expect(pairedRatio([1.2, 1.3, 1.25], [1, 1, 1]).shows).toBe(true);
  });

  it('gives no interval for one round, and refuses figures that do not pair up', () => {
    expect(pairedRatio([2], [1])).toEqual({ ratio: 2, shows: false });
    expect(() => pairedRatio([1, 2], [1])).toThrow();
    expect(() => pairedRatio([], [])).toThrow();
  });
});

/** The benchmark's medians: `bench:compare`'s per build, and the paired rounds' machine time per request. */
describe('the median of a run’s figures', () => {
  it('is the middle figure, or the mean of the two middle ones, whatever their order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([0.4, 0.1, 0.3, 0.2])).toBeCloseTo(0.25, 10);
    expect(median([7])).toBe(7);
  });

  it('leaves the figures it was given as they were', () => {
    const figures = [3, 1, 2];
    median(figures);
    expect(figures).toEqual([3, 1, 2]);
  });
});
