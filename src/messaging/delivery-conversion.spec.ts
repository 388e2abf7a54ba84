import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { loadConfiguration } from '../config/load-configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { countryOf, DeliveryConversion } from './delivery-conversion.js';
import { MemoryConversionCounts } from './provider-conversion.js';

const T0 = 1_800_000_000_000;
const subject = { channel: 'sms' as const, provider: 'twilio', country: 'GB' };

function conversion() {
  const { messaging } = loadConfiguration({ NODE_ENV: 'test', SUSPECT_MIN_SENDS: '4', SUSPECT_MIN_APPROVAL: '0.5' }).configuration;
  return new DeliveryConversion(new MemoryConversionCounts(), messaging, new MetricsService());
}

describe('DeliveryConversion', () => {
  afterEach(() => jest.restoreAllMocks());

  it('judges a provider only on codes older than the grace period, so a burst of fresh sign-ups is never suspect', async () => {
    const tracker = conversion();
    for (let n = 0; n < 10; n += 1) await tracker.count('sent', subject, T0);
    expect(await tracker.view('twilio', T0 + 60_000)).toEqual({
      lastHour: { sent: 10, delivered: 0, undelivered: 0, approved: 0 },
      suspect: false,
    });
    expect((await tracker.view('twilio', T0 + 130_000)).suspect).toBe(true);
  });

  it('is suspect below the approval share, and no longer once enough of its codes are approved; each turn is one WARN line', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const tracker = conversion();
    for (let n = 0; n < 4; n += 1) await tracker.count('sent', subject, T0);
    expect((await tracker.view('twilio', T0 + 200_000)).suspect).toBe(true);
    expect((await tracker.view('twilio', T0 + 201_000)).suspect).toBe(true);
    for (let n = 0; n < 2; n += 1) await tracker.count('approved', subject, T0);
    expect((await tracker.view('twilio', T0 + 202_000)).suspect).toBe(false);
    expect(warn.mock.calls.map(([line]) => (line as { msg: string }).msg)).toEqual([
      expect.stringContaining('twilio is suspect: 0 of 4'),
      expect.stringContaining('twilio is no longer suspect: 2 of 4'),
    ]);
  });

  it('forgets what is older than an hour', async () => {
    const tracker = conversion();
    await tracker.count('sent', subject, T0);
    expect((await tracker.view('twilio', T0 + 61 * 60_000)).lastHour.sent).toBe(0);
  });

  it('labels destinations by country, email by none', () => {
    expect(countryOf('sms', '+14155550100')).toBe('US');
    expect(countryOf('email', 'a@example.com')).toBe('none');
  });
});
