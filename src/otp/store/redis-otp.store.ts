import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import type { SendBudget } from '../limits/send-limiter.js';
import type { CheckOutcome, DeliveryUpdate, NewCode, ResendOutcome, VerificationRecord } from '../otp.types.js';
import { RETENTION_MS, type OtpStore } from './otp-store.js';
import { fromHash, fromPairs, toHash } from './verification-hash.js';
import { VERIFICATION_SCRIPTS } from './verification.scripts.js';

/**
 * Key layout. Each verification is one hash under its own hash tag, so every script that decides
 * something touches one key and runs unchanged on Redis Cluster. The pending index (`to`+`purpose`+
 * `budget`+`subject` → id) lives in another slot and is only ever a hint: whatever it points to is re-checked.
 */
const verificationKey = (id: string) => `otp:{v:${id}}`;
const pendingKey = (to: string, purpose: string, budget: SendBudget, subject?: string) =>
  subject === undefined ? `otp:{p:${budget}:${purpose}:${to}}` : `otp:{p:${budget}:${purpose}:${to}:s:${subject}}`;

@Injectable()
export class RedisOtpStore implements OtpStore {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    requireScripts(redis, VERIFICATION_SCRIPTS);
  }

  async createPending(record: VerificationRecord) {
    const key = verificationKey(record.id);
    const index = pendingKey(record.to, record.purpose, record.budget, record.subject);
    const ttl = Math.max(1, record.expiresAt - record.createdAt);
    // Record and index leave in one write, the record first, so on one server the index never points at
    // nothing; elsewhere a reader that finds the record missing treats the index as the hint it is.
    const [, claimed] = await Promise.all([
      this.redis.otpCreate(key, ttl + RETENTION_MS, ...Object.entries(toHash(record)).flat()),
      this.redis.set(index, record.id, 'PX', ttl, 'NX'),
    ]);
    if (claimed === 'OK') return { created: true as const };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0 && (await this.redis.set(index, record.id, 'PX', ttl, 'NX')) === 'OK') return { created: true as const };
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
    if (result === 'resent') {
      const index = pendingKey(record.to, record.purpose, record.budget, record.subject);
      await this.redis.otpTouchPending(index, id, String(Math.max(1, code.expiresAt - code.now)));
    }
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

  async updateDelivery(id: string, update: DeliveryUpdate, now: number, unlessMarked?: string) {
    const payload: Record<string, unknown> = { sendNumber: update.sendNumber, status: update.status };
    if (update.provider !== undefined) payload.provider = update.provider ?? '';
    if (update.attempts !== undefined) payload.attempts = update.attempts;
    if (update.lastError !== undefined) payload.lastError = update.lastError ?? '';
    if (update.codeIssuer !== undefined) payload.codeIssuer = update.codeIssuer ?? '';
    if (update.messageId !== undefined) payload.messageId = update.messageId;
    if (update.errorCode !== undefined) payload.errorCode = update.errorCode;
    if (update.deliveredAt !== undefined) payload.deliveredAt = update.deliveredAt;
    const result =
      unlessMarked === undefined
        ? await this.redis.otpDelivery(verificationKey(id), JSON.stringify(payload), now, RETENTION_MS)
        : await this.redis.otpDeliveryUnlessMarked(verificationKey(id), unlessMarked, JSON.stringify(payload), now, RETENTION_MS);
    if (result === 1) await this.releasePending(id);
    return result === -1 ? 'ignored' : result === 1 ? 'failed' : 'applied';
  }

  async markDeliveryPrivate(id: string) {
    await this.redis.otpMarkPrivate(verificationKey(id));
  }

  private async settle(id: string, mode: 'digest' | 'external', candidate: string, now: number): Promise<CheckOutcome> {
    const [result, hash] = await this.redis.otpCheck(verificationKey(id), mode, candidate, now, RETENTION_MS);
    if (result === 'not_found') return { result };
    const record = fromPairs(hash!);
    // Not awaited: the index is only a hint (a settled verification behind it is never taken for pending),
    // and the release then leaves in the same write as whatever the caller does next about the outcome.
    if (record.status !== 'pending') this.releasePending(id, record).catch(() => undefined);
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
