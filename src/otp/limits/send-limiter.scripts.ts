import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';
import { DESTINATION_HASH_LUA } from '../destination-hash.js';

/**
 * KEYS: the destination's hash, then the previous version's cooldown, hour and day keys of the budget
 * (legacyBudgetKeysOf). ARGV: budget letter, cooldown ms, per hour, per day, hour ms, day ms, now, the
 * pending entry's field ('' = none), and the id and expiresAt of the verification to claim it for
 * ('' = none). Field layout: destination-hash.ts; times are read in seconds or milliseconds (`ms`),
 * written in seconds rounded down (`floorSeconds`).
 *
 * With a pending field, an entry there that is still live answers {'pending', id} and nothing is
 * counted: the caller re-checks that verification, and counts the send itself if it goes ahead.
 * Otherwise all three limits are checked and the send counted only if all allow it; a counted send
 * with an id to claim for makes the entry name it ({'ok', 1}), as the store's claim script would,
 * since no live entry is there. So a new verification's send is counted and indexed in one round trip.
 *
 * The legacy keys: a replica of the previous version counts its sends there until the rolling deploy
 * that brings this script is over, so a cooldown there still blocks and its counts add to the hash's,
 * and the limits hold across the roll. Once no replica older than this one runs, and a day has passed
 * (the longest window), the legacy keys are gone and their reads here (and in RedisSendLimiter) can go.
 */
const CONSUME_SCRIPT = `${DESTINATION_HASH_LUA}
local key, b, now = KEYS[1], ARGV[1], tonumber(ARGV[7])
if ARGV[8] ~= '' then
  local id = live(redis.call('HGET', key, ARGV[8]), now)
  if id then return {'pending', id} end
end
local f = redis.call('HMGET', key, b .. 'c', b .. 'h', b .. 'hw', b .. 'd', b .. 'dw')
local cooldown = math.max((ms(f[1]) or 0) - now, redis.call('PTTL', KEYS[2]))
if cooldown > 0 then return {'cooldown', cooldown} end
-- A window: its count (0 once its end has passed), its end, and when full, the ms until a send fits,
-- counting the legacy key's sends until that key expires.
local function window(count, ends, legacy, limit, length)
  count, ends = tonumber(count) or 0, ms(ends) or 0
  if ends <= now then count, ends = 0, now + length end
  local old, oldEnds = tonumber(redis.call('GET', legacy) or '0') or 0, now
  if old > 0 then
    local ttl = redis.call('PTTL', legacy)
    oldEnds = now + (ttl > 0 and ttl or length)
  end
  if count + old < limit then return count, ends, nil end
  local first, last = math.min(ends, oldEnds), math.max(ends, oldEnds)
  local left = (ends > first and count or 0) + (oldEnds > first and old or 0)
  return count, ends, (left < limit and first or last) - now
end
local hour, hourEnds, hourFull = window(f[2], f[3], KEYS[3], tonumber(ARGV[3]), tonumber(ARGV[5]))
if hourFull then return {'hourly', hourFull} end
local day, dayEnds, dayFull = window(f[4], f[5], KEYS[4], tonumber(ARGV[4]), tonumber(ARGV[6]))
if dayFull then return {'daily', dayFull} end
local cooldownEnds = now + tonumber(ARGV[2])
if cooldownEnds > now then
  redis.call('HSET', key, b .. 'c', floorSeconds(cooldownEnds), b .. 'h', hour + 1, b .. 'hw', floorSeconds(hourEnds), b .. 'd',
    day + 1, b .. 'dw', floorSeconds(dayEnds))
else
  redis.call('HSET', key, b .. 'h', hour + 1, b .. 'hw', floorSeconds(hourEnds), b .. 'd', day + 1, b .. 'dw', floorSeconds(dayEnds))
end
local lives = math.max(cooldownEnds, hourEnds, dayEnds)
if ARGV[8] ~= '' and ARGV[9] ~= '' then
  redis.call('HSET', key, ARGV[8], entry(ARGV[9], ARGV[10]))
  extend(key, math.max(lives, tonumber(ARGV[10])), now)
  return {'ok', 1}
end
extend(key, lives, now)
return {'ok', 0}
`;

/**
 * KEYS: the destination's hash, the previous version's cooldown key of the budget. ARGV: the budget's cooldown
 * field; the pending entry's field and the approved verification's entry id, or '' and ''. The entry goes only
 * while it names that verification: a newer one may have taken its place. Answers 1 when it went.
 */
const LIFT_COOLDOWN_SCRIPT = `${DESTINATION_HASH_LUA}
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[2] == '' then return 0 end
local _, current = parse(redis.call('HGET', KEYS[1], ARGV[2]))
if current ~= ARGV[3] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[2])
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
  otpConsumeSend: { numberOfKeys: 4, lua: CONSUME_SCRIPT },
  otpLiftCooldown: { numberOfKeys: 2, lua: LIFT_COOLDOWN_SCRIPT },
  otpTakeGuess: { numberOfKeys: 1, lua: TAKE_GUESS_SCRIPT },
  otpRefundGuess: { numberOfKeys: 1, lua: REFUND_GUESS_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpConsumeSend(
      destination: string,
      legacyCooldown: string,
      legacyHour: string,
      legacyDay: string,
      budget: string,
      ...args: (number | string)[]
    ): Result<[string, number | string], Context>;
    otpLiftCooldown(
      destination: string,
      legacyCooldown: string,
      field: string,
      pendingField: string,
      entry: string,
    ): Result<number, Context>;
    otpTakeGuess(guesses: string, perDay: number, dayMs: number): Result<[number, number], Context>;
    otpRefundGuess(guesses: string): Result<number, Context>;
  }
}
