import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisClient } from '../../redis/redis-connection.js';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * KEYS: hits, block. ARGV: ttl ms, limit, block ms. A fixed window per key; once over the limit, refused
 * until the window ends, or for the block duration when there is one (as the throttler's own storage does).
 */
const INCREMENT_SCRIPT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return {tonumber(redis.call('GET', KEYS[1]) or '0'), math.max(redis.call('PTTL', KEYS[1]), 0), 1, blocked}
end
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
if hits > tonumber(ARGV[2]) then
  if tonumber(ARGV[3]) <= 0 then return {hits, ttl, 1, ttl} end
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {hits, ttl, 1, tonumber(ARGV[3])}
end
return {hits, ttl, 0, 0}
`;

type Scripted = RedisClient & {
  otpThrottle(hits: string, block: string, ttl: number, limit: number, block_: number): Promise<[number, number, number, number]>;
};

/**
 * Per-IP request limits for @nestjs/throttler, kept in Redis so that they hold across replicas.
 * (The community Redis storage declares peer support only up to Nest 11, so this small one is ours.)
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly redis: Scripted;

  constructor(client: RedisClient) {
    if (!('otpThrottle' in client)) client.defineCommand('otpThrottle', { numberOfKeys: 2, lua: INCREMENT_SCRIPT });
    this.redis = client as Scripted;
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
