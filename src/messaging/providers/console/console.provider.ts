import { Injectable, Logger } from '@nestjs/common';
import type { Channel } from '../../../config/configuration.types.js';
import type { MessageProvider, RenderedMessage, SendResult } from '../../message-provider.js';
import { minutesUntil } from '../../message-renderer.js';

/**
 * Development and tests: "delivers" by writing one log line. The only place a code is ever printed;
 * the configuration refuses this provider in production.
 */
export abstract class ConsoleProvider implements MessageProvider {
  readonly id = 'console' as const;
  abstract readonly channel: Channel;
  readonly configured = true;
  private readonly logger = new Logger(ConsoleProvider.name);

  async send(message: RenderedMessage): Promise<SendResult> {
    const line =
      message.code !== undefined
        ? `[${this.channel}] code ${message.code} for ${message.to} ` +
          `(purpose ${message.purpose}, expires in ${minutesUntil(message.expiresAt)} min)`
        : `[${this.channel}] ${message.template} notice for ${message.to}`;
    this.logger.log(line);
    return { provider: this.id, providerMessageId: `console:${message.idempotencyKey}` };
  }

  async probe(): Promise<void> {}
}

@Injectable()
export class ConsoleEmailProvider extends ConsoleProvider {
  readonly channel = 'email' as const;
}

@Injectable()
export class ConsoleSmsProvider extends ConsoleProvider {
  readonly channel = 'sms' as const;
}

@Injectable()
export class ConsoleWhatsappProvider extends ConsoleProvider {
  readonly channel = 'whatsapp' as const;
}
