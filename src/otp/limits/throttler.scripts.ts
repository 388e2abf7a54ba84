import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

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

/**
 * KEYS: hits (the same counter as INCREMENT_SCRIPT's). ARGV: ttl ms, limit, wanted. Takes up to `wanted` hits
 * of the window at once, never past the limit, and returns {taken, hits after, window's ms left}: 0 taken is a
 * window spent. A counter left without an expiry (by a write that failed halfway) is given one here, so it
 * cannot refuse forever.
 */
const LEASE_SCRIPT = `
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
local take = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) - hits)
if take > 0 then hits = redis.call('INCRBY', KEYS[1], take) else take = 0 end
if ttl < 0 and hits > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {take, hits, math.max(ttl, 0)}
`;

/** Both keys of a throttled client share a hash tag, so the script runs on Redis Cluster too. */
export const THROTTLER_SCRIPTS = {
  otpThrottle: { numberOfKeys: 2, lua: INCREMENT_SCRIPT },
  otpThrottleLease: { numberOfKeys: 1, lua: LEASE_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpThrottle(
      hits: string,
      block: string,
      ttl: number,
      limit: number,
      blockMs: number,
    ): Result<[totalHits: number, ttl: number, blocked: number, blockTtl: number], Context>;
    otpThrottleLease(hits: string, ttl: number, limit: number, wanted: number): Result<[taken: number, hits: number, ttl: number], Context>;
  }
}
