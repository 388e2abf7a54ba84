import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import type { MessageProvider, RenderedMessage, SendResult } from '../../message-provider.js';
import { classifyTwilioError, createTwilioClient, probeTwilio, statusCallbackOf } from '../twilio/twilio-client.js';

/** WhatsApp through Twilio's Messages API: the same call as SMS, with `whatsapp:` addresses. */
@Injectable()
export class TwilioWhatsappProvider implements MessageProvider<'whatsapp'> {
  readonly id = 'twilio-whatsapp' as const;
  readonly channel = 'whatsapp' as const;
  readonly configured = true;
  private readonly client: twilio.Twilio;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {
    this.client = createTwilioClient(config);
  }

  async send(message: RenderedMessage<'whatsapp'>): Promise<SendResult> {
    try {
      const created = await this.client.messages.create({
        to: `whatsapp:${message.to}`,
        from: `whatsapp:${this.config.twilio.whatsappFrom}`,
        body: message.body,
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
