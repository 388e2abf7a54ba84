import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import { retryDelay, type DeliveryJob, type DeliveryQueue } from './delivery-job.js';
import { DeliveryWorker, RetryLaterError } from './delivery-worker.js';

/**
 * Embedded mode: the same worker and retry rule as the Bull queue, on timers in this process.
 * Nothing survives a restart here; that is what REDIS_URL is for. Jobs never leave the process, so
 * their content is kept as it came, not sealed.
 */
@Injectable()
export class InProcessDeliveryQueue implements DeliveryQueue, OnApplicationShutdown {
  private readonly logger = new Logger('Delivery');
  private readonly active = new Set<Promise<void>>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  /** Accepted jobs whose first attempt has not begun yet. */
  private readonly starting = new Map<string, { timer: NodeJS.Immediate; job: DeliveryJob }>();
  private closing = false;

  constructor(
    private readonly worker: DeliveryWorker,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
  ) {}

  /**
   * Starts the send on a later turn of the event loop, like a queue in another process would: the
   * request that queued it answers first, so a request that queued nothing is not measurably faster.
   */
  async add(job: DeliveryJob): Promise<void> {
    const timer = setImmediate(() => {
      this.starting.delete(job.key);
      this.run(job, 1);
    });
    this.starting.set(job.key, { timer, job });
  }

  /** Nothing to store or seal here: a job added is only a timer until its turn, and a withheld one never gets one. */
  async addWithheld(): Promise<void> {}

  async counts() {
    return { waiting: this.starting.size, active: this.active.size, delayed: this.delayed.size, failed: 0 };
  }

  /** This process: in embedded mode it always works on its own queue. */
  async workers() {
    return 1;
  }

  /** Finishes the sends in flight; retries still waiting are dropped with the process. */
  async onApplicationShutdown(): Promise<void> {
    // Accepted means in flight: these begin now rather than being dropped.
    for (const { timer, job } of this.starting.values()) {
      clearImmediate(timer);
      this.run(job, 1);
    }
    this.starting.clear();
    this.closing = true;
    for (const timer of this.delayed.values()) clearTimeout(timer);
    if (this.delayed.size > 0)
      this.logger.warn(`${this.delayed.size} delivery retr${this.delayed.size === 1 ? 'y' : 'ies'} dropped at shutdown`);
    this.delayed.clear();
    await Promise.allSettled([...this.active]);
  }

  private run(job: DeliveryJob, attempt: number): void {
    const { content, ...header } = job;
    const running = this.worker.attempt({ ...header, open: () => content }, attempt).catch((error: unknown) => {
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
