import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import type { MessageProvider, RenderedMessage, SendResult } from '../../message-provider.js';
import { classifyTwilioError, createTwilioClient, probeTwilio, statusCallbackOf } from '../twilio/twilio-client.js';

/** SMS through Twilio's Messages API, from TWILIO_FROM or through TWILIO_MESSAGING_SERVICE_SID. */
@Injectable()
export class TwilioSmsProvider implements MessageProvider<'sms'> {
  readonly id = 'twilio' as const;
  readonly channel = 'sms' as const;
  readonly configured = true;
  private readonly client: twilio.Twilio;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {
    this.client = createTwilioClient(config);
  }

  async send(message: RenderedMessage<'sms'>): Promise<SendResult> {
    const { from, messagingServiceSid } = this.config.twilio;
    // A messaging service picks the best sender per destination, so it wins when both are set.
    const sender = messagingServiceSid !== undefined ? { messagingServiceSid } : { from: from! };
    try {
      const created = await this.client.messages.create({
        to: message.to,
        body: message.body,
        ...sender,
        ...statusCallbackOf(this.config),
      });
      return { provider: this.id, providerMessageId: created.sid };
    } catch (error) {
      throw classifyTwilioError(this.id, error);
    }
  }

  async probe(): Promise<void> {
    await probeTwilio(this.id, this.client, this.config.twilio.accountSid!);
  }
}
