import { jest } from '@jest/globals';
import { LEDGER_SWEEP_INTERVAL_MS, MemoryDeliveryLedger } from './delivery-ledger.js';

describe('MemoryDeliveryLedger', () => {
  let now = 1_800_000_000_000;
  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it('forgets the sends whose codes expired, so it holds one code lifetime of sends at most', async () => {
    const ledger = new MemoryDeliveryLedger();
    const ttl = 600_000;
    const sizes: number[] = [];
    // One send a second for an hour.
    for (let n = 0; n < 3600; n += 1) {
      await ledger.markSent(`v${n}:1`, ttl);
      now += 1000;
      if (n % 600 === 599) sizes.push(ledger.size);
    }
    const bound = (ttl + LEDGER_SWEEP_INTERVAL_MS) / 1000;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(bound);
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(ttl / 1000);
  });

  it('still refuses a second delivery of a send within its lifetime, sweeps or not', async () => {
    const ledger = new MemoryDeliveryLedger();
    await ledger.markSent('kept:1', 600_000);
    for (let n = 0; n < 500; n += 1) {
      now += 1000;
      await ledger.markSent(`other${n}:1`, 1000);
    }
    expect(await ledger.wasSent('kept:1')).toBe(true);
    now += 600_000;
    expect(await ledger.wasSent('kept:1')).toBe(false);
  });
});
