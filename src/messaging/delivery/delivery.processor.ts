import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { DELIVERY_QUEUE_NAME, type DeliveryJob } from './delivery-job.js';
import { DeliveryWorker } from './delivery-worker.js';

@Processor(DELIVERY_QUEUE_NAME)
export class DeliveryProcessor {
  constructor(private readonly worker: DeliveryWorker) {}

  @Process()
  handle(job: Job<DeliveryJob>): Promise<void> {
    return this.worker.attempt(job.data, job.attemptsMade + 1);
  }
}
