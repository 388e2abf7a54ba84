import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

/**
 * KEYS: suspension, sends, approvals, since, channel counter, country counter, prefix counter, countries, suspensions.
 * ARGV: now, window ms, grace ms, min sample, min conversion, suspend ms, channel cap, country cap, prefix cap,
 * sampled (1/0), send member, country, has a country (1/0), trim (1/0).
 * A suspended country first; then the suspension rule on the sends old enough to judge; then the caps,
 * refusing with the longest wait among the full ones; and only an admitted send is counted.
 *
 * Every SMS send runs this, on the one Redis all replicas share, so it does what a send needs and no more:
 * - the sends and approvals are counted within the window, and what fell out of it is trimmed only when
 *   `trim` says so (RedisFraudGuard: one send in TRIM_EVERY to the country), not on every send;
 * - each cap is counted first and taken back when any is full. Within the script nobody sees the difference,
 *   and an admitted send, the usual case, costs one command a cap instead of a read and then a count.
 * An admitted send is 9 commands instead of 14.
 */
const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local hasCountry = ARGV[13] == '1'
if hasCountry then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then return {'suspended', ttl} end
  local start = now - windowMs
  if ARGV[14] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', start)
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', start)
  end
  local minConversion = tonumber(ARGV[5])
  if minConversion > 0 then
    local settled = now - tonumber(ARGV[3])
    local sends = redis.call('ZCOUNT', KEYS[2], '(' .. start, settled)
    if sends >= tonumber(ARGV[4]) then
      local approved = redis.call('ZCOUNT', KEYS[3], '(' .. start, settled)
      if approved < minConversion * sends then
        local suspendMs = tonumber(ARGV[6])
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('SET', KEYS[4], now, 'PX', windowMs)
        redis.call('HSET', KEYS[1], 'since', now, 'until', now + suspendMs, 'sends', sends, 'approved', approved)
        redis.call('PEXPIRE', KEYS[1], suspendMs)
        redis.call('ZADD', KEYS[9], now + suspendMs, ARGV[12])
        redis.call('PEXPIRE', KEYS[9], suspendMs)
        return {'suspended', suspendMs, sends, approved}
      end
    end
  end
end
local caps = {{'channel', KEYS[5], tonumber(ARGV[7])}}
if hasCountry then
  caps[2] = {'country', KEYS[6], tonumber(ARGV[8])}
  caps[3] = {'prefix', KEYS[7], tonumber(ARGV[9])}
end
local reason, wait = nil, 0
local counted = {}
for _, cap in ipairs(caps) do
  if cap[3] > 0 then
    local count = redis.call('INCR', cap[2])
    counted[#counted + 1] = cap[2]
    if count == 1 then redis.call('PEXPIRE', cap[2], windowMs) end
    if count > cap[3] then
      local ttl = redis.call('PTTL', cap[2])
      if ttl < 0 then redis.call('PEXPIRE', cap[2], windowMs); ttl = windowMs end
      if ttl > wait then reason = cap[1]; wait = ttl end
    end
  end
end
if reason then
  for _, counter in ipairs(counted) do redis.call('DECR', counter) end
  return {reason, wait}
end
if hasCountry and ARGV[10] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[11])
  redis.call('PEXPIRE', KEYS[2], windowMs)
  redis.call('ZADD', KEYS[8], now, ARGV[12])
  redis.call('PEXPIRE', KEYS[8], windowMs)
end
return {'ok', 0}
`;

/**
 * KEYS: channel counter, country counter, prefix counter, sends. ARGV: whether each counter counted the send (1/0),
 * its entry in the country's sends ('' for none). A counter that is gone has ended its hour: it is not made again,
 * without an expiry, by taking one from it. It follows its admission within a round trip, so the hour it takes from
 * is the admission's.
 */
const REFUND_SCRIPT = `
for i = 1, 3 do
  if ARGV[i] == '1' and redis.call('PTTL', KEYS[i]) > 0 and tonumber(redis.call('GET', KEYS[i])) > 0 then
    redis.call('DECR', KEYS[i])
  end
end
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[4], ARGV[4]) end
return 1
`;

/** KEYS: approvals, since. ARGV: now, window ms, sent at, verification id. An approval of a send the window forgot is not counted. */
const APPROVE_SCRIPT = `
local sentAt = tonumber(ARGV[3])
if sentAt <= tonumber(ARGV[1]) - tonumber(ARGV[2]) then return 0 end
if sentAt < tonumber(redis.call('GET', KEYS[2]) or '0') then return 0 end
redis.call('ZADD', KEYS[1], sentAt, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS: countries, suspensions. ARGV: now, window ms, key prefix. Each country's keys are named from the
 * prefix; all of them share the script's hash tag, so they sit in its slot on Redis Cluster too.
 */
const OVERVIEW_SCRIPT = `
local now = tonumber(ARGV[1])
local start = now - tonumber(ARGV[2])
local p = ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', start)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local countries = {}
for _, c in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local sends = redis.call('ZCOUNT', p .. 'sent:' .. c, '(' .. start, '+inf')
  local approved = redis.call('ZCOUNT', p .. 'approved:' .. c, '(' .. start, '+inf')
  table.insert(countries, {c, sends, approved})
end
local suspensions = {}
for _, c in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local s = redis.call('HMGET', p .. 'suspended:' .. c, 'since', 'until', 'sends', 'approved')
  if s[1] then table.insert(suspensions, {c, s[1], s[2], s[3], s[4]}) end
end
return {suspensions, countries}
`;

/** KEYS: suspension, sends, approvals, since, suspensions. ARGV: now, window ms, country. */
const LIFT_SCRIPT = `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[3])
return 1
`;

/** Run by RedisFraudGuard, which lays out their keys. */
export const FRAUD_GUARD_SCRIPTS = {
  otpFraudAdmit: { numberOfKeys: 9, lua: ADMIT_SCRIPT },
  otpFraudRefund: { numberOfKeys: 4, lua: REFUND_SCRIPT },
  otpFraudApprove: { numberOfKeys: 2, lua: APPROVE_SCRIPT },
  otpFraudOverview: { numberOfKeys: 2, lua: OVERVIEW_SCRIPT },
  otpFraudLift: { numberOfKeys: 5, lua: LIFT_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpFraudAdmit(...keysAndArgs: (string | number)[]): Result<[string, number, number?, number?], Context>;
    otpFraudRefund(...keysAndArgs: (string | number)[]): Result<number, Context>;
    otpFraudApprove(approvals: string, since: string, ...args: (string | number)[]): Result<number, Context>;
    otpFraudOverview(
      countries: string,
      suspensions: string,
      ...args: (string | number)[]
    ): Result<[[string, string, string, string, string][], [string, number, number][]], Context>;
    otpFraudLift(...keysAndArgs: (string | number)[]): Result<number, Context>;
  }
}
