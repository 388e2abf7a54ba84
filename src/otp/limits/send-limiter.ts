export type SendLimitVerdict =
  | { allowed: true }
  | { allowed: false; reason: 'cooldown' | 'hourly' | 'daily'; retryAfterMs: number };

export interface SendLimits {
  cooldownMs: number;
  perHour: number;
  perDay: number;
}

/**
 * Per-destination send limits (resend cooldown, hourly and daily caps), shared by every replica
 * when Redis is configured. One call checks all three and counts the send only if all allow it.
 */
export interface SendLimiter {
  consume(destination: string, limits: SendLimits, now: number): Promise<SendLimitVerdict>;
  reset(destination: string): Promise<void>;
}

export const SendLimiter = Symbol('SendLimiter');

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
