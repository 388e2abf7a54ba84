import type { Channel } from '../../config/configuration.types.js';

/** What identifies a queued send, and when it stops being worth sending: everything of a job but its content. */
export interface DeliveryHeader {
  /** `<verificationId>:<sendNumber>`: the queue's job id and the idempotency key of this send. */
  key: string;
  verificationId: string;
  sendNumber: number;
  channel: Channel;
  issuedAt: number;
  expiresAt: number;
  /** The X-Request-Id of the request that queued it, so the worker's log lines lead back to it. */
  requestId?: string;
  /**
   * A failover after a loss: the providers whose message for this send was reported undelivered.
   * The chain skips them, and its first provider's key is `<verificationId>:<sendNumber>:after:<providers>`.
   */
  skipProviders?: string[];
}

/** The destination and the code: held in the clear only in this process; a queue that stores jobs elsewhere seals it. */
export interface DeliveryContent {
  to: string;
  code: string;
  purpose: string;
  locale: string;
}

/** One send handed to the queue. */
export interface DeliveryJob extends DeliveryHeader {
  content: DeliveryContent;
}

/**
 * One send as the worker attempts it. The queue that kept the job opens its content only when the
 * worker asks, once the send is known to be due; opening throws when it cannot be done.
 */
export interface QueuedDelivery extends DeliveryHeader {
  open(): DeliveryContent;
}

/** Accepts jobs durably (Bull on Redis) or in-process (embedded mode), with the same retry rule. */
export interface DeliveryQueue {
  add(job: DeliveryJob): Promise<void>;
  /**
   * Accepts a job that must never be sent (OtpDelivery.withhold) in the same steps as `add`, stored and
   * sealed alike, so that the time to accept it does not tell the two apart; the worker discards it.
   */
  addWithheld(job: DeliveryJob): Promise<void>;
  /** Jobs by state, for metrics and readiness; throws when the queue's store cannot be reached. */
  counts(): Promise<{ waiting: number; active: number; delayed: number; failed: number }>;
  /** Processes working on this queue, in any replica, seen within WORKER_SEEN_MS. */
  workers(): Promise<number>;
}

/** A worker announces itself this often; one not heard from for WORKER_SEEN_MS is counted out. */
export const WORKER_HEARTBEAT_MS = 5000;
export const WORKER_SEEN_MS = 3 * WORKER_HEARTBEAT_MS;

export const DeliveryQueue = Symbol('DeliveryQueue');

export const DELIVERY_QUEUE_NAME = 'delivery';

/**
 * The Bull job name of a withheld job (the others have Bull's default name). By its name rather than a
 * flag in its data: a worker of an earlier version, which has no handler for it, fails it (Bull's
 * "Missing process handler") instead of sending it.
 */
export const WITHHELD_JOB_NAME = 'withheld';

/** Retry delays start at DELIVERY_BACKOFF_MS and double, but never wait past the code's expiry. */
export function retryDelay(baseMs: number, attemptsMade: number, expiresAt: number, now = Date.now()): number {
  const exponential = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.max(0, Math.min(exponential, expiresAt - now));
}
