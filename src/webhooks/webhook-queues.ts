import { InjectQueue, Process, Processor } from '@nestjs/bull';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { messagingConfig } from '../config/config.namespaces.js';
import type { MessagingConfig } from '../config/configuration.types.js';
import { asActiveJob, boundQueueShutdown, closeQueue } from '../messaging/bull-shutdown.js';
import type { RedisClient } from '../redis/redis-connection.js';
import { WEBHOOK_BACKOFF, WEBHOOK_QUEUE_NAME, webhookAttempts, webhookRetryDelay, type WebhookJob } from './webhook-job.js';
import { WebhookWorker } from './webhook-worker.js';

/** Durable (Bull on Redis) or in-process (embedded mode), with the same retry rule. */
export interface WebhookQueue {
  add(job: WebhookJob, receiver: number): Promise<void>;
}

export const WebhookQueue = Symbol('WebhookQueue');

/** The Redis connections made for the webhook queue's Bull, which it does not close itself. */
export const WEBHOOK_CONNECTIONS = Symbol('WEBHOOK_CONNECTIONS');

@Injectable()
export class BullWebhookQueue implements WebhookQueue, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly attempts: number;

  constructor(
    @InjectQueue(WEBHOOK_QUEUE_NAME) private readonly queue: Queue<WebhookJob>,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(WEBHOOK_CONNECTIONS) connections: RedisClient[],
  ) {
    this.attempts = webhookAttempts(config.events.backoffMs);
    boundQueueShutdown(queue, connections, this.logger);
  }

  async add(job: WebhookJob, receiver: number): Promise<void> {
    await this.queue.add(job, {
      // One job per event and receiver, however often it is published.
      jobId: `${job.webhookId}:${receiver}`,
      attempts: this.attempts,
      backoff: { type: WEBHOOK_BACKOFF, options: { baseMs: this.config.events.backoffMs } },
      removeOnComplete: true,
      // Exhausted ones are kept in the failure list instead, bounded.
      removeOnFail: true,
    });
  }

  /** Lets the active deliveries finish, then closes Bull's connections, within a bound (bull-shutdown.ts). */
  onApplicationShutdown(): Promise<void> {
    return closeQueue(this.queue);
  }
}

/** Few at once: a hanging receiver holds one for WEBHOOK_TIMEOUT_MS, and codes are the queue that matters. */
export const WEBHOOK_CONCURRENCY = 5;

@Processor(WEBHOOK_QUEUE_NAME)
export class WebhookProcessor {
  constructor(
    private readonly worker: WebhookWorker,
    @InjectQueue(WEBHOOK_QUEUE_NAME) private readonly queue: Queue<WebhookJob>,
  ) {}

  @Process({ concurrency: WEBHOOK_CONCURRENCY })
  handle(job: Job<WebhookJob>): Promise<void> {
    return asActiveJob(this.queue, this.worker.attempt(job.data, job.attemptsMade + 1, job.opts.attempts ?? 1));
  }
}

export const webhookBackoffStrategies = {
  [WEBHOOK_BACKOFF]: (attemptsMade: number, _error: Error, options: { baseMs: number }) => webhookRetryDelay(options.baseMs, attemptsMade),
};

/** Embedded mode: the same worker and retry rule on timers in this process; nothing survives a restart. */
@Injectable()
export class InProcessWebhookQueue implements WebhookQueue, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly active = new Set<Promise<void>>();
  private readonly attempts: number;
  private closing = false;

  constructor(
    private readonly worker: WebhookWorker,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
  ) {
    this.attempts = webhookAttempts(config.events.backoffMs);
  }

  async add(job: WebhookJob): Promise<void> {
    this.schedule(job, 1, 0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.timers.size > 0)
      this.logger.warn(`${this.timers.size} event deliver${this.timers.size === 1 ? 'y' : 'ies'} dropped at shutdown`);
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.active]);
  }

  private schedule(job: WebhookJob, attempt: number, delay: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const running = this.worker.attempt(job, attempt, this.attempts).catch(() => {
        if (!this.closing) this.schedule(job, attempt + 1, webhookRetryDelay(this.config.events.backoffMs, attempt));
      });
      this.active.add(running);
      void running.finally(() => this.active.delete(running));
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }
}
