import { Injectable } from '@nestjs/common';
import type { Channel } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProviderHealthService } from './provider-health.service.js';

/**
 * `otp_channel_usable` and `otp_provider_healthy`, read from the same provider health as
 * `/health/messaging` just before each scrape, so an alert sees a channel without a usable provider
 * (a provider outage, or credentials that stopped working) even while readiness stays up. Probes are
 * cached, so scrapes add at most one probe per provider per 30 s.
 */
@Injectable()
export class ChannelHealthMetrics {
  constructor(providers: ProviderHealthService, metrics: MetricsService) {
    metrics.refreshBeforeScrape(async () => {
      const channels = await providers.channels();
      for (const [channel, state] of Object.entries(channels) as [Channel, NonNullable<(typeof channels)[Channel]>][]) {
        metrics.channelUsable.set({ channel }, state.status === 'up' ? 1 : 0);
        for (const provider of state.providers) metrics.providerHealthy.set({ channel, provider: provider.id }, provider.healthy ? 1 : 0);
      }
    });
  }
}
