import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';

/**
 * The Redis store's Lua. Each script that decides something runs one function of
 * verification-transitions.ts on the verification's hash, atomically, in the same steps and the same
 * order (the comments name them), so that both stores keep one state machine; the store contract suite
 * (test/otp-store.e2e-spec.ts) runs both. Field names are those of verification-hash.ts. What only Redis
 * needs is marked as such: the hash's expiry (`keep`) and the pending index's keys.
 */

/** Storage only: keeps a verification readable for RETENTION_MS after its code expires or it last changed. */
const KEEP = `
local function keep(key, expiresAt, now, retention)
  redis.call('PEXPIRE', key, math.max(expiresAt - now, 0) + retention)
end
`;

/**
 * A new record and its lifetime in one command: as MULTI/HSET/PEXPIRE/EXEC it cost the client four
 * commands' work per send, twice the CPU of this. ARGV: ttl ms, then field, value pairs.
 */
const CREATE_SCRIPT = `
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/**
 * check(): read, compare the digest in constant time (no early exit on the first differing byte),
 * count a wrong code, lock at the limit, approve once.
 * ARGV: mode ('digest' | 'external'), candidate digest or '1'/'0', now, retention.
 */
const CHECK_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'digest', 'expiresAt', 'attempts', 'maxAttempts')
-- check(): no record
if not h[1] then return {'not_found'} end
local now = tonumber(ARGV[3])
local expiresAt = tonumber(h[3])
-- check(): already locked
if h[1] == 'max_attempts' then return {'locked', redis.call('HGETALL', key)} end
-- check(): not pending (isPending)
if h[1] ~= 'pending' or now >= expiresAt then return {'not_found'} end
local attempts, max = tonumber(h[4]), tonumber(h[5])
-- check(): attempts used up, settle('locked')
if attempts >= max then
  redis.call('HSET', key, 'status', 'max_attempts', 'digest', '', 'updatedAt', ARGV[3])
  keep(key, expiresAt, now, tonumber(ARGV[4]))
  return {'locked', redis.call('HGETALL', key)}
end
-- matches(): the provider's verdict, or digestsEqual() (an empty stored digest never matches)
local match = false
if ARGV[1] == 'external' then
  match = ARGV[2] == '1'
else
  local stored, candidate = h[2], ARGV[2]
  if #stored > 0 and #stored == #candidate then
    local diff = 0
    for i = 1, #stored do
      diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(candidate, i)))
    end
    match = diff == 0
  end
end
-- check(): settle('approved')
if match then
  redis.call('HSET', key, 'status', 'approved', 'digest', '', 'updatedAt', ARGV[3])
  keep(key, expiresAt, now, tonumber(ARGV[4]))
  return {'approved', redis.call('HGETALL', key)}
end
-- check(): a wrong code counts; the one that reaches the limit locks, settle('incorrect')
attempts = attempts + 1
if attempts >= max then
  redis.call('HSET', key, 'attempts', attempts, 'status', 'max_attempts', 'digest', '', 'updatedAt', ARGV[3])
else
  redis.call('HSET', key, 'attempts', attempts, 'updatedAt', ARGV[3])
end
keep(key, expiresAt, now, tonumber(ARGV[4]))
return {'incorrect', redis.call('HGETALL', key)}
`;

/** resend(). ARGV: digest, expiresAt, now, retention. */
const RESEND_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'expiresAt', 'sends', 'maxSends')
local now = tonumber(ARGV[3])
-- resend(): no record, or not pending (isPending)
if not h[1] or h[1] ~= 'pending' or now >= tonumber(h[2]) then return {'not_pending'} end
-- resend(): send limit reached
if tonumber(h[3]) >= tonumber(h[4]) then return {'max_sends', redis.call('HGETALL', key)} end
-- resend(): the new code, one more send, a new delivery
redis.call('HSET', key, 'digest', ARGV[1], 'expiresAt', ARGV[2], 'sends', tonumber(h[3]) + 1, 'lastSentAt', ARGV[3],
  'updatedAt', ARGV[3], 'codeIssuer', '', 'dStatus', 'queued', 'dProvider', '', 'dAttempts', 0, 'dLastError', '', 'dUpdatedAt', ARGV[3])
redis.call('HDEL', key, 'dMessageId', 'dErrorCode', 'dDeliveredAt')
keep(key, tonumber(ARGV[2]), now, tonumber(ARGV[4]))
return {'resent', redis.call('HGETALL', key)}
`;

/** cancel(). ARGV: now, retention. */
const CANCEL_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'expiresAt')
local now = tonumber(ARGV[1])
-- cancel(): no record, or not pending (isPending)
if not h[1] or h[1] ~= 'pending' or now >= tonumber(h[2]) then return 0 end
-- cancel(): canceled, digest forgotten
redis.call('HSET', key, 'status', 'canceled', 'digest', '', 'updatedAt', ARGV[1])
keep(key, tonumber(h[2]), now, tonumber(ARGV[2]))
return 1
`;

/**
 * reportDelivery(). ARGV: JSON update (absent fields are left as they are, '' stands for null), now,
 * retention. Returns -1 when ignored, 1 when the verification failed, else 0.
 */
