import type { Result } from 'ioredis';
import type { RedisScripts } from '../../redis/redis-scripts.js';
import { codesLua, DELIVERY_FIELD, FIELD, layoutLua, SHORT_CODES } from './verification-hash.js';

/**
 * The Redis store's Lua. Each script that decides something runs one function of
 * verification-transitions.ts on the verification's hash, atomically, in the same steps and the same
 * order (the comments name them), so that both stores keep one state machine; the store contract suite
 * (test/otp-store.e2e-spec.ts) runs both. Field names and how values are stored (times since createdAt,
 * the digest's bytes, statuses as their codes) are those of verification-hash.ts. What only Redis needs is
 * marked as such: the hash's expiry (`keep`) and its layout (`hmget`, `put`, and `status`/`dstatus`, which
 * read a status written as its code or, by the previous version, in full; `dcode` writes one). A counter
 * or a time of 0 is no field, and reads as 0. The pending index's scripts are in pending-index.scripts.ts.
 */

const F = quoted(FIELD);
const D = quoted(DELIVERY_FIELD);
/** Each status's code, as a Lua string literal. */
const S = quoted(SHORT_CODES.status);
const DS = quoted(SHORT_CODES.deliveryStatus);
const B = quoted(SHORT_CODES.budget);

/**
 * Storage only: keeps a verification readable for RETENTION_MS after its code expires or it last
 * changed. `hmget`, `hset`, `hdel` and `put` read and write the verification's hash as if each field had
 * its own, whatever its layout (verification-hash.ts, `layoutLua`); `hmget` rewrites a hash of an earlier
 * layout in this one, and comes first in every script that writes.
 */
const KEEP = `${layoutLua()}${codesLua()}
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
 * check(): compare the digest in constant time (no early exit on the first differing byte), count a wrong
 * code, lock at the limit, approve once, on the fields `h` read (status, digest, createdAt, expiresAt,
 * attempts, maxAttempts, in that order). Times in the hash count from its createdAt. `candidate` is the
 * digest's bytes or, in mode 'external', the provider's verdict ('1'/'0'); `short` the short digest's bytes
 * (for a stored digest of 16 bytes, as this version writes) or ''.
 */
const CHECK = `${KEEP}
local function check(key, h, mode, candidate, short, now, retention)
  -- check(): no record
  if not h[1] then return {'not_found'} end
  local since = now - tonumber(h[3])
  local expiresAt = tonumber(h[3]) + tonumber(h[4])
  local current = status(h[1])
  -- check(): already locked
  if current == 'max_attempts' then return {'locked', redis.call('HGETALL', key)} end
  -- check(): not pending (isPending)
  if current ~= 'pending' or now >= expiresAt then return {'not_found'} end
  local attempts, max = tonumber(h[5] or 0), tonumber(h[6])
  -- check(): attempts used up, settle('locked')
  if attempts >= max then
    hset(key, ${F.status}, ${S.max_attempts}, ${F.digest}, '', ${F.updatedAt}, since)
    keep(key, expiresAt, now, retention)
    return {'locked', redis.call('HGETALL', key)}
  end
  -- matches(): the provider's verdict, or digestsEqual() (an empty stored digest never matches)
  local match = false
  if mode == 'external' then
    match = candidate == '1'
  else
    -- matchesCandidate(): the stored digest's length says which of the candidate's it is compared with.
    local stored = h[2] or ''
    local compared = #stored == 16 and short or candidate
    if #stored > 0 and #stored == #compared then
      local diff = 0
      for i = 1, #stored do
        diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(compared, i)))
      end
      match = diff == 0
    end
  end
  -- check(): settle('approved')
  if match then
    hset(key, ${F.status}, ${S.approved}, ${F.digest}, '', ${F.updatedAt}, since)
    keep(key, expiresAt, now, retention)
    return {'approved', redis.call('HGETALL', key)}
  end
  -- check(): a wrong code counts; the one that reaches the limit locks, settle('incorrect')
  attempts = attempts + 1
  if attempts >= max then
    hset(key, ${F.attempts}, attempts, ${F.status}, ${S.max_attempts}, ${F.digest}, '', ${F.updatedAt}, since)
  else
    hset(key, ${F.attempts}, attempts, ${F.updatedAt}, since)
  end
  keep(key, expiresAt, now, retention)
  return {'incorrect', redis.call('HGETALL', key)}
