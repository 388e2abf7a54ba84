import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import { DAY_MS, HOUR_MS, type SendLimiter, type SendLimits, type SendLimitVerdict } from './send-limiter.js';

/** The three keys of one destination share a hash tag, so the script runs on Redis Cluster too. */
const keysOf = (destination: string) => [`otp:{d:${destination}}:cooldown`, `otp:{d:${destination}}:hour`, `otp:{d:${destination}}:day`];

/** KEYS: cooldown, hour, day. ARGV: cooldown ms, per hour, per day, hour ms, day ms. */
const CONSUME_SCRIPT = `
local cooldown = redis.call('PTTL', KEYS[1])
if cooldown > 0 then return {'cooldown', cooldown} end
local function full(key, limit, window)
  local count = tonumber(redis.call('GET', key) or '0')
  if count < limit then return nil end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('PEXPIRE', key, window); ttl = window end
  return ttl
end
local hour = full(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[4]))
if hour then return {'hourly', hour} end
local day = full(KEYS[3], tonumber(ARGV[3]), tonumber(ARGV[5]))
if day then return {'daily', day} end
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
return {'ok', 0}
`;

type Scripted = RedisClient & {
  otpConsumeSend(cooldown: string, hour: string, day: string, ...args: number[]): Promise<[string, number]>;
};

@Injectable()
export class RedisSendLimiter implements SendLimiter {
  private readonly redis: Scripted;

  constructor(@Inject(REDIS_CLIENT) client: RedisClient) {
    if (!('otpConsumeSend' in client)) client.defineCommand('otpConsumeSend', { numberOfKeys: 3, lua: CONSUME_SCRIPT });
    this.redis = client as Scripted;
  }

  async consume(destination: string, limits: SendLimits): Promise<SendLimitVerdict> {
    const [cooldown, hour, day] = keysOf(destination) as [string, string, string];
    const [verdict, ttl] = await this.redis.otpConsumeSend(cooldown, hour, day, limits.cooldownMs, limits.perHour, limits.perDay, HOUR_MS, DAY_MS);
    if (verdict === 'ok') return { allowed: true };
    return { allowed: false, reason: verdict as 'cooldown' | 'hourly' | 'daily', retryAfterMs: Number(ttl) };
  }

  async reset(destination: string): Promise<void> {
    await this.redis.del(...keysOf(destination));
  }
}