const DELIVERY_SCRIPT = `${KEEP}
local key = KEYS[1]
local u = cjson.decode(ARGV[1])
local h = redis.call('HMGET', key, 'status', 'sends', 'expiresAt', 'dStatus', 'dMessageId')
-- reportDelivery(): no record, or a report on an earlier send
if not h[1] or tonumber(h[2]) ~= u.sendNumber then return -1 end
local now = tonumber(ARGV[2])
-- applyReceipt(): only the message it names, only from 'sent'
if u.status == 'delivered' or u.status == 'undelivered' then
  if h[4] ~= 'sent' or u.messageId == nil or h[5] ~= u.messageId then return -1 end
  redis.call('HSET', key, 'dStatus', u.status, 'dUpdatedAt', ARGV[2], 'updatedAt', ARGV[2])
  if u.errorCode ~= nil then redis.call('HSET', key, 'dErrorCode', u.errorCode) end
  if u.status == 'delivered' then redis.call('HSET', key, 'dDeliveredAt', u.deliveredAt or ARGV[2]) end
  keep(key, tonumber(h[3]), now, tonumber(ARGV[3]))
  return 0
end
-- reportDelivery(): what the report says, keeping what it leaves out
redis.call('HSET', key, 'dStatus', u.status, 'dUpdatedAt', ARGV[2], 'updatedAt', ARGV[2])
if u.provider ~= nil then redis.call('HSET', key, 'dProvider', u.provider) end
if u.attempts ~= nil then redis.call('HSET', key, 'dAttempts', u.attempts) end
if u.lastError ~= nil then redis.call('HSET', key, 'dLastError', u.lastError) end
if u.codeIssuer ~= nil then redis.call('HSET', key, 'codeIssuer', u.codeIssuer) end
-- reportDelivery(): a newly accepted message starts its own story
if u.status == 'sent' and u.messageId ~= nil then
  redis.call('HDEL', key, 'dErrorCode', 'dDeliveredAt')
  redis.call('HSET', key, 'dMessageId', u.messageId)
end
-- reportDelivery(): a failed delivery fails a pending verification
local failed = 0
if u.status == 'failed' and h[1] == 'pending' then
  redis.call('HSET', key, 'status', 'failed', 'digest', '')
  failed = 1
end
keep(key, tonumber(h[3]), now, tonumber(ARGV[3]))
return failed
`;

/**
 * The same report, ignored (-1) when KEYS[2] exists: the delivery ledger's mark that this send went
 * out, under the verification's hash tag. A job that runs again after its send then writes nothing,
 * so the ledger check and a 'sending' report can leave in one round trip.
 */
const DELIVERY_UNLESS_MARKED_SCRIPT = `if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
${DELIVERY_SCRIPT}`;

/** markDeliveryPrivate(): only on a verification that exists; HSET alone would leave a stub hash without an expiry. */
const MARK_PRIVATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'deliveryPrivate', '1') end
return 1
`;

/**
 * Storage only: points the pending index at a new id unless it still points at a verification that
 * is pending. ARGV: expected old id, new id, ttl.
 */
const REPLACE_PENDING_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/** Storage only: deletes or extends the pending index only while it points at the given id. ARGV: id, ttl ('' = delete). */
const TOUCH_PENDING_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

/** Each touches one key, the verification's hash or its pending index, so each runs unchanged on Redis Cluster. */
export const VERIFICATION_SCRIPTS = {
  otpCreate: { numberOfKeys: 1, lua: CREATE_SCRIPT },
  otpCheck: { numberOfKeys: 1, lua: CHECK_SCRIPT },
  otpResend: { numberOfKeys: 1, lua: RESEND_SCRIPT },
  otpCancel: { numberOfKeys: 1, lua: CANCEL_SCRIPT },
  otpDelivery: { numberOfKeys: 1, lua: DELIVERY_SCRIPT },
  otpDeliveryUnlessMarked: { numberOfKeys: 2, lua: DELIVERY_UNLESS_MARKED_SCRIPT },
  otpReplacePending: { numberOfKeys: 1, lua: REPLACE_PENDING_SCRIPT },
  otpTouchPending: { numberOfKeys: 1, lua: TOUCH_PENDING_SCRIPT },
  otpMarkPrivate: { numberOfKeys: 1, lua: MARK_PRIVATE_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpCreate(key: string, ttl: number, ...fields: (string | number)[]): Result<number, Context>;
    otpCheck(
      key: string,
      mode: 'digest' | 'external',
      candidate: string,
      now: number,
      retention: number,
    ): Result<[string, string[]?], Context>;
    otpResend(key: string, digest: string, expiresAt: number, now: number, retention: number): Result<[string, string[]?], Context>;
    otpCancel(key: string, now: number, retention: number): Result<number, Context>;
    otpDelivery(key: string, update: string, now: number, retention: number): Result<number, Context>;
    otpDeliveryUnlessMarked(key: string, mark: string, update: string, now: number, retention: number): Result<number, Context>;
    otpReplacePending(key: string, expected: string, next: string, ttl: number): Result<number, Context>;
    otpTouchPending(key: string, id: string, ttl: string): Result<number, Context>;
    otpMarkPrivate(key: string): Result<number, Context>;
  }
}
