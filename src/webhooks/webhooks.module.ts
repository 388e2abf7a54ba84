import { BullModule } from '@nestjs/bull';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { usesRedis, type AppConfiguration } from '../config/configuration.types.js';
import { EventPublisher } from '../events/event-publisher.port.js';
import { bullClient } from '../messaging/messaging.module.js';
import type { RedisClient } from '../redis/redis-connection.js';
import { REDIS_CLIENT } from '../redis/redis.constants.js';
import { MemoryWebhookFailures, RedisWebhookFailures, WebhookFailures } from './webhook-failures.js';
import { WEBHOOK_QUEUE_NAME } from './webhook-job.js';
import { WebhookPublisher } from './webhook-publisher.js';
import {
  BullWebhookQueue,
  InProcessWebhookQueue,
  WEBHOOK_CONNECTIONS,
  WebhookProcessor,
  WebhookQueue,
  webhookBackoffStrategies,
} from './webhook-queues.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhookWorker } from './webhook-worker.js';
import { WebhooksAdminController } from './webhooks-admin.controller.js';

/**
 * Outgoing events: the EventPublisher port every module may publish through, delivered to WEBHOOK_URLS
 * from a queue of their own (Bull on Redis, beside the delivery queue; in-process in embedded mode).
 */
@Module({})
export class WebhooksModule {
  static register(configuration: AppConfiguration): DynamicModule {
    const durable = usesRedis(configuration.redis);
    const connections: RedisClient[] = [];
    const queueProviders: Provider[] = durable
      ? [
          BullWebhookQueue,
          ...(configuration.messaging.delivery.worker ? [WebhookProcessor] : []),
          { provide: WebhookQueue, useExisting: BullWebhookQueue },
          { provide: WEBHOOK_CONNECTIONS, useValue: connections },
        ]
      : [InProcessWebhookQueue, { provide: WebhookQueue, useExisting: InProcessWebhookQueue }];
    // No queue at all when no receiver is configured: nothing to connect, nothing to work on.
    const enabled = configuration.messaging.events.urls.length > 0;
    return {
      module: WebhooksModule,
      global: true,
      imports:
        durable && enabled
          ? [
              BullModule.registerQueue({
                name: WEBHOOK_QUEUE_NAME,
                prefix: '{otp-webhooks}',
                createClient: bullClient(configuration.redis, connections, 'otp-webhooks'),
                settings: { backoffStrategies: webhookBackoffStrategies },
              }),
            ]
          : [],
      controllers: [WebhooksAdminController],
      providers: [
        ...(enabled ? queueProviders : [{ provide: WebhookQueue, useValue: { add: async () => undefined } }]),
        WebhookSender,
        WebhookWorker,
        WebhookPublisher,
        { provide: EventPublisher, useExisting: WebhookPublisher },
        {
          provide: WebhookFailures,
          inject: [REDIS_CLIENT],
          useFactory: (client: RedisClient | null): WebhookFailures =>
            client ? new RedisWebhookFailures(client) : new MemoryWebhookFailures(),
        },
      ],
      exports: [EventPublisher],
    };
  }
}
