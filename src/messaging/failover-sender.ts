import { Inject, Injectable, Logger } from '@nestjs/common';
import { BrokenCircuitError } from 'cockatiel';
import type { Channel } from '../config/configuration.types.js';
import { REDACTED } from '../logging/redaction.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { maskDestination } from '../otp/destinations/destinations.js';
import { isCodeChecking, ProviderError, type OutboundMessage, type SendResult } from './message-provider.js';
import { ProviderActivityLog } from './provider-activity.js';
import { PROVIDER_CHAINS, type ProviderChains } from './provider-chains.js';
import { ProviderCircuits } from './provider-circuits.js';

/** The destination can never receive this message: retrying or failing over would not help. */
export class PermanentDeliveryError extends Error {
  constructor(readonly provider: string, message: string) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/** Every provider of the chain failed or was unavailable this time; a later attempt may succeed. */
export class ChainExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainExhaustedError';
  }
}

/**
 * The one place where failover happens: providers in chain order, skipping those not configured
 * or with an open circuit. Providers never retry; whole-chain retries are the queue's job.
 */
@Injectable()
export class FailoverSender {
  private readonly logger = new Logger('Delivery');

  constructor(
    @Inject(PROVIDER_CHAINS) private readonly chains: ProviderChains,
    private readonly circuits: ProviderCircuits,
    private readonly activity: ProviderActivityLog,
    private readonly metrics: MetricsService,
  ) {}

  /** Whether some provider of the channel is configured with a circuit that is not open. */
  canSend(channel: Channel): boolean {
    return this.chains[channel].some((provider) => provider.configured && this.circuits.allowsTraffic(provider.id));
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const reasons: string[] = [];
    let failedBefore: string | undefined;
    for (const provider of this.chains[message.channel]) {
      if (!provider.configured) {
        reasons.push(`${provider.id}: not configured`);
        continue;
      }
      if (message.template !== 'otp' && isCodeChecking(provider)) {
        // A provider that issues its own codes (Twilio Verify) cannot carry a notice; skipping it keeps its circuit clean.
        continue;
      }
      if (!this.circuits.allowsTraffic(provider.id)) {
        reasons.push(`${provider.id}: circuit open`);
        continue;
      }
      if (failedBefore) this.logger.warn(`${message.idempotencyKey}: failing over from ${failedBefore} to ${provider.id}`);
      const started = performance.now();
      try {
        const result = await this.circuits.execute(provider.id, () => provider.send(message));
        this.observe(message.channel, provider.id, 'sent', started);
        this.activity.succeeded(provider.id);
        return result;
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          // Another send opened the circuit or holds its trial while this one waited.
          reasons.push(`${provider.id}: circuit open`);
          continue;
        }
        const description = describe(error);
        this.activity.failed(provider.id, description);
        if (error instanceof ProviderError && error.kind === 'permanent') {
          this.logger.warn(`${message.idempotencyKey}: ${provider.id} refused the message for good (${forLog(description, message)})`);
          this.observe(message.channel, provider.id, 'permanent', started);
          throw new PermanentDeliveryError(provider.id, `${provider.id}: ${description}`);
        }
        this.logger.warn(`${message.idempotencyKey}: ${provider.id} failed (${forLog(description, message)})`);
        this.observe(message.channel, provider.id, 'failed', started);
        reasons.push(`${provider.id}: ${description}`);
        failedBefore = provider.id;
      }
    }
    throw new ChainExhaustedError(reasons.join('; ') || `no ${message.channel} provider in the chain`);
  }

  private observe(channel: Channel, provider: string, result: string, started: number) {
    this.metrics.messages.inc({ channel, provider, result });
    this.metrics.providerLatency.observe({ channel, provider, result }, (performance.now() - started) / 1000);
  }
}

/**
 * A provider's error text as the log may hold it: vendors echo what they were sent, so the
 * destination is masked and the code removed.
 */
export function forLog(text: string, message: Pick<OutboundMessage, 'channel' | 'to' | 'code'>): string {
  let safe = message.to ? text.split(message.to).join(maskDestination(message.channel, message.to)) : text;
  if (message.code) safe = safe.split(message.code).join(REDACTED);
  return safe;
}

function describe(error: unknown): string {
  const text = error instanceof ProviderError ? `${error.kind}: ${error.message}` : error instanceof Error ? error.message : String(error);
  return text.slice(0, 300);
}
