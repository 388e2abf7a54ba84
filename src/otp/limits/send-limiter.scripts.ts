import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

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

/** Run by RedisSendLimiter, which lays out their keys. */
export const SEND_LIMITER_SCRIPTS = {
  otpConsumeSend: { numberOfKeys: 3, lua: CONSUME_SCRIPT },
  otpTakeGuess: { numberOfKeys: 1, lua: TAKE_GUESS_SCRIPT },
  otpRefundGuess: { numberOfKeys: 1, lua: REFUND_GUESS_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpConsumeSend(cooldown: string, hour: string, day: string, ...args: number[]): Result<[string, number], Context>;
    otpTakeGuess(guesses: string, perDay: number, dayMs: number): Result<[number, number], Context>;
    otpRefundGuess(guesses: string): Result<number, Context>;
  }
}
