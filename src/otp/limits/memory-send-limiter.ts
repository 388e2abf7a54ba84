import { Injectable } from '@nestjs/common';
import { DAY_MS, HOUR_MS, type SendLimiter, type SendLimits, type SendLimitVerdict } from './send-limiter.js';

interface Window {
  count: number;
  resetsAt: number;
}

interface DestinationState {
  cooldownUntil: number;
  hour: Window;
  day: Window;
}

/** Embedded mode: the same fixed windows as the Redis limiter, opened by the first send. */
@Injectable()
export class MemorySendLimiter implements SendLimiter {
  private readonly destinations = new Map<string, DestinationState>();

  async consume(destination: string, limits: SendLimits, now: number): Promise<SendLimitVerdict> {
    this.forgetExpired(now);
    const state = this.destinations.get(destination) ?? {
      cooldownUntil: 0,
      hour: { count: 0, resetsAt: now + HOUR_MS },
      day: { count: 0, resetsAt: now + DAY_MS },
    };
    if (state.hour.resetsAt <= now) state.hour = { count: 0, resetsAt: now + HOUR_MS };
    if (state.day.resetsAt <= now) state.day = { count: 0, resetsAt: now + DAY_MS };
    if (state.cooldownUntil > now) return { allowed: false, reason: 'cooldown', retryAfterMs: state.cooldownUntil - now };
    if (state.hour.count >= limits.perHour) return { allowed: false, reason: 'hourly', retryAfterMs: state.hour.resetsAt - now };
    if (state.day.count >= limits.perDay) return { allowed: false, reason: 'daily', retryAfterMs: state.day.resetsAt - now };
    state.cooldownUntil = now + limits.cooldownMs;
    state.hour.count += 1;
    state.day.count += 1;
    this.destinations.set(destination, state);
    return { allowed: true };
  }

  async reset(destination: string): Promise<void> {
    this.destinations.delete(destination);
  }

  private forgetExpired(now: number) {
    if (this.destinations.size < 10_000) return;
    for (const [destination, state] of this.destinations) {
      if (state.day.resetsAt <= now && state.cooldownUntil <= now) this.destinations.delete(destination);
    }
  }
}
