import { Inject, Injectable, Logger } from '@nestjs/common';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../config/configuration.types.js';
import type { DeliveryReport, DeliveryRequest, OtpDelivery } from '../otp/delivery.port.js';

/**
 * Delivery as the OTP core sees it. For now every configured chain is served in-process by the
 * console provider; provider strategies, failover and the durable queue plug in behind this class.
 */
@Injectable()
export class DeliveryService implements OtpDelivery {
  private readonly console = new Logger('ConsoleProvider');
  private listener: (report: DeliveryReport) => Promise<void> = async () => undefined;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {}

  canDeliver(channel: Channel): boolean {
    return this.config.chains[channel].some((id) => this.config.providers[id].configured && this.config.providers[id].allowed);
  }

  async deliver(request: DeliveryRequest): Promise<void> {
    const minutes = Math.max(1, Math.round((request.expiresAt.getTime() - Date.now()) / 60_000));
    this.console.log(`${request.channel} to ${request.to}: code ${request.code} for ${request.purpose}, expires in ${minutes} min`);
    await this.listener({ verificationId: request.verificationId, sendNumber: request.sendNumber, status: 'sent', provider: 'console', attempts: 1, lastError: null });
  }

  onReport(listener: (report: DeliveryReport) => Promise<void>): void {
    this.listener = listener;
  }

  async checkProviderCode(): Promise<boolean> {
    return false;
  }
}
