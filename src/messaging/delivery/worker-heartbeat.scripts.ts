import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

/**
 * Heartbeats are scored and counted by Redis's clock, never a replica's: with each replica's own,
 * a worker whose clock ran 15 s behind would never be counted, and one ahead would be counted long
 * after it died.
 */
const REDIS_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: workers. ARGV: this worker, how long a silent worker is kept (ms). */
const BEAT_SCRIPT = `${REDIS_NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return now
`;

/** KEYS: workers. ARGV: seen within (ms). */
const COUNT_SCRIPT = `${REDIS_NOW}
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`;

/** Run by BullDeliveryQueue on Bull's connection, on the workers key under the queue's hash tag. */
export const WORKER_HEARTBEAT_SCRIPTS = {
  otpWorkerBeat: { numberOfKeys: 1, lua: BEAT_SCRIPT },
  otpWorkerCount: { numberOfKeys: 1, lua: COUNT_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpWorkerBeat(key: string, worker: string, keepMs: number): Result<number, Context>;
    otpWorkerCount(key: string, seenMs: number): Result<number, Context>;
  }
}
