import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';
import { DESTINATION_HASH_LUA } from '../destination-hash.js';

/**
 * The pending index's entries in the destination's hash (destination-hash.ts). Each touches that one
 * key, so each runs unchanged on Redis Cluster.
 */

/**
 * Makes the field name a new verification, unless a live entry there names another than `expected`
 * ('' = none): then answers {0, that id} for the caller to re-check. An entry whose code expired counts
 * as absent. ARGV: field, id, expiresAt, now, expected. The key lives at least as long as the entry.
 */
const CLAIM_PENDING_SCRIPT = `${DESTINATION_HASH_LUA}
local now, expiresAt = tonumber(ARGV[4]), tonumber(ARGV[3])
local current = live(redis.call('HGET', KEYS[1], ARGV[1]), now)
if current and current ~= ARGV[5] then return {0, current} end
redis.call('HSET', KEYS[1], ARGV[1], entry(ARGV[2], ARGV[3]))
extend(KEYS[1], expiresAt, now)
return {1}
`;

/**
 * Moves the entry's expiry to the verification's new one, or drops the entry (expiresAt ''), only while
 * it names the given id. ARGV: field, id, expiresAt or '', now.
 */
const TOUCH_PENDING_SCRIPT = `${DESTINATION_HASH_LUA}
local _, current = parse(redis.call('HGET', KEYS[1], ARGV[1]))
if current ~= ARGV[2] then return 0 end
if ARGV[3] == '' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], entry(ARGV[2], ARGV[3]))
extend(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]))
return 1
`;

/** Run by RedisOtpStore. */
export const PENDING_INDEX_SCRIPTS = {
  otpClaimPending: { numberOfKeys: 1, lua: CLAIM_PENDING_SCRIPT },
  otpTouchPending: { numberOfKeys: 1, lua: TOUCH_PENDING_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpClaimPending(
      destination: string,
      field: string,
      id: string,
      expiresAt: number,
      now: number,
      expected: string,
    ): Result<[number, string?], Context>;
    otpTouchPending(destination: string, field: string, id: string, expiresAt: number | '', now: number): Result<number, Context>;
  }
}
