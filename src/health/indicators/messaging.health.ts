import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Channel } from '../../config/configuration.types.js';
import { DeliveryQueue } from '../../messaging/delivery/delivery-job.js';
import { ProviderHealthService } from '../../messaging/provider-health.service.js';

/**
 * One readiness entry per enabled channel, listing its providers' states and whether the channel is
 * usable (one provider healthy), and one for the queue.
 */
@Injectable()
export class MessagingHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly providers: ProviderHealthService,
    @Inject(DeliveryQueue) private readonly queue: DeliveryQueue,
  ) {}

  async channels(): Promise<HealthIndicatorResult[]> {
    const channels = await this.providers.channels();
    return (Object.entries(channels) as [Channel, NonNullable<(typeof channels)[Channel]>][]).map(([channel, state]) => {
      const providers = state.providers.map(({ id, configured, healthy, circuit, lastError }) => ({
        id,
        configured,
        healthy,
        circuit,
        lastError,
      }));
      return state.status === 'up'
        ? this.health.check(channel).up({ usable: true, providers })
        : this.health.check(channel).down({ usable: false, message: `no usable ${channel} provider`, providers });
    });
  }

  async queueCounts(key = 'queue'): Promise<HealthIndicatorResult> {
    return this.health
      .check(key)
      .attempt(async () => {
        const [counts, workers] = await Promise.all([this.queue.counts(), this.queue.workers()]);
        // Up without workers: an API-only replica still accepts and queues; the count shows who sends.
        return { ...counts, workers };
      })
      .withTimeout(1000);
  }
}