end
`;

const CHECKED_FIELDS = `${F.status}, ${F.digest}, ${F.createdAt}, ${F.expiresAt}, ${F.attempts}, ${F.maxAttempts}`;

/** check(). ARGV: mode ('digest' | 'external'), candidate, now, retention, short (see CHECK). */
const CHECK_SCRIPT = `${CHECK}
local h = hmget(KEYS[1], ${CHECKED_FIELDS})
return check(KEYS[1], h, ARGV[1], ARGV[2], ARGV[5], tonumber(ARGV[3]), tonumber(ARGV[4]))
`;

/**
 * checkScoped(): the check by id alone, one round trip where reading the verification first took two.
 * ARGV: the short digest's bytes, now, retention, the purpose ('' for any), then each budget of the scope
 * as the hash may hold it (its code, and in full as the previous version wrote it).
 */
const CHECK_SCOPED_SCRIPT = `${CHECK}
local key = KEYS[1]
local h = hmget(key, ${CHECKED_FIELDS}, ${F.budget}, ${F.purpose}, ${F.codeIssuer})
-- checkScoped(): no record, or outside the scope (a hash without a budget is the Verifications API's)
if not h[1] then return {'not_found'} end
local inScope = false
for i = 5, #ARGV do
  if (h[7] or ${B.api}) == ARGV[i] then inScope = true end
end
if not inScope or (ARGV[4] ~= '' and h[8] ~= ARGV[4]) then return {'not_found'} end
-- checkScoped(): a code its provider checks, or a digest bound to the purpose: the caller reads it first
if (h[9] and h[9] ~= '') or #(h[2] or '') > 16 then return {'deferred'} end
local checked = check(key, h, 'digest', '', ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
-- checkScoped(): no longer pending, with its record
if checked[1] == 'not_found' then return {'not_found', redis.call('HGETALL', key)} end
return checked
`;

/** resend(). ARGV: digest's bytes, expiresAt, now, retention. */
const RESEND_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = hmget(key, ${F.status}, ${F.createdAt}, ${F.expiresAt}, ${F.sends}, ${F.maxSends})
local now = tonumber(ARGV[3])
-- resend(): no record, or not pending (isPending)
if not h[1] or status(h[1]) ~= 'pending' or now >= tonumber(h[2]) + tonumber(h[3]) then return {'not_pending'} end
local sends = tonumber(h[4] or 0)
-- resend(): send limit reached
if sends >= tonumber(h[5] or 0) then return {'max_sends', redis.call('HGETALL', key)} end
-- resend(): the new code, one more send, a new delivery
local since = now - tonumber(h[2])
hset(key, ${F.digest}, ARGV[1], ${F.expiresAt}, tonumber(ARGV[2]) - tonumber(h[2]), ${F.sends}, sends + 1,
  ${F.lastSentAt}, since, ${F.updatedAt}, since, ${D.status}, ${DS.queued}, ${D.updatedAt}, since)
hdel(key, ${F.codeIssuer}, ${D.attempts}, ${D.provider}, ${D.lastError}, ${D.messageId}, ${D.errorCode}, ${D.deliveredAt})
keep(key, tonumber(ARGV[2]), now, tonumber(ARGV[4]))
return {'resent', redis.call('HGETALL', key)}
`;

/** cancel(). ARGV: now, retention. */
const CANCEL_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = hmget(key, ${F.status}, ${F.createdAt}, ${F.expiresAt})
local now = tonumber(ARGV[1])
-- cancel(): no record, or not pending (isPending)
if not h[1] or status(h[1]) ~= 'pending' or now >= tonumber(h[2]) + tonumber(h[3]) then return 0 end
-- cancel(): canceled, digest forgotten
hset(key, ${F.status}, ${S.canceled}, ${F.digest}, '', ${F.updatedAt}, now - tonumber(h[2]))
keep(key, tonumber(h[2]) + tonumber(h[3]), now, tonumber(ARGV[2]))
return 1
`;

/**
 * reportDelivery(). ARGV: JSON update (absent fields are left as they are, '' stands for null), now,
 * retention. Returns -1 when ignored, 1 when the verification failed, else 0.
 */
const DELIVERY_SCRIPT = `${KEEP}
local key = KEYS[1]
local u = cjson.decode(ARGV[1])
local h = hmget(key, ${F.status}, ${F.sends}, ${F.createdAt}, ${F.expiresAt}, ${D.status}, ${D.messageId})
-- reportDelivery(): no record, or a report on an earlier send
if not h[1] or tonumber(h[2] or 0) ~= u.sendNumber then return -1 end
local now = tonumber(ARGV[2])
local createdAt = tonumber(h[3])
local since = now - createdAt
local expiresAt = createdAt + tonumber(h[4])
-- applyReceipt(): only the message it names, only from 'sent'
if u.status == 'delivered' or u.status == 'undelivered' then
  if dstatus(h[5]) ~= 'sent' or u.messageId == nil or h[6] ~= u.messageId then return -1 end
  hset(key, ${D.status}, dcode(u.status), ${D.updatedAt}, since, ${F.updatedAt}, since)
  if u.errorCode ~= nil then hset(key, ${D.errorCode}, u.errorCode) end
  if u.status == 'delivered' then hset(key, ${D.deliveredAt}, (u.deliveredAt or now) - createdAt) end
  keep(key, expiresAt, now, tonumber(ARGV[3]))
  return 0
end
-- reportDelivery(): what the report says, keeping what it leaves out
hset(key, ${D.status}, dcode(u.status), ${D.updatedAt}, since, ${F.updatedAt}, since)
if u.provider ~= nil then put(key, ${D.provider}, u.provider) end
if u.attempts ~= nil then put(key, ${D.attempts}, u.attempts) end
if u.lastError ~= nil then put(key, ${D.lastError}, u.lastError) end
if u.codeIssuer ~= nil then put(key, ${F.codeIssuer}, u.codeIssuer) end
-- reportDelivery(): a newly accepted message starts its own story
if u.status == 'sent' then
  hdel(key, ${D.errorCode}, ${D.deliveredAt}, ${D.messageId})
  if u.messageId ~= nil then hset(key, ${D.messageId}, u.messageId) end
end
-- reportDelivery(): a failed delivery fails a pending verification
local failed = 0
if u.status == 'failed' and status(h[1]) == 'pending' then
  hset(key, ${F.status}, ${S.failed}, ${F.digest}, '')
  failed = 1
end
keep(key, expiresAt, now, tonumber(ARGV[3]))
return failed
`;

/**
 * The same report, ignored (-1) when the delivery ledger marked this send as gone out: field ARGV[4]
 * of the verification's hash, or key KEYS[2] beside it (a mark the previous version set). A job that
 * runs again after its send then writes nothing, so the ledger check and a 'sending' report can leave
 * in one round trip.
 */
const DELIVERY_UNLESS_MARKED_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
${DELIVERY_SCRIPT}`;

/** markDeliveryPrivate(): only on a verification that exists; HSET alone would leave a stub hash without an expiry. */
const MARK_PRIVATE_SCRIPT = `${KEEP}
if hmget(KEYS[1], ${F.status})[1] then hset(KEYS[1], ${F.deliveryPrivate}, '1') end
return 1
`;

/**
 * Each touches the verification's hash (and otpDeliveryUnlessMarked a key beside it, under the same
 * hash tag), so each runs unchanged on Redis Cluster.
 */
export const VERIFICATION_SCRIPTS = {
  otpCreate: { numberOfKeys: 1, lua: CREATE_SCRIPT },
  otpCheck: { numberOfKeys: 1, lua: CHECK_SCRIPT },
  otpCheckScoped: { numberOfKeys: 1, lua: CHECK_SCOPED_SCRIPT },
  otpResend: { numberOfKeys: 1, lua: RESEND_SCRIPT },
  otpCancel: { numberOfKeys: 1, lua: CANCEL_SCRIPT },
  otpDelivery: { numberOfKeys: 1, lua: DELIVERY_SCRIPT },
  otpDeliveryUnlessMarked: { numberOfKeys: 2, lua: DELIVERY_UNLESS_MARKED_SCRIPT },
  otpMarkPrivate: { numberOfKeys: 1, lua: MARK_PRIVATE_SCRIPT },
} satisfies RedisScripts;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    otpCreate(key: string, ttl: number, ...fields: (string | number | Buffer)[]): Result<number, Context>;
    /** The Buffer forms answer the hash as bytes: it holds the digest's. */
    otpCheckBuffer(
      key: string,
      mode: 'digest' | 'external',
      candidate: Buffer | string,
      now: number,
      retention: number,
      shortCandidate: Buffer | string,
    ): Result<[Buffer, Buffer[]?], Context>;
    otpCheckScopedBuffer(
      key: string,
      short: Buffer,
      now: number,
      retention: number,
      purpose: string,
      ...budgets: string[]
    ): Result<[Buffer, Buffer[]?], Context>;
    otpResendBuffer(key: string, digest: Buffer, expiresAt: number, now: number, retention: number): Result<[Buffer, Buffer[]?], Context>;
    otpCancel(key: string, now: number, retention: number): Result<number, Context>;
    otpDelivery(key: string, update: string, now: number, retention: number): Result<number, Context>;
    otpDeliveryUnlessMarked(
      key: string,
      markKey: string,
      update: string,
      now: number,
      retention: number,
      markField: string,
    ): Result<number, Context>;
    otpMarkPrivate(key: string): Result<number, Context>;
  }
}

/** Field names as Lua string literals. */
function quoted<T extends Record<string, string>>(names: T): { readonly [K in keyof T]: string } {
  return Object.fromEntries(Object.entries(names).map(([key, name]) => [key, `'${name}'`])) as { [K in keyof T]: string };
}
