import type { Result } from 'ioredis';
import type { RedisScripts } from '../redis/redis-scripts.js';

/**
 * KEYS: the provider's counts. ARGV: the field (`<event>:<slot>`), how long the counts are kept (ms), how
 * many to add. One command for the counts of a pass: as MULTI/HINCRBY/PEXPIRE/EXEC it was four, and a
 * transaction object, on every delivery.
 */
const ADD_SCRIPT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Run by RedisConversionCounts. */
export const CONVERSION_SCRIPTS = {
  otpConversionAdd: { numberOfKeys: 1, lua: ADD_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpConversionAdd(key: string, field: string, keepMs: number, count: number): Result<number, Context>;
  }
}
