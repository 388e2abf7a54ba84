import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bull';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import type { RedisClient } from '../../redis/redis-connection.js';
import { DELIVERY_QUEUE_NAME, type DeliveryJob, type DeliveryQueue } from './delivery-job.js';

export const BOUNDED_BACKOFF = 'bounded-exponential';

/** The Redis connections made for Bull, which it does not close itself. */
export const BULL_CONNECTIONS = Symbol('BULL_CONNECTIONS');

/** Durable delivery: jobs live in Redis until a worker in any replica has settled them. */
@Injectable()
export class BullDeliveryQueue implements DeliveryQueue, OnApplicationShutdown {
  constructor(
    @InjectQueue(DELIVERY_QUEUE_NAME) private readonly queue: Queue<DeliveryJob>,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(BULL_CONNECTIONS) private readonly connections: RedisClient[],
  ) {}

  /** Lets the active job finish (Bull's close waits for it), then closes Bull's connections. */
  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    for (const connection of this.connections) connection.disconnect(false);
  }

  async add(job: DeliveryJob): Promise<void> {
    await this.queue.add(job, {
      jobId: job.key,
      attempts: this.config.delivery.attempts,
      backoff: { type: BOUNDED_BACKOFF, options: { baseMs: this.config.delivery.backoffMs, expiresAt: job.expiresAt } },
      // The payload holds a code: nothing of a settled job is kept.
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  async counts() {
    const counts = await this.queue.getJobCounts();
    return { waiting: counts.waiting, active: counts.active, delayed: counts.delayed, failed: counts.failed };
  }
}
