import type { EventType } from '../events/event-publisher.port.js';

export const WEBHOOK_QUEUE_NAME = 'webhooks';
export const WEBHOOK_BACKOFF = 'webhook-doubling';

/** How long an event is retried for a receiver that does not take it. */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** A receiver that has not answered in this long has failed this attempt: a hanging receiver holds no worker. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** One event for one receiver: the same `webhookId` on every attempt, so the receiver can drop repeats. */
export interface WebhookJob {
  webhookId: string;
  type: EventType;
  /** The JSON body, exactly as signed: `{type, timestamp, data}`. */
  payload: string;
  url: string;
}

/** Retry delays start at WEBHOOK_BACKOFF_MS and double. */
export function webhookRetryDelay(baseMs: number, attemptsMade: number): number {
  return baseMs * 2 ** Math.max(0, attemptsMade - 1);
}

/** Attempts (the first included) whose retries, doubling from `baseMs`, fit in 24 h. */
export function webhookAttempts(baseMs: number): number {
  let attempts = 1;
  let waited = 0;
  while (waited + webhookRetryDelay(baseMs, attempts) <= WEBHOOK_RETRY_WINDOW_MS) {
    waited += webhookRetryDelay(baseMs, attempts);
    attempts += 1;
  }
  return attempts;
}

/** An event a receiver never took, kept for `GET /v1/admin/webhooks/failures`. */
export interface WebhookFailure {
  webhookId: string;
  type: EventType;
  url: string;
  attempts: number;
  lastError: string;
  failedAt: string;
}
