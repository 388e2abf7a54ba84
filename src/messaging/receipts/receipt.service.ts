import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../../metrics/metrics.service.js';
import { DeliveryReports } from '../../otp/delivery.port.js';
import type { ReceiptStatus } from '../../otp/otp.types.js';
import { DeliveryQueue } from '../delivery/delivery-job.js';
import { DeliveryLedger, type SentMessage } from '../delivery/delivery-ledger.js';
import { keptMessageOwner, PayloadSealer } from '../delivery/sealed-payload.js';
import { DeliveryConversion } from '../delivery-conversion.js';
import { isCodeChecking } from '../message-provider.js';
import { PROVIDER_CHAINS, type ProviderChains } from '../provider-chains.js';
import type { ReceiptVendor } from './receipt-vendors.js';

/** What a vendor says became of one message, once its signature is verified. */
export interface Receipt {
  vendor: ReceiptVendor;
  messageId: string;
  status: ReceiptStatus;
  /** The vendor's own code: Twilio 30003, an SMTP status such as 5.1.1. */
  errorCode?: string;
  /** When the vendor saw it delivered. */
  at?: number;
}

/**
 * Receipts onto the verifications they are about, and the failover a loss calls for: an
 * `undelivered` message of a verification still pending sends the same code through the next
 * provider of its chain, once per provider.
 */
@Injectable()
export class ReceiptService {
  private readonly logger = new Logger('Delivery');

  constructor(
    @Inject(DeliveryLedger) private readonly ledger: DeliveryLedger,
    @Inject(DeliveryReports) private readonly reports: DeliveryReports,
    @Inject(DeliveryQueue) private readonly queue: DeliveryQueue,
    @Inject(PROVIDER_CHAINS) private readonly chains: ProviderChains,
    private readonly sealer: PayloadSealer,
    private readonly conversion: DeliveryConversion,
    private readonly metrics: MetricsService,
  ) {}

  /** A receipt for a message this service did not send (or no longer remembers) is ignored; so is a duplicate. */
  async apply(receipt: Receipt): Promise<void> {
    const message = await this.ledger.findMessage(receipt.vendor, receipt.messageId);
    if (!message) {
      this.metrics.receipts.inc({ vendor: receipt.vendor, result: 'unknown' });
      return;
    }
    const recorded = await this.reports.record({
      verificationId: message.verificationId,
      sendNumber: message.sendNumber,
      status: receipt.status,
      messageId: receipt.messageId,
      ...(receipt.errorCode !== undefined ? { errorCode: receipt.errorCode.slice(0, 64) } : {}),
      ...(receipt.status === 'delivered' ? { deliveredAt: receipt.at ?? Date.now() } : {}),
    });
    this.metrics.receipts.inc({ vendor: receipt.vendor, result: recorded.applied ? 'applied' : 'ignored' });
    if (!recorded.applied) return;
    this.logger.log({
      msg: `${message.verificationId}:${message.sendNumber}: ${message.provider} reports the message ${receipt.status}`,
      verificationId: message.verificationId,
      provider: message.provider,
      vendorCode: receipt.errorCode,
    });
    await this.conversion.count(receipt.status, message, Date.now());
    if (receipt.status === 'undelivered' && recorded.pending) await this.failOver(message, recorded.expiresAt);
  }

  private async failOver(message: SentMessage, expiresAt: number): Promise<void> {
    const { verificationId, sendNumber, channel, provider } = message;
    const skip = [...message.tried, provider];
    const next = this.chains[channel].find((p) => p.configured && !isCodeChecking(p) && !skip.includes(p.id));
    const key = `${verificationId}:${sendNumber}`;
    if (!next) {
      this.logger.warn({
        msg: `${key}: ${provider} lost the message and no other provider of the ${channel} chain is left to try`,
        verificationId,
        provider,
      });
      return;
    }
    // One receipt delivered twice, or by two replicas at once, fails over once.
    if (!(await this.ledger.claimFailover(verificationId, sendNumber, provider, Math.max(1000, expiresAt - Date.now())))) return;
    const kept = await this.ledger.kept(verificationId);
    if (!kept || kept.sendNumber !== sendNumber) {
      this.logger.warn({ msg: `${key}: ${provider} lost the message, which is no longer kept: no failover`, verificationId, provider });
      return;
    }
    const content = this.sealer.openContent(kept.sealed, keptMessageOwner(verificationId));
    this.logger.warn({
      msg: `${key}: ${provider} lost the message; sending the same code through the rest of the chain`,
      verificationId,
      provider,
    });
    await this.queue.add({
      key: `${key}:after:${skip.join('+')}`,
      verificationId,
      sendNumber,
      channel,
      issuedAt: Date.now(),
      expiresAt,
      content,
      skipProviders: skip,
    });
  }
}
