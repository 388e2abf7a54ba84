import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../../../config/configuration.types.js';
import { type CodeCheckingProvider, ProviderError, type RenderedMessage, type SendResult } from '../../message-provider.js';
import { classifyTwilioError, createTwilioClient, probeTwilio } from '../twilio/twilio-client.js';

/**
 * Twilio Verify generates, sends and checks the code itself (with its own fraud guard), so the code
 * in the message is ignored and checks must come back here.
 */
@Injectable()
export class TwilioVerifyProvider implements CodeCheckingProvider<'sms'> {
  readonly id = 'twilio-verify' as const;
  readonly channel = 'sms' as const;
  readonly configured = true;
  private readonly client: twilio.Twilio;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {
    this.client = createTwilioClient(config);
  }

  /** The rendered text is not used: Verify writes its own message, in the language it is asked for. */
  async send(message: RenderedMessage<'sms'>): Promise<SendResult> {
    const service = this.service();
    if (message.template !== 'otp') {
      // Verify only sends codes; a notice has to go through the next provider of the chain.
      throw new ProviderError(this.id, 'outage', `twilio-verify cannot send a ${message.template} notice`);
    }
    try {
      const verification = await service.verifications.create({
        to: message.to,
        channel: this.channel,
        locale: message.language,
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
    await probeTwilio(this.id, this.client, this.config.twilio.accountSid!);
  }

  private service() {
    return this.client.verify.v2.services(this.config.twilio.verifyServiceSid!);
  }
}
