import { Logger } from '@nestjs/common';
import type { Channel } from '../config/configuration.types.js';
import type { MessageProvider, OutboundMessage, SendResult } from './message-provider.js';

/** Development and test only (refused in production): prints the code instead of delivering it. */
export class ConsoleProvider implements MessageProvider {
  readonly id = 'console' as const;
  readonly configured = true;
  private readonly logger = new Logger('ConsoleProvider');

  constructor(readonly channel: Channel) {}

  async send(message: OutboundMessage): Promise<SendResult> {
    const minutes = Math.max(1, Math.round((message.expiresAt.getTime() - Date.now()) / 60_000));
    this.logger.log(
      message.template === 'otp'
        ? `${message.channel} to ${message.to}: code ${message.code} for ${message.purpose}, expires in ${minutes} min`
        : `${message.channel} to ${message.to}: ${message.template} notice`,
    );
    return { provider: 'console' };
  }

  async probe(): Promise<void> {}
}
