import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../../../config/configuration.types.js';
import { type CodeCheckingProvider, type OutboundMessage, ProviderError, type SendResult } from '../../message-provider.js';
import { MessageRenderer } from '../../message-renderer.js';
import { notConfiguredError } from '../provider-support.js';
import { classifyTwilioError, createTwilioClient, probeTwilio } from '../twilio/twilio-client.js';

/**
 * Twilio Verify generates, sends and checks the code itself (with its own fraud guard), so the code
 * in the message is ignored and checks must come back here.
 */
@Injectable()
export class TwilioVerifyProvider implements CodeCheckingProvider {
  readonly id = 'twilio-verify' as const;
  readonly channel = 'sms' as const;
  readonly configured: boolean;
  private readonly client: twilio.Twilio | undefined;

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    private readonly renderer: MessageRenderer,
  ) {
    const state = config.providers['twilio-verify'];
    this.configured = state.configured && state.allowed;
    if (this.configured) this.client = createTwilioClient(config);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const service = this.service();
    if (message.template !== 'otp') {
      // Verify only sends codes; a notice has to go through the next provider of the chain.
      throw new ProviderError(this.id, 'outage', `twilio-verify cannot send a ${message.template} notice`);
    }
    try {
      const verification = await service.verifications.create({
        to: message.to,
        channel: this.channel,
        locale: this.renderer.resolveLocale(message.locale),
      });
      return { provider: this.id, providerMessageId: verification.sid, codeIssuedByProvider: true };
    } catch (error) {
      throw classifyTwilioError(this.id, error);
    }
  }

  async checkCode(to: string, code: string, _channel: Channel): Promise<boolean> {
    const service = this.service();
    try {
      const check = await service.verificationChecks.create({ to, code });
      return check.status === 'approved';
    } catch (error) {
      // Verify answers 404 once nothing is pending for the number (expired, approved, or too many checks).
      if ((error as { status?: unknown }).status === 404) return false;
      throw classifyTwilioError(this.id, error);
    }
  }

  async probe(): Promise<void> {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers['twilio-verify']);
    await probeTwilio(this.id, this.client, this.config.twilio.accountSid!);
  }

  private service() {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers['twilio-verify']);
    return this.client.verify.v2.services(this.config.twilio.verifyServiceSid!);
  }
}
