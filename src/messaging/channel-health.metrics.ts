import { Injectable } from '@nestjs/common';
import type { Channel } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProviderHealthService } from './provider-health.service.js';

/**
 * Reads the provider health of `/health/messaging` just before each scrape, so an alert sees a channel
 * without a usable provider (a provider outage, or credentials that stopped working) even while
 * readiness stays up: reading it sets `otp_channel_usable` (ProviderHealthService does, with its WARN
 * line), and this sets `otp_provider_healthy`. Probes are cached, so scrapes add at most one probe
 * per provider per 30 s.
 */
@Injectable()
export class ChannelHealthMetrics {
  constructor(providers: ProviderHealthService, metrics: MetricsService) {
    metrics.refreshBeforeScrape(async () => {
      const channels = await providers.channels();
      for (const [channel, state] of Object.entries(channels) as [Channel, NonNullable<(typeof channels)[Channel]>][]) {
        for (const provider of state.providers) metrics.providerHealthy.set({ channel, provider: provider.id }, provider.healthy ? 1 : 0);
      }
    });
  }
}
