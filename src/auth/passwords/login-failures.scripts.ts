import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

/** KEYS: counter. ARGV: max. The window's remaining ms when it is full, else 0. */
const BLOCKED_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then return 0 end
return math.max(redis.call('PTTL', KEYS[1]), 1)
`;

/** KEYS: counter. ARGV: window ms. The first failure opens the window; later ones do not extend it. */
const RECORD_SCRIPT = `
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`;

/** Run by RedisLoginFailures, which names their key. */
export const LOGIN_FAILURES_SCRIPTS = {
  otpLoginBlocked: { numberOfKeys: 1, lua: BLOCKED_SCRIPT },
  otpLoginFailed: { numberOfKeys: 1, lua: RECORD_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpLoginBlocked(key: string, max: number): Result<number, Context>;
    otpLoginFailed(key: string, windowMs: number): Result<number, Context>;
  }
}
