import type { RedisClient } from '../redis/redis-connection.js';
import type { WebhookFailure } from './webhook-job.js';

/** The newest exhausted events, at most this many. */
export const MAX_WEBHOOK_FAILURES = 1000;

export interface WebhookFailures {
  add(failure: WebhookFailure): Promise<void>;
  /** Newest first. */
  list(): Promise<WebhookFailure[]>;
}

export const WebhookFailures = Symbol('WebhookFailures');

const FAILURES_KEY = 'otp:webhooks:failures';

export class RedisWebhookFailures implements WebhookFailures {
  constructor(private readonly redis: RedisClient) {}

  async add(failure: WebhookFailure): Promise<void> {
    await this.redis
      .multi()
      .lpush(FAILURES_KEY, JSON.stringify(failure))
      .ltrim(FAILURES_KEY, 0, MAX_WEBHOOK_FAILURES - 1)
      .exec();
  }

  async list(): Promise<WebhookFailure[]> {
    return (await this.redis.lrange(FAILURES_KEY, 0, -1)).map((raw) => JSON.parse(raw) as WebhookFailure);
  }
}

export class MemoryWebhookFailures implements WebhookFailures {
  private readonly failures: WebhookFailure[] = [];

  async add(failure: WebhookFailure): Promise<void> {
    this.failures.unshift(failure);
    this.failures.length = Math.min(this.failures.length, MAX_WEBHOOK_FAILURES);
  }

  async list(): Promise<WebhookFailure[]> {
    return [...this.failures];
  }
}
