import { Inject, Injectable } from '@nestjs/common';
import type twilio from 'twilio';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import type { MessageProvider, OutboundMessage, SendResult } from '../../message-provider.js';
import { MessageRenderer } from '../../message-renderer.js';
import { notConfiguredError } from '../provider-support.js';
import { classifyTwilioError, createTwilioClient, probeTwilio } from '../twilio/twilio-client.js';

/** SMS through Twilio's Messages API, from TWILIO_FROM or through TWILIO_MESSAGING_SERVICE_SID. */
@Injectable()
export class TwilioSmsProvider implements MessageProvider {
  readonly id = 'twilio' as const;
  readonly channel = 'sms' as const;
  readonly configured: boolean;
  private readonly client: twilio.Twilio | undefined;

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    private readonly renderer: MessageRenderer,
  ) {
    const state = config.providers.twilio;
    this.configured = state.configured && state.allowed;
    if (this.configured) this.client = createTwilioClient(config);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers.twilio);
    const { from, messagingServiceSid } = this.config.twilio;
    // A messaging service picks the best sender per destination, so it wins when both are set.
    const sender = messagingServiceSid !== undefined ? { messagingServiceSid } : { from: from! };
    try {
      const created = await this.client.messages.create({ to: message.to, body: this.renderer.text(message), ...sender });
      return { provider: this.id, providerMessageId: created.sid };
    } catch (error) {
      throw classifyTwilioError(this.id, error);
    }
  }

  async probe(): Promise<void> {
    if (!this.client) throw notConfiguredError(this.id, this.config.providers.twilio);
    await probeTwilio(this.id, this.client, this.config.twilio.accountSid!);
  }
}
