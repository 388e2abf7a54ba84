import { GetSMSAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { messagingConfig } from '../../../config/config.namespaces.js';
import type { MessagingConfig } from '../../../config/configuration.types.js';
import type { MessageProvider, RenderedMessage, SendResult } from '../../message-provider.js';
import { type AwsErrorCodes, awsClientConfig, classifyAwsError } from '../aws/aws-support.js';

export const SNS_ERROR_CODES: AwsErrorCodes = {
  permanent: new Set(['InvalidParameter', 'InvalidParameterValue', 'EndpointDisabled']),
  auth: new Set(['KMSAccessDenied', 'KMSDisabled', 'KMSNotFound', 'KMSInvalidState']),
};

/** SMS straight to a phone number through Amazon SNS, as a transactional (high-priority) message. */
@Injectable()
export class SnsProvider implements MessageProvider<'sms'>, OnApplicationShutdown {
  readonly id = 'sns' as const;
  readonly channel = 'sms' as const;
  readonly configured = true;
  private readonly client: SNSClient;

  constructor(@Inject(messagingConfig.KEY) config: MessagingConfig) {
    this.client = new SNSClient(awsClientConfig(config, config.aws.endpointSns));
  }

  async send(message: RenderedMessage<'sms'>): Promise<SendResult> {
    const command = new PublishCommand({
      PhoneNumber: message.to,
      Message: message.body,
      // Promotional (the account default) is cheaper but may be delayed or dropped: wrong for a code.
      MessageAttributes: { 'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' } },
    });
    try {
      const published = await this.client.send(command);
      return { provider: this.id, providerMessageId: published.MessageId };
    } catch (error) {
      throw classifyAwsError(this.id, 'SNS', SNS_ERROR_CODES, error);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.client.send(new GetSMSAttributesCommand({ attributes: ['DefaultSMSType'] }));
    } catch (error) {
      throw classifyAwsError(this.id, 'SNS', SNS_ERROR_CODES, error);
    }
  }

  /** Not before: the delivery queues depend on this provider, so Nest has let their sends finish first. */
  onApplicationShutdown(): void {
    this.client.destroy();
  }
}
