import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ServiceUnavailableError } from '../common/errors.js';
import type { Channel } from '../config/configuration.types.js';
import { currentRequestId } from '../logging/log-context.js';
import type { DeliveryRequest, OtpDelivery, SettledVerification } from '../otp/delivery.port.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { type DeliveryJob, DeliveryQueue } from './delivery/delivery-job.js';
import { DeliveryLedger } from './delivery/delivery-ledger.js';
import { countryOf, DeliveryConversion } from './delivery-conversion.js';
import { FailoverSender } from './failover-sender.js';
import { maskDestinations } from './masked-text.js';
import { isCodeChecking, type OutboundMessage, ProviderError } from './message-provider.js';
import type { ContactChange, Notifier } from './notifier.js';
import { PROVIDER_CHAINS, type ProviderChains } from './provider-chains.js';
import { receiptVendorOf } from './receipts/receipt-vendors.js';

function jobOf(request: DeliveryRequest, code: string): DeliveryJob {
  return {
    key: `${request.verificationId}:${request.sendNumber}`,
    verificationId: request.verificationId,
    sendNumber: request.sendNumber,
    channel: request.channel,
    issuedAt: Date.now(),
    expiresAt: request.expiresAt.getTime(),
    content: { to: request.to, code, purpose: request.purpose, locale: request.locale },
    requestId: currentRequestId(),
  };
}

/** Messaging as the rest of the service sees it: the OtpDelivery port and notices, served by the queue and the failover chains. */
@Injectable()
export class DeliveryService implements OtpDelivery, Notifier {
  private readonly logger = new Logger('Delivery');
  /** Every provider of a chain: an approval of a code that none of them sent (a test destination's) counts for nobody. */
  private readonly providers: Set<string>;
  /**
   * The channels with a provider whose receipts are followed: only their sends keep a message for a failover
   * (DeliveryWorker.followUp), so only their settled verifications have one to forget. A message kept under
   * another configuration (a replica before a change of chains) is harmless: it expires with its code, and a
   * receipt fails over only while the verification is pending.
   */
  private readonly keepsMessages: ReadonlySet<Channel>;

  constructor(
    private readonly sender: FailoverSender,
    @Inject(DeliveryQueue) private readonly queue: DeliveryQueue,
    @Inject(PROVIDER_CHAINS) private readonly chains: ProviderChains,
    @Inject(DeliveryLedger) private readonly ledger: DeliveryLedger,
    private readonly conversion: DeliveryConversion,
    metrics: MetricsService,
  ) {
    this.providers = new Set(Object.values(chains).flatMap((chain) => chain.map((provider) => provider.id)));
    this.keepsMessages = new Set(
      (Object.keys(chains) as Channel[]).filter((channel) =>
        chains[channel].some((provider) => receiptVendorOf(provider.id) !== undefined),
      ),
    );
    metrics.refreshBeforeScrape(async () => {
      const counts = await this.queue.counts();
      for (const [state, value] of Object.entries(counts)) metrics.queueDepth.set({ state }, value);
    });
    metrics.refreshBeforeScrape(async () => metrics.deliveryWorkers.set(await this.queue.workers()));
  }

  canDeliver(channel: Channel): boolean {
    return this.sender.canSend(channel);
  }

  async deliver(request: DeliveryRequest): Promise<void> {
    await this.queue.add(jobOf(request, request.code));
  }

  /** The same job, its code replaced by as many zeros, queued as withheld: sealed and stored alike, and discarded by the worker. */
  async withhold(request: DeliveryRequest): Promise<void> {
    await this.queue.addWithheld(jobOf(request, '0'.repeat(request.code.length)));
  }

  passwordChanged(channel: Channel, to: string, locale: string): Promise<void> {
    return this.sendNotice('password-changed', { channel, to, locale, template: 'password_changed', purpose: 'password_reset' });
  }

  contactChanged(channel: Channel, to: string, change: ContactChange, locale: string): Promise<void> {
    return this.sendNotice('contact-changed', {
      channel,
      to,
      locale,
      template: 'contact_changed',
      purpose: 'change_contact',
      contactChange: change,
    });
  }

  /** A notice carries no code, so it goes straight through the chain: best effort, never throws, the destination masked in what it logs. */
  private async sendNotice(
    what: string,
    notice: Pick<OutboundMessage, 'channel' | 'to' | 'locale' | 'template' | 'purpose' | 'contactChange'>,
  ): Promise<void> {
    const id = randomUUID();
    try {
      const result = await this.sender.send({
        ...notice,
        idempotencyKey: `${id}:notice`,
        verificationId: id,
        expiresAt: new Date(Date.now() + 24 * 60 * 60 * 1000),
      });
      this.logger.log(`${what} notice sent through ${result.provider}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(`${what} notice could not be sent: ${maskDestinations(message, { channel: notice.channel, to: notice.to })}`);
    }
  }

  async settled(verification: SettledVerification): Promise<void> {
    const forgotten = this.keepsMessages.has(verification.channel) ? this.ledger.forget(verification.verificationId) : undefined;
    if (verification.status !== 'approved' || verification.provider === null || !this.providers.has(verification.provider)) {
      return forgotten;
    }
    const subject = {
      channel: verification.channel,
      provider: verification.provider,
      country: countryOf(verification.channel, verification.to),
    };
    // Both at once: their commands leave in one write.
    await Promise.all([forgotten, this.conversion.count('approved', subject, verification.sentAt)]);
  }

  async checkProviderCode(providerId: string, channel: Channel, to: string, code: string): Promise<boolean> {
    const provider = this.chains[channel].find((candidate) => candidate.id === providerId);
    if (!provider || !isCodeChecking(provider)) throw new ServiceUnavailableError(`${providerId} is not available to check this code.`);
    try {
      return await provider.checkCode(to, code, channel);
    } catch (error) {
      if (error instanceof ProviderError && error.kind !== 'permanent') {
        throw new ServiceUnavailableError(`${providerId} could not be reached to check the code. Try again shortly.`);
      }
      // Whatever logs it next must not see the number or the code the vendor may quote back.
      if (error instanceof ProviderError)
        throw new ProviderError(error.provider, error.kind, maskDestinations(error.message, { channel, to, code }), error.vendorCode);
      throw error;
    }
  }
}
