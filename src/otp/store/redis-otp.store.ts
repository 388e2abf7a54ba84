import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import { SEND_BUDGETS, type SendBudget } from '../limits/send-limiter.js';
import type {
  CheckOutcome,
  DeliveryStatus,
  DeliveryUpdate,
  NewCode,
  ResendOutcome,
  VerificationRecord,
  VerificationStatus,
} from '../otp.types.js';
import { RETENTION_MS, type OtpStore } from './otp-store.js';

/**
 * Key layout. Each verification is one hash under its own hash tag, so every script that decides
 * something touches one key and runs unchanged on Redis Cluster. The pending index (`to`+`purpose`+
 * `budget`+`subject` → id) lives in another slot and is only ever a hint: whatever it points to is re-checked.
 */
const verificationKey = (id: string) => `otp:{v:${id}}`;
const pendingKey = (to: string, purpose: string, budget: SendBudget, subject?: string) =>
  subject === undefined ? `otp:{p:${budget}:${purpose}:${to}}` : `otp:{p:${budget}:${purpose}:${to}:s:${subject}}`;

/** Keeps a verification readable for RETENTION_MS after its code expires or it last changed. */
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
 * The check, in one script: read, compare the digest in constant time (no early exit on the first
 * differing byte), count a wrong code, lock at the limit, approve once.
 * ARGV: mode ('digest' | 'external'), candidate digest or '1'/'0', now, retention.
 */
const CHECK_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'digest', 'expiresAt', 'attempts', 'maxAttempts')
if not h[1] then return {'not_found'} end
local now = tonumber(ARGV[3])
local expiresAt = tonumber(h[3])
if h[1] == 'max_attempts' then return {'locked', redis.call('HGETALL', key)} end
if h[1] ~= 'pending' or now >= expiresAt then return {'not_found'} end
local attempts, max = tonumber(h[4]), tonumber(h[5])
if attempts >= max then
  redis.call('HSET', key, 'status', 'max_attempts', 'digest', '', 'updatedAt', ARGV[3])
  keep(key, expiresAt, now, tonumber(ARGV[4]))
  return {'locked', redis.call('HGETALL', key)}
end
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
if match then
  redis.call('HSET', key, 'status', 'approved', 'digest', '', 'updatedAt', ARGV[3])
  keep(key, expiresAt, now, tonumber(ARGV[4]))
  return {'approved', redis.call('HGETALL', key)}
end
attempts = attempts + 1
if attempts >= max then
  redis.call('HSET', key, 'attempts', attempts, 'status', 'max_attempts', 'digest', '', 'updatedAt', ARGV[3])
else
  redis.call('HSET', key, 'attempts', attempts, 'updatedAt', ARGV[3])
end
keep(key, expiresAt, now, tonumber(ARGV[4]))
return {'incorrect', redis.call('HGETALL', key)}
`;

/** ARGV: digest, expiresAt, now, retention. */
const RESEND_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'expiresAt', 'sends', 'maxSends')
local now = tonumber(ARGV[3])
if not h[1] or h[1] ~= 'pending' or now >= tonumber(h[2]) then return {'not_pending'} end
if tonumber(h[3]) >= tonumber(h[4]) then return {'max_sends', redis.call('HGETALL', key)} end
redis.call('HSET', key, 'digest', ARGV[1], 'expiresAt', ARGV[2], 'sends', tonumber(h[3]) + 1, 'lastSentAt', ARGV[3],
  'updatedAt', ARGV[3], 'codeIssuer', '', 'dStatus', 'queued', 'dProvider', '', 'dAttempts', 0, 'dLastError', '', 'dUpdatedAt', ARGV[3])
keep(key, tonumber(ARGV[2]), now, tonumber(ARGV[4]))
return {'resent', redis.call('HGETALL', key)}
`;

/** ARGV: now, retention. */
const CANCEL_SCRIPT = `${KEEP}
local key = KEYS[1]
local h = redis.call('HMGET', key, 'status', 'expiresAt')
local now = tonumber(ARGV[1])
if not h[1] or h[1] ~= 'pending' or now >= tonumber(h[2]) then return 0 end
redis.call('HSET', key, 'status', 'canceled', 'digest', '', 'updatedAt', ARGV[1])
keep(key, tonumber(h[2]), now, tonumber(ARGV[2]))
return 1
`;

