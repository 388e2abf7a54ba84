import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { THROTTLER_SCRIPTS } from './throttler.scripts.js';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Per-IP request limits for @nestjs/throttler, kept in Redis so that they hold across replicas.
 * (The community Redis storage declares peer support only up to Nest 11, so this small one is ours.)
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(private readonly redis: RedisClient) {
    requireScripts(redis, THROTTLER_SCRIPTS);
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const tag = `otp:{t:${throttlerName}:${key}}`;
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = await this.redis.otpThrottle(
      `${tag}:hits`,
      `${tag}:block`,
      ttl,
      limit,
      Math.max(0, blockDuration),
    );
    return {
      totalHits: Number(totalHits),
      timeToExpire: Math.ceil(Number(timeToExpire) / 1000),
      isBlocked: Number(isBlocked) === 1,
      timeToBlockExpire: Math.ceil(Number(timeToBlockExpire) / 1000),
    };
  }
}
