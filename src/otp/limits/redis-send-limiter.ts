import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import {
  DAY_MS,
  type GuessVerdict,
  HOUR_MS,
  SEND_BUDGETS,
  type SendBudget,
  type SendLimiter,
  type SendLimits,
  type SendLimitVerdict,
} from './send-limiter.js';
import { SEND_LIMITER_SCRIPTS } from './send-limiter.scripts.js';

/** Every key of one destination shares a hash tag, so each script runs on Redis Cluster too. */
const budgetKeysOf = (destination: string, budget: SendBudget) =>
  [`otp:{d:${destination}}:${budget}:cooldown`, `otp:{d:${destination}}:${budget}:hour`, `otp:{d:${destination}}:${budget}:day`] as const;
const guessesKeyOf = (destination: string) => `otp:{d:${destination}}:guesses`;

@Injectable()
export class RedisSendLimiter implements SendLimiter {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    requireScripts(redis, SEND_LIMITER_SCRIPTS);
  }

  async consume(destination: string, budget: SendBudget, limits: SendLimits): Promise<SendLimitVerdict> {
    const [cooldown, hour, day] = budgetKeysOf(destination, budget);
    const [verdict, ttl] = await this.redis.otpConsumeSend(
      cooldown,
      hour,
      day,
      limits.cooldownMs,
      limits.perHour,
      limits.perDay,
      HOUR_MS,
      DAY_MS,
    );
    if (verdict === 'ok') return { allowed: true };
    return { allowed: false, reason: verdict as 'cooldown' | 'hourly' | 'daily', retryAfterMs: Number(ttl) };
  }

  async liftCooldown(destination: string, budget: SendBudget): Promise<void> {
    await this.redis.del(budgetKeysOf(destination, budget)[0]);
  }

  async takeGuess(destination: string, perDay: number): Promise<GuessVerdict> {
    const [allowed, ttl] = await this.redis.otpTakeGuess(guessesKeyOf(destination), perDay, DAY_MS);
    return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: Number(ttl) };
  }

  async refundGuess(destination: string): Promise<void> {
    await this.redis.otpRefundGuess(guessesKeyOf(destination));
  }

  async reset(destination: string): Promise<void> {
    await this.redis.del(...SEND_BUDGETS.flatMap((budget) => budgetKeysOf(destination, budget)), guessesKeyOf(destination));
  }
}
