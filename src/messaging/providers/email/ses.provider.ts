import { GetAccountCommand, SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import { type MessageProvider, ProviderError, type RenderedMessage, type SendResult } from '../../message-provider.js';
import { type AwsErrorCodes, awsClientConfig, classifyAwsError } from '../aws/aws-support.js';

export const SES_ERROR_CODES: AwsErrorCodes = {
  // MessageRejected: SES will not send this message (sandbox recipient, content); BadRequest: an address it cannot use.
  permanent: new Set(['MessageRejected', 'BadRequest']),
  // Our sending identity or account cannot send anything until someone fixes it: fail over.
  auth: new Set(['MailFromDomainNotVerified', 'AccountSuspended', 'SendingPaused', 'NotFound']),
};

/** Email through Amazon SES (API v2), with an HTML and a plain-text part. */
@Injectable()
export class SesProvider implements MessageProvider<'email'>, OnApplicationShutdown {
  readonly id = 'ses' as const;
  readonly channel = 'email' as const;
  readonly configured = true;
  private readonly client: SESv2Client;

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {
    this.client = new SESv2Client(awsClientConfig(config, config.aws.endpointSes));
  }

  async send(message: RenderedMessage<'email'>): Promise<SendResult> {
    const { subject, html, text } = message.body;
    const command = new SendEmailCommand({
      FromEmailAddress: this.config.aws.sesFrom,
      Destination: { ToAddresses: [message.to] },
      Content: {
        Simple: {
          Subject: { Data: subject, Charset: 'UTF-8' },
          Body: { Text: { Data: text, Charset: 'UTF-8' }, Html: { Data: html, Charset: 'UTF-8' } },
        },
      },
    });
    try {
      const sent = await this.client.send(command);
      return { provider: this.id, providerMessageId: sent.MessageId };
    } catch (error) {
      throw classifyAwsError(this.id, 'SES', SES_ERROR_CODES, error);
    }
  }

  async probe(): Promise<void> {
    let account;
    try {
      account = await this.client.send(new GetAccountCommand({}));
    } catch (error) {
      throw classifyAwsError(this.id, 'SES', SES_ERROR_CODES, error);
    }
    if (account.SendingEnabled === false) {
      throw new ProviderError(this.id, 'auth', 'SES: sending is paused for this account', 'SendingPaused');
    }
  }

  /** Not before: the delivery queues depend on this provider, so Nest has let their sends finish first. */
  onApplicationShutdown(): void {
    this.client.destroy();
  }
}
