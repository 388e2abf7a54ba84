import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { loadConfiguration } from '../config/load-configuration.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { MessageProvider } from './message-provider.js';
import { DeliveryConversion } from './delivery-conversion.js';
import { ProviderActivityLog } from './provider-activity.js';
import { MemoryConversionCounts } from './provider-conversion.js';
import type { ProviderChains } from './provider-chains.js';
import type { ProviderCircuits } from './provider-circuits.js';
import { PROBE_CACHE_MS, ProviderHealthService } from './provider-health.service.js';

describe('ProviderHealthService', () => {
  let probe: jest.Mock<() => Promise<void>>;
  let service: ProviderHealthService;
  let warn: jest.SpiedFunction<Logger['warn']>;

  beforeEach(() => {
    jest.useFakeTimers();
    probe = jest.fn<() => Promise<void>>();
    const smtp = { id: 'smtp', channel: 'email', configured: true, probe, send: jest.fn() } as unknown as MessageProvider;
    const messaging = {
      ...loadConfiguration({ NODE_ENV: 'test', OTP_CHANNELS: 'email' }).configuration.messaging,
      channels: ['email' as const],
    };
    const circuits = { state: () => 'closed' } as unknown as ProviderCircuits;
    const chains = { email: [smtp], sms: [], whatsapp: [] } as unknown as ProviderChains;
    const metrics = new MetricsService();
    const conversion = new DeliveryConversion(new MemoryConversionCounts(), messaging, metrics);
    service = new ProviderHealthService(messaging, chains, circuits, new ProviderActivityLog(), metrics, conversion);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  const settle = async () => {
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };

  it('writes one WARN line when a channel loses its last usable provider however often it is read, and one when it is back', async () => {
    probe.mockRejectedValue(new Error('connect ECONNREFUSED 10.0.0.25:587'));
    expect((await service.channels()).email?.status).toBe('down');
    expect((await service.channels()).email?.status).toBe('down');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatchObject({
      channel: 'email',
      usable: false,
      msg: expect.stringContaining('email: no usable provider'),
    });

    probe.mockResolvedValue(undefined);
    jest.advanceTimersByTime(PROBE_CACHE_MS);
    await service.channels();
    await settle();
    expect((await service.channels()).email?.status).toBe('up');
    expect((await service.channels()).email?.status).toBe('up');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1]![0]).toMatchObject({ channel: 'email', usable: true });
  });

  it('answers with the latest probe while the next one hangs, so readiness never waits on a vendor', async () => {
    probe.mockResolvedValue(undefined);
    expect((await service.channels()).email?.status).toBe('up');
    probe.mockReturnValue(new Promise(() => undefined));
    jest.advanceTimersByTime(PROBE_CACHE_MS);
    // Resolves without the timers moving: the hanging probe is not waited for.
    expect((await service.channels()).email?.status).toBe('up');
    expect(probe).toHaveBeenCalledTimes(2);
  });

  it('masks a destination quoted in a probe error', async () => {
    probe.mockRejectedValue(new Error('550 relay denied for <ops.team@corp.example>'));
    const [smtp] = (await service.channels()).email!.providers;
    expect(smtp!.lastError).toBe('probe failed: 550 relay denied for <o***@corp.example>');
  });
});
