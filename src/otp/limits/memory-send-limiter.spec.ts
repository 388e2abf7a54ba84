import { DAY_MS, HOUR_MS } from './send-limiter.js';
import { MemorySendLimiter, SWEEP_INTERVAL_MS } from './memory-send-limiter.js';

const LIMITS = { cooldownMs: 30_000, perHour: 3, perDay: 5 };
const T0 = 1_800_000_000_000;

describe('MemorySendLimiter memory', () => {
  it('drops the windows of a day that ended, so destinations seen yesterday no longer take memory', async () => {
    const limiter = new MemorySendLimiter();
    for (let n = 0; n < 5000; n += 1) await limiter.consume(`old-${n}@example.com`, 'api', LIMITS, T0 + n);
    for (let n = 0; n < 1000; n += 1) await limiter.takeGuess(`guess-${n}@example.com`, 5, T0 + n);
    expect(limiter.size).toBe(6000);

    // A day later the next send sweeps what ended; only its own destination is left.
    await limiter.consume('today@example.com', 'api', LIMITS, T0 + DAY_MS + 5000);
    expect(limiter.size).toBe(1);
  });

  it('keeps growing only with the destinations of the current window, however many came before', async () => {
    const limiter = new MemorySendLimiter();
    const sizes: number[] = [];
    // Two destinations a second for three days: the map holds about one day of them, not three.
    for (let second = 0; second < 3 * 86_400; second += 30) {
      const now = T0 + second * 1000;
      await limiter.consume(`d-${second}-a@example.com`, 'anonymous', LIMITS, now);
      await limiter.consume(`d-${second}-b@example.com`, 'anonymous', LIMITS, now);
      if (second % 86_400 === 86_400 - 30) sizes.push(limiter.size);
    }
    const perDay = (2 * 86_400) / 30;
    expect(sizes[0]).toBe(perDay);
    for (const size of sizes.slice(1)) expect(size).toBeLessThanOrEqual(perDay + (2 * SWEEP_INTERVAL_MS) / 30_000);
  });

  it('never forgets a live limit: a day budget spent stays spent until its own window ends, sweeps or not', async () => {
    const limiter = new MemorySendLimiter();
    const target = 'victim@example.com';
    for (let n = 0; n < LIMITS.perDay; n += 1) {
      expect(await limiter.consume(target, 'api', LIMITS, T0 + n * (HOUR_MS + 1))).toEqual({ allowed: true });
    }
    // A flood of other destinations across the rest of the day, each triggering sweeps.
    for (let n = 0; n < 20_000; n += 1) {
      await limiter.consume(`flood-${n}@example.com`, 'api', LIMITS, T0 + 6 * HOUR_MS + n * 2000);
    }
    const late = T0 + DAY_MS - 1;
    expect(await limiter.consume(target, 'api', LIMITS, late)).toMatchObject({ allowed: false, reason: 'daily' });
    expect(await limiter.takeGuess(target, 2, T0)).toEqual({ allowed: true });
    expect(await limiter.takeGuess(target, 2, T0 + 1)).toEqual({ allowed: true });
    await limiter.consume('another@example.com', 'api', LIMITS, T0 + DAY_MS - 2);
    expect(await limiter.takeGuess(target, 2, T0 + DAY_MS - 1)).toMatchObject({ allowed: false });
    // And the day after, it is a fresh day.
    expect(await limiter.consume(target, 'api', LIMITS, T0 + DAY_MS + 1)).toEqual({ allowed: true });
  });

  it('keeps a cooldown that outlasts the day window', async () => {
    const limiter = new MemorySendLimiter();
    const long = { ...LIMITS, cooldownMs: DAY_MS + HOUR_MS };
    await limiter.consume('slow@example.com', 'api', long, T0);
    await limiter.consume('other@example.com', 'api', long, T0 + DAY_MS + 1);
    expect(await limiter.consume('slow@example.com', 'api', long, T0 + DAY_MS + 2)).toMatchObject({ allowed: false, reason: 'cooldown' });
  });
});
