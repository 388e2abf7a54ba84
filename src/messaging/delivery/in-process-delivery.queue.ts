import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import { retryDelay, type DeliveryJob, type DeliveryQueue } from './delivery-job.js';
import { DeliveryWorker, RetryLaterError } from './delivery-worker.js';

/**
 * Embedded mode: the same worker and retry rule as the Bull queue, on timers in this process.
 * Nothing survives a restart here; that is what REDIS_URL is for.
 */
@Injectable()
export class InProcessDeliveryQueue implements DeliveryQueue, OnApplicationShutdown {
  private readonly logger = new Logger('Delivery');
  private readonly active = new Set<Promise<void>>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private closing = false;

  constructor(
    private readonly worker: DeliveryWorker,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
  ) {}

  async add(job: DeliveryJob): Promise<void> {
    this.run(job, 1);
  }

  async counts() {
    return { waiting: 0, active: this.active.size, delayed: this.delayed.size, failed: 0 };
  }

  /** Finishes the sends in flight; retries still waiting are dropped with the process. */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const timer of this.delayed.values()) clearTimeout(timer);
    if (this.delayed.size > 0) this.logger.warn(`${this.delayed.size} delivery retr${this.delayed.size === 1 ? 'y' : 'ies'} dropped at shutdown`);
    this.delayed.clear();
    await Promise.allSettled([...this.active]);
  }

  private run(job: DeliveryJob, attempt: number): void {
    const running = this.worker.attempt(job, attempt).catch((error: unknown) => {
      if (!(error instanceof RetryLaterError) || this.closing) return;
      const delay = retryDelay(this.config.delivery.backoffMs, attempt, job.expiresAt);
      const timer = setTimeout(() => {
        this.delayed.delete(job.key);
        this.run(job, attempt + 1);
      }, delay);
      this.delayed.set(job.key, timer);
    });
    this.active.add(running);
    void running.finally(() => this.active.delete(running));
  }
}
