import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { messagingConfig } from '../config/config.namespaces.js';
import type { MessagingConfig } from '../config/configuration.types.js';
import type { EventPublisher, EventType } from '../events/event-publisher.port.js';
import { WebhookQueue } from './webhook-queues.js';

/** Events to every receiver of WEBHOOK_URLS, through the webhook queue: one job per event and receiver. */
@Injectable()
export class WebhookPublisher implements EventPublisher {
  private readonly logger = new Logger('Webhooks');
  readonly enabled: boolean;

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(WebhookQueue) private readonly queue: WebhookQueue,
  ) {
    this.enabled = config.events.urls.length > 0 && config.events.secret !== undefined;
  }

  async publish(type: EventType, data: Record<string, unknown>): Promise<void> {
    if (!this.enabled) return;
    const webhookId = `msg_${randomUUID()}`;
    const payload = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
    await Promise.all(
      this.config.events.urls.map((url, receiver) =>
        this.queue.add({ webhookId, type, payload, url }, receiver).catch((error: unknown) => {
          this.logger.error(`${type} ${webhookId} could not be queued: ${error instanceof Error ? error.message : String(error)}`);
        }),
      ),
    );
  }
}
