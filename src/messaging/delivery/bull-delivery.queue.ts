import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import { DELIVERY_QUEUE_NAME, type DeliveryJob, type DeliveryQueue } from './delivery-job.js';

export const BOUNDED_BACKOFF = 'bounded-exponential';

/** Durable delivery: jobs live in Redis until a worker in any replica has settled them. */
@Injectable()
export class BullDeliveryQueue implements DeliveryQueue {
  constructor(
    @InjectQueue(DELIVERY_QUEUE_NAME) private readonly queue: Queue<DeliveryJob>,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
  ) {}

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
