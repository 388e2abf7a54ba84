import { InjectQueue } from '@nestjs/bull';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { JobOptions, Queue } from 'bull';
import { hostname } from 'node:os';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import type { RedisClient } from '../../redis/redis-connection.js';
import { boundQueueShutdown, closeQueue } from '../bull-shutdown.js';
import {
  DELIVERY_QUEUE_NAME,
  type DeliveryJob,
  type DeliveryQueue,
  WITHHELD_JOB_NAME,
  WORKER_HEARTBEAT_MS,
  WORKER_SEEN_MS,
} from './delivery-job.js';
import { PayloadSealer, type SealedDeliveryJob } from './sealed-payload.js';

export const BOUNDED_BACKOFF = 'bounded-exponential';

/** The Redis connections made for Bull, which it does not close itself. */
export const BULL_CONNECTIONS = Symbol('BULL_CONNECTIONS');

/**
 * Worker processes by last heartbeat (a sorted set scored in ms), under the queue's hash tag so it
 * shares the queue's Cluster slot.
 */
export const WORKERS_KEY = '{otp-delivery}:workers';

/** How often an API-only replica warns while messages wait with no worker anywhere. */
const NO_WORKER_WARNING_MS = 60_000;

/** Durable delivery: jobs live in Redis, their content sealed, until a worker in any replica has settled them. */
@Injectable()
export class BullDeliveryQueue implements DeliveryQueue, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Delivery');
  private readonly instance = `${hostname()}:${process.pid}`;
  private timer: NodeJS.Timeout | undefined;
  private warnedAt = 0;

  constructor(
    @InjectQueue(DELIVERY_QUEUE_NAME) private readonly queue: Queue<SealedDeliveryJob>,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(BULL_CONNECTIONS) connections: RedisClient[],
    private readonly sealer: PayloadSealer,
  ) {
    boundQueueShutdown(queue, connections, this.logger);
  }

  /**
   * A worker says it is alive every few seconds, so every replica can tell whether anyone sends what
   * it queues. An API-only replica (DELIVERY_WORKER=false) watches for the opposite: messages waiting
   * with no worker seen, which would otherwise only show as codes that never arrive.
   */
  onApplicationBootstrap(): void {
    const tick = this.config.delivery.worker ? () => this.beat() : () => this.watchForWorkers();
    this.timer = setInterval(() => void tick().catch(() => undefined), WORKER_HEARTBEAT_MS).unref();
    void tick().catch(() => undefined);
  }

  /** Before any module closes its connections: a worker that stops is counted out at once. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (this.config.delivery.worker) await this.queue.client.zrem(WORKERS_KEY, this.instance).catch(() => undefined);
  }

  /** Lets the active jobs finish, then closes Bull's connections, within a bound (bull-shutdown.ts). */
  onApplicationShutdown(): Promise<void> {
    return closeQueue(this.queue);
  }

  async add(job: DeliveryJob): Promise<void> {
    await this.queue.add(this.sealer.seal(job), this.optionsOf(job));
  }

  async addWithheld(job: DeliveryJob): Promise<void> {
    await this.queue.add(WITHHELD_JOB_NAME, this.sealer.seal(job), this.optionsOf(job));
  }

  async counts() {
    const counts = await this.queue.getJobCounts();
    return { waiting: counts.waiting, active: counts.active, delayed: counts.delayed, failed: counts.failed };
  }

  async workers(): Promise<number> {
    return this.heartbeats.otpWorkerCount(WORKERS_KEY, WORKER_SEEN_MS);
  }

  private async beat(): Promise<void> {
    // Workers that stopped without a goodbye (killed, lost) are dropped once long silent.
    await this.heartbeats.otpWorkerBeat(WORKERS_KEY, this.instance, 10 * WORKER_SEEN_MS);
  }

  private optionsOf(job: DeliveryJob): JobOptions {
    return {
      jobId: job.key,
      attempts: this.config.delivery.attempts,
      backoff: { type: BOUNDED_BACKOFF, options: { baseMs: this.config.delivery.backoffMs, expiresAt: job.expiresAt } },
      // The payload holds a code: nothing of a settled job is kept.
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  /** Bull's own connection, opened with every script (openRedis). */
  private get heartbeats(): RedisClient {
    return this.queue.client as RedisClient;
  }

  private async watchForWorkers(): Promise<void> {
    if (Date.now() - this.warnedAt < NO_WORKER_WARNING_MS) return;
    const [workers, counts] = await Promise.all([this.workers(), this.counts()]);
    const queued = counts.waiting + counts.delayed;
    if (workers > 0 || queued === 0) return;
    this.warnedAt = Date.now();
    this.logger.warn(
      `${queued} message${queued === 1 ? '' : 's'} queued and no delivery worker seen for ${WORKER_SEEN_MS / 1000} s: ` +
        'this replica has DELIVERY_WORKER=false; start one with DELIVERY_WORKER=true or nothing is sent',
    );
  }
}
