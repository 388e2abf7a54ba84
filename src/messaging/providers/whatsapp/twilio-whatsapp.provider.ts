import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import type { MessageProvider, OutboundMessage, SendResult } from '../../message-provider.js';
import { MessageRenderer } from '../../message-renderer.js';
import { notConfiguredError } from '../provider-support.js';
import { classifyTwilioError, createTwilioClient, probeTwilio } from '../twilio/twilio-client.js';

/** WhatsApp through Twilio's Messages API: the same call as SMS, with `whatsapp:` addresses. */
@Injectable()
export class TwilioWhatsappProvider implements MessageProvider {
  readonly id = 'twilio-whatsapp' as const;
  readonly channel = 'whatsapp' as const;
  readonly configured: boolean;
  private readonly client: twilio.Twilio | undefined;

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    private readonly renderer: MessageRenderer,
  ) {
    const state = config.providers['twilio-whatsapp'];
    this.configured = state.configured && state.allowed;
    if (this.configured) this.client = createTwilioClient(config);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers['twilio-whatsapp']);
    try {
      const created = await this.client.messages.create({
        to: `whatsapp:${message.to}`,
        from: `whatsapp:${this.config.twilio.whatsappFrom}`,
        body: this.renderer.text(message),
      });
      return { provider: this.id, providerMessageId: created.sid };
    } catch (error) {
      throw classifyTwilioError(this.id, error);
    }
  }

  async probe(): Promise<void> {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers['twilio-whatsapp']);
    await probeTwilio(this.id, this.client, this.config.twilio.accountSid!);
  }
}
