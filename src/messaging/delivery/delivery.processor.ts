import { InjectQueue, Process, Processor } from '@nestjs/bull';
import type { OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { asActiveJob, closeQueue } from '../bull-shutdown.js';
import { DELIVERY_QUEUE_NAME, WITHHELD_JOB_NAME } from './delivery-job.js';
import { DeliveryWorker } from './delivery-worker.js';
import { PayloadSealer, type SealedDeliveryJob } from './sealed-payload.js';

/**
 * Jobs each replica works on at once. One at a time, a burst of sends drained at the pace of one
 * SMTP or HTTP conversation after another; several in flight overlap those waits and let their
 * Redis commands share writes. The providers' own pools (3 SMTP connections) still bound the load
 * on a relay, and the ledger keeps every send exactly-once whatever the order.
 */
export const DELIVERY_CONCURRENCY = 10;

@Processor(DELIVERY_QUEUE_NAME)
export class DeliveryProcessor implements OnApplicationShutdown {
  constructor(
    private readonly worker: DeliveryWorker,
    private readonly sealer: PayloadSealer,
    @InjectQueue(DELIVERY_QUEUE_NAME) private readonly queue: Queue<SealedDeliveryJob>,
  ) {}

  @Process({ concurrency: DELIVERY_CONCURRENCY })
  handle(job: Job<SealedDeliveryJob>): Promise<void> {
    return asActiveJob(this.queue, this.worker.attempt(this.sealer.unseal(job.data), job.attemptsMade + 1));
  }

  /**
   * A withheld job (OtpDelivery.withhold) is done once taken: it is never opened or sent. Concurrency 0:
   * Bull hands each job the loops above take to the handler of its name, so this adds no loop of its own.
   */
  @Process({ name: WITHHELD_JOB_NAME, concurrency: 0 })
  async discard(): Promise<void> {}

  /**
   * Takes no new job and waits for the active ones to settle. This depends on the worker and so on
   * every provider, so Nest runs it before the providers close their transports; the Redis client
   * and the database (global modules) close after this module.
   */
  onApplicationShutdown(): Promise<void> {
    return closeQueue(this.queue);
  }
}
