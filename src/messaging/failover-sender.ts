import { Inject, Injectable, Logger } from '@nestjs/common';
import { BrokenCircuitError } from 'cockatiel';
import type { Channel } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { maskDestinations } from './masked-text.js';
import { isCodeChecking, ProviderError, type OutboundMessage, type RenderedMessage, type SendResult } from './message-provider.js';
import { MessageRenderer } from './message-renderer.js';
import { ProviderActivityLog } from './provider-activity.js';
import { PROVIDER_CHAINS, type ProviderChains } from './provider-chains.js';
import { ProviderCircuits } from './provider-circuits.js';

/** The destination can never receive this message: retrying or failing over would not help. */
export class PermanentDeliveryError extends Error {
  constructor(
    readonly provider: string,
    message: string,
  ) {
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

/** The message itself cannot be rendered (a template or the purposes table is missing): no provider could send it. */
export class MessageRenderingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageRenderingError';
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
    private readonly renderer: MessageRenderer,
  ) {}

  /** Whether some provider of the channel is configured with a circuit that is not open. */
  canSend(channel: Channel): boolean {
    return this.chains[channel].some((provider) => provider.configured && this.circuits.allowsTraffic(provider.id));
  }

  /**
   * Renders the message once, then tries the chain. A rendering failure is the message's: it is thrown
   * as MessageRenderingError before any provider is asked, so no circuit or provider health counts it.
   */
  async send(message: OutboundMessage): Promise<SendResult> {
    const rendered = this.render(message);
    const reasons: string[] = [];
    let failedBefore: string | undefined;
    for (const provider of this.chains[message.channel]) {
      if (!provider.configured) {
        reasons.push(`${provider.id}: not configured`);
        continue;
      }
      if ((message.template !== 'otp' || message.skipProviders) && isCodeChecking(provider)) {
        // A provider that issues its own codes (Twilio Verify) carries neither a notice nor our code sent again;
        // skipping it keeps its circuit clean.
        continue;
      }
      if (message.skipProviders?.includes(provider.id)) {
        reasons.push(`${provider.id}: lost this message already`);
        continue;
      }
      if (!this.circuits.allowsTraffic(provider.id)) {
        reasons.push(`${provider.id}: circuit open`);
        continue;
      }
      if (failedBefore) {
        this.logger.warn({
          msg: `${message.idempotencyKey}: failing over from ${failedBefore} to ${provider.id}`,
          ...this.fields(message, provider.id),
          failedProvider: failedBefore,
        });
      }
      const started = performance.now();
      try {
        const result = await this.circuits.execute(provider.id, () => provider.send(rendered));
        this.observe(message.channel, provider.id, 'sent', started);
        this.activity.succeeded(provider.id);
        return result;
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          // Another send opened the circuit or holds its trial while this one waited.
          reasons.push(`${provider.id}: circuit open`);
          continue;
        }
        // Masked before it is kept anywhere: health, the verification's lastError, the queue's failed reason, logs.
        const description = describe(error, message);
        const fields = {
          ...this.fields(message, provider.id),
          errorKind: errorKind(error),
          vendorCode: error instanceof ProviderError ? error.vendorCode : undefined,
          error: description,
        };
        this.activity.failed(provider.id, description);
        if (error instanceof ProviderError && error.kind === 'permanent') {
          this.logger.warn({ msg: `${message.idempotencyKey}: ${provider.id} refused the message for good (${description})`, ...fields });
          this.observe(message.channel, provider.id, 'permanent', started);
          throw new PermanentDeliveryError(provider.id, `${provider.id}: ${description}`);
        }
        this.logger.warn({ msg: `${message.idempotencyKey}: ${provider.id} failed (${description})`, ...fields });
        this.observe(message.channel, provider.id, 'failed', started);
        reasons.push(`${provider.id}: ${description}`);
        failedBefore = provider.id;
      }
    }
    throw new ChainExhaustedError(reasons.join('; ') || `no ${message.channel} provider in the chain`);
  }

  private render(message: OutboundMessage): RenderedMessage {
    try {
      return this.renderer.render(message);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new MessageRenderingError(`the ${message.template} message could not be rendered: ${why}`);
    }
  }

  /** The fields every delivery line carries, so logs can be filtered by provider and attempt. */
  private fields(message: OutboundMessage, provider: string): Record<string, unknown> {
    return { verificationId: message.verificationId, channel: message.channel, provider, attempt: message.attempt };
  }

  private observe(channel: Channel, provider: string, result: string, started: number) {
    this.metrics.messages.inc({ channel, provider, result });
    this.metrics.providerLatency.observe({ channel, provider, result }, (performance.now() - started) / 1000);
  }
}

/** How a send failed, as a log field: the ProviderError kind (permanent, auth, outage), or `unexpected`. */
export function errorKind(error: unknown): string {
  return error instanceof ProviderError ? error.kind : 'unexpected';
}

function describe(error: unknown, message: OutboundMessage): string {
  const text = error instanceof ProviderError ? `${error.kind}: ${error.message}` : error instanceof Error ? error.message : String(error);
  return maskDestinations(text, message).slice(0, 300);
}