/** ARGV: JSON update, now, retention. Applies only to the send it reports on. Returns 1 when the verification failed. */
const DELIVERY_SCRIPT = `${KEEP}
local key = KEYS[1]
local u = cjson.decode(ARGV[1])
local h = redis.call('HMGET', key, 'status', 'sends', 'expiresAt')
if not h[1] or tonumber(h[2]) ~= u.sendNumber then return -1 end
local now = tonumber(ARGV[2])
redis.call('HSET', key, 'dStatus', u.status, 'dUpdatedAt', ARGV[2], 'updatedAt', ARGV[2])
if u.provider ~= nil then redis.call('HSET', key, 'dProvider', u.provider) end
if u.attempts ~= nil then redis.call('HSET', key, 'dAttempts', u.attempts) end
if u.lastError ~= nil then redis.call('HSET', key, 'dLastError', u.lastError) end
if u.codeIssuer ~= nil then redis.call('HSET', key, 'codeIssuer', u.codeIssuer) end
local failed = 0
if u.status == 'failed' and h[1] == 'pending' then
  redis.call('HSET', key, 'status', 'failed', 'digest', '')
  failed = 1
end
keep(key, tonumber(h[3]), now, tonumber(ARGV[3]))
return failed
`;

/** Only on a verification that exists: HSET alone would leave a stub hash without an expiry. */
const MARK_PRIVATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'deliveryPrivate', '1') end
return 1
`;

/** Points the pending index at a new id unless it still points at a verification that is pending. ARGV: expected old id, new id, ttl. */
const REPLACE_PENDING_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/** Deletes or extends the pending index only while it points at the given id. ARGV: id, ttl ('' = delete). */
const TOUCH_PENDING_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

type Scripted = RedisClient & {
  otpCreate(key: string, ttl: number, ...fields: (string | number)[]): Promise<number>;
  otpCheck(key: string, mode: string, candidate: string, now: number, retention: number): Promise<[string, string[]?]>;
  otpResend(key: string, digest: string, expiresAt: number, now: number, retention: number): Promise<[string, string[]?]>;
  otpCancel(key: string, now: number, retention: number): Promise<number>;
  otpDelivery(key: string, update: string, now: number, retention: number): Promise<number>;
  otpReplacePending(key: string, expected: string, next: string, ttl: number): Promise<number>;
  otpTouchPending(key: string, id: string, ttl: string): Promise<number>;
  otpMarkPrivate(key: string): Promise<number>;
};

@Injectable()
export class RedisOtpStore implements OtpStore {
  private readonly redis: Scripted;

  constructor(@Inject(REDIS_CLIENT) client: RedisClient) {
    const commands: Record<string, string> = {
      otpCreate: CREATE_SCRIPT,
      otpCheck: CHECK_SCRIPT,
      otpResend: RESEND_SCRIPT,
      otpCancel: CANCEL_SCRIPT,
      otpDelivery: DELIVERY_SCRIPT,
      otpReplacePending: REPLACE_PENDING_SCRIPT,
      otpTouchPending: TOUCH_PENDING_SCRIPT,
      otpMarkPrivate: MARK_PRIVATE_SCRIPT,
    };
    for (const [name, lua] of Object.entries(commands)) {
      if (!(name in client)) client.defineCommand(name, { numberOfKeys: 1, lua });
    }
    this.redis = client as Scripted;
  }

  async createPending(record: VerificationRecord) {
    const key = verificationKey(record.id);
    const index = pendingKey(record.to, record.purpose, record.budget, record.subject);
    const ttl = Math.max(1, record.expiresAt - record.createdAt);
    // The record first, so the index never points at nothing.
    await this.redis.otpCreate(key, ttl + RETENTION_MS, ...Object.entries(toHash(record)).flat());
    for (let attempt = 0; attempt < 3; attempt++) {
      if ((await this.redis.set(index, record.id, 'PX', ttl, 'NX')) === 'OK') return { created: true as const };
      const existing = await this.redis.get(index);
      if (existing && (await this.isPending(existing, record.createdAt))) {
        await this.redis.del(key);
        return { created: false as const, pendingId: existing };
      }
      if (existing && (await this.redis.otpReplacePending(index, existing, record.id, ttl)) === 1) return { created: true as const };
    }
    // Lost every race to concurrent starts: defer to whichever is pending now.
    const winner = await this.findPendingId(record.to, record.purpose, record.budget, record.createdAt, record.subject);
    await this.redis.del(key);
    if (winner) return { created: false as const, pendingId: winner };
    throw new Error('could not register the pending verification');
  }

  async findPendingId(to: string, purpose: string, budget: SendBudget, now: number, subject?: string) {
    const id = await this.redis.get(pendingKey(to, purpose, budget, subject));
    return id && (await this.isPending(id, now)) ? id : undefined;
  }

  async get(id: string) {
    const hash = await this.redis.hgetall(verificationKey(id));
    return hash.id ? fromHash(hash) : undefined;
  }

  async resend(id: string, code: NewCode): Promise<ResendOutcome> {
    const [result, hash] = await this.redis.otpResend(verificationKey(id), code.digest, code.expiresAt, code.now, RETENTION_MS);
    if (result === 'not_pending') return { result };
    const record = fromPairs(hash!);
    if (result === 'resent') await this.redis.otpTouchPending(pendingKey(record.to, record.purpose, record.budget, record.subject), id, String(Math.max(1, code.expiresAt - code.now)));
    return { result: result as 'resent' | 'max_sends', record };
  }

  check(id: string, candidateDigest: string, now: number) {
    return this.settle(id, 'digest', candidateDigest, now);
  }

  settleExternalCheck(id: string, approved: boolean, now: number) {
    return this.settle(id, 'external', approved ? '1' : '0', now);
  }

  async cancel(id: string, now: number) {
    const canceled = (await this.redis.otpCancel(verificationKey(id), now, RETENTION_MS)) === 1;
    if (canceled) await this.releasePending(id);
    return canceled;
  }

  async updateDelivery(id: string, update: DeliveryUpdate, now: number) {
    const payload: Record<string, unknown> = { sendNumber: update.sendNumber, status: update.status };
    if (update.provider !== undefined) payload.provider = update.provider ?? '';
    if (update.attempts !== undefined) payload.attempts = update.attempts;
    if (update.lastError !== undefined) payload.lastError = update.lastError ?? '';
    if (update.codeIssuer !== undefined) payload.codeIssuer = update.codeIssuer ?? '';
    const failed = await this.redis.otpDelivery(verificationKey(id), JSON.stringify(payload), now, RETENTION_MS);
    if (failed === 1) await this.releasePending(id);
  }

  async markDeliveryPrivate(id: string) {
    await this.redis.otpMarkPrivate(verificationKey(id));
  }

  private async settle(id: string, mode: string, candidate: string, now: number): Promise<CheckOutcome> {
    const [result, hash] = await this.redis.otpCheck(verificationKey(id), mode, candidate, now, RETENTION_MS);
    if (result === 'not_found') return { result };
    const record = fromPairs(hash!);
    if (record.status !== 'pending') await this.releasePending(id, record);
    return { result: result as 'approved' | 'incorrect' | 'locked', record };
  }

  private async isPending(id: string, now: number): Promise<boolean> {
    const [status, expiresAt] = await this.redis.hmget(verificationKey(id), 'status', 'expiresAt');
    return status === 'pending' && now < Number(expiresAt);
  }

  private async releasePending(id: string, known?: VerificationRecord) {
    const record = known ?? (await this.get(id));
    if (record) await this.redis.otpTouchPending(pendingKey(record.to, record.purpose, record.budget, record.subject), id, '');
  }
}

function toHash(record: VerificationRecord): Record<string, string | number> {
  return {
    id: record.id,
    channel: record.channel,
    to: record.to,
    purpose: record.purpose,
    budget: record.budget,
    locale: record.locale,
    status: record.status,
    digest: record.digest,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    expiresAt: record.expiresAt,
    attempts: record.attempts,
    maxAttempts: record.maxAttempts,
    sends: record.sends,
    maxSends: record.maxSends,
    lastSentAt: record.lastSentAt,
    codeIssuer: record.codeIssuer ?? '',
    dStatus: record.delivery.status,
    dProvider: record.delivery.provider ?? '',
    dAttempts: record.delivery.attempts,
    dLastError: record.delivery.lastError ?? '',
    dUpdatedAt: record.delivery.updatedAt,
    ...(record.deliveryPrivate ? { deliveryPrivate: 1 } : {}),
    ...(record.subject !== undefined ? { subject: record.subject } : {}),
  };
}

function fromPairs(pairs: string[]): VerificationRecord {
  const hash: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) hash[pairs[i]!] = pairs[i + 1]!;
  return fromHash(hash);
}

function fromHash(hash: Record<string, string>): VerificationRecord {
  return {
    id: hash.id!,
    channel: hash.channel as VerificationRecord['channel'],
    to: hash.to!,
    purpose: hash.purpose!,
    // Stored before budgets existed: the Verifications API's, so no auth flow ever completes one.
    budget: SEND_BUDGETS.includes(hash.budget as SendBudget) ? (hash.budget as SendBudget) : 'api',
    locale: hash.locale!,
    status: hash.status as VerificationStatus,
    digest: hash.digest ?? '',
    createdAt: Number(hash.createdAt),
    updatedAt: Number(hash.updatedAt),
    expiresAt: Number(hash.expiresAt),
    attempts: Number(hash.attempts),
    maxAttempts: Number(hash.maxAttempts),
    sends: Number(hash.sends),
    maxSends: Number(hash.maxSends),
    lastSentAt: Number(hash.lastSentAt),
    codeIssuer: hash.codeIssuer || null,
    delivery: {
      status: hash.dStatus as DeliveryStatus,
      provider: hash.dProvider || null,
      attempts: Number(hash.dAttempts),
      lastError: hash.dLastError || null,
      updatedAt: Number(hash.dUpdatedAt),
    },
    ...(hash.deliveryPrivate === '1' ? { deliveryPrivate: true } : {}),
    ...(hash.subject !== undefined ? { subject: hash.subject } : {}),
  };
}
