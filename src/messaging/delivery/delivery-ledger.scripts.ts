import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

/**
 * A send's mark is a field of its verification's hash (KEYS[1]), never a hash of its own: HSET on a
 * hash that is gone would leave a stub without an expiry. When the hash is gone the mark is the key
 * KEYS[2] beside it, with the send's own expiry, as every mark was before. ARGV: field, ttl (ms).
 */
const MARK_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], 1)
else
  redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
end
return 1
`;

/** KEYS: the verification's hash, the key beside it. ARGV: field. 1 when either holds the mark. */
const WAS_SENT_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
return 0
`;

/** Both keys sit under the verification's hash tag, so each runs unchanged on Redis Cluster. */
export const DELIVERY_LEDGER_SCRIPTS = {
  otpLedgerMarkSent: { numberOfKeys: 2, lua: MARK_SCRIPT },
  otpLedgerWasSent: { numberOfKeys: 2, lua: WAS_SENT_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpLedgerMarkSent(verification: string, beside: string, field: string, ttlMs: number): Result<number, Context>;
    otpLedgerWasSent(verification: string, beside: string, field: string): Result<number, Context>;
  }
}
