import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import { DAY_MS, type GuessVerdict, HOUR_MS, SEND_BUDGETS, type SendBudget, type SendLimiter, type SendLimits, type SendLimitVerdict } from './send-limiter.js';

/** Every key of one destination shares a hash tag, so each script runs on Redis Cluster too. */
const budgetKeysOf = (destination: string, budget: SendBudget) =>
  [`otp:{d:${destination}}:${budget}:cooldown`, `otp:{d:${destination}}:${budget}:hour`, `otp:{d:${destination}}:${budget}:day`] as const;
const guessesKeyOf = (destination: string) => `otp:{d:${destination}}:guesses`;

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

/** KEYS: guesses. ARGV: per day, day ms. Counts the guess only while the window has room. */
const TAKE_GUESS_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
  return {0, ttl}
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}
`;

/** KEYS: guesses. Never below zero, and never re-creates a window that ended. */
const REFUND_GUESS_SCRIPT = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
`;

type Scripted = RedisClient & {
  otpConsumeSend(cooldown: string, hour: string, day: string, ...args: number[]): Promise<[string, number]>;
  otpTakeGuess(guesses: string, perDay: number, dayMs: number): Promise<[number, number]>;
  otpRefundGuess(guesses: string): Promise<number>;
};

@Injectable()
export class RedisSendLimiter implements SendLimiter {
  private readonly redis: Scripted;

  constructor(@Inject(REDIS_CLIENT) client: RedisClient) {
    if (!('otpConsumeSend' in client)) client.defineCommand('otpConsumeSend', { numberOfKeys: 3, lua: CONSUME_SCRIPT });
    if (!('otpTakeGuess' in client)) client.defineCommand('otpTakeGuess', { numberOfKeys: 1, lua: TAKE_GUESS_SCRIPT });
    if (!('otpRefundGuess' in client)) client.defineCommand('otpRefundGuess', { numberOfKeys: 1, lua: REFUND_GUESS_SCRIPT });
    this.redis = client as Scripted;
  }

  async consume(destination: string, budget: SendBudget, limits: SendLimits): Promise<SendLimitVerdict> {
    const [cooldown, hour, day] = budgetKeysOf(destination, budget);
    const [verdict, ttl] = await this.redis.otpConsumeSend(cooldown, hour, day, limits.cooldownMs, limits.perHour, limits.perDay, HOUR_MS, DAY_MS);
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
