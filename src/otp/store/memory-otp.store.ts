import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { digestsEqual } from '../codes/otp-codes.js';
import type { SendBudget } from '../limits/send-limiter.js';
import type { CheckOutcome, DeliveryUpdate, NewCode, ResendOutcome, VerificationRecord } from '../otp.types.js';
import { RETENTION_MS, type OtpStore } from './otp-store.js';

const pendingKey = (to: string, purpose: string, budget: SendBudget, subject?: string) =>
  subject === undefined ? `${budget}\0${purpose}\0${to}` : `${budget}\0${purpose}\0${to}\0${subject}`;

/**
 * Settled verifications (approved, locked, canceled, failed, or pending past their expiry) kept at
 * most, oldest first out, so a flood of sign-ups cannot run a development server out of memory. About
 * 0.7 KB each: 50,000 is some 36 MiB, more than a development server settles in the 24 h they stay
 * readable. Pending verifications are never evicted.
 */
export const MAX_SETTLED_RECORDS = 50_000;

/**
 * Embedded mode: one process, so plain synchronous code between awaits is already atomic.
 * Records are copied in and out so callers can never mutate stored state by accident. The map keeps
 * them in creation order, which is the order settled ones are evicted in beyond `maxSettled`.
 */
@Injectable()
export class MemoryOtpStore implements OtpStore, OnModuleDestroy {
  private readonly records = new Map<string, VerificationRecord>();
  private readonly pending = new Map<string, string>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), 60_000).unref();
  /** Counting what is settled takes a scan, so it runs once per 1% of the cap's new or settled records. */
  private readonly trimBatch: number;
  private changesSinceTrim = 0;

  constructor(private readonly maxSettled: number = MAX_SETTLED_RECORDS) {
    this.trimBatch = Math.max(1, Math.ceil(maxSettled / 100));
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  async createPending(record: VerificationRecord) {
    const key = pendingKey(record.to, record.purpose, record.budget, record.subject);
    const existing = this.pending.get(key);
    const current = existing ? this.records.get(existing) : undefined;
    if (current && isPending(current, record.createdAt)) return { created: false as const, pendingId: current.id };
    this.records.set(record.id, structuredClone(record));
    this.pending.set(key, record.id);
    this.noteChange(record.createdAt);
    return { created: true as const };
  }

  async findPendingId(to: string, purpose: string, budget: SendBudget, now: number, subject?: string) {
    const id = this.pending.get(pendingKey(to, purpose, budget, subject));
    const record = id ? this.records.get(id) : undefined;
    return record && isPending(record, now) ? record.id : undefined;
  }

  async get(id: string) {
    const record = this.records.get(id);
    return record ? structuredClone(record) : undefined;
  }

  async resend(id: string, code: NewCode): Promise<ResendOutcome> {
    const record = this.records.get(id);
    if (!record || !isPending(record, code.now)) return { result: 'not_pending' };
    if (record.sends >= record.maxSends) return { result: 'max_sends', record: structuredClone(record) };
    Object.assign(record, {
      digest: code.digest,
      expiresAt: code.expiresAt,
      sends: record.sends + 1,
      lastSentAt: code.now,
      updatedAt: code.now,
      codeIssuer: null,
      delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: code.now },
    });
    return { result: 'resent', record: structuredClone(record) };
  }

  async check(id: string, candidateDigest: string, now: number): Promise<CheckOutcome> {
    return this.settle(id, now, (record) => digestsEqual(record.digest, candidateDigest));
  }

  async settleExternalCheck(id: string, approved: boolean, now: number): Promise<CheckOutcome> {
    return this.settle(id, now, () => approved);
  }

  async cancel(id: string, now: number) {
    const record = this.records.get(id);
    if (!record || !isPending(record, now)) return false;
    Object.assign(record, { status: 'canceled', digest: '', updatedAt: now });
    this.settled(record, now);
    return true;
  }

  async markDeliveryPrivate(id: string) {
    const record = this.records.get(id);
    if (record) record.deliveryPrivate = true;
  }

  async updateDelivery(id: string, update: DeliveryUpdate, now: number) {
    const record = this.records.get(id);
    if (!record || record.sends !== update.sendNumber) return;
    record.delivery = {
      status: update.status,
      provider: update.provider !== undefined ? update.provider : record.delivery.provider,
      attempts: update.attempts ?? record.delivery.attempts,
      lastError: update.lastError !== undefined ? update.lastError : record.delivery.lastError,
      updatedAt: now,
    };
    if (update.codeIssuer !== undefined) record.codeIssuer = update.codeIssuer;
    record.updatedAt = now;
    if (update.status === 'failed' && record.status === 'pending') {
      Object.assign(record, { status: 'failed', digest: '' });
      this.settled(record, now);
    }
  }

  private settle(id: string, now: number, matches: (record: VerificationRecord) => boolean): CheckOutcome {
    const record = this.records.get(id);
    if (!record) return { result: 'not_found' };
    if (record.status === 'max_attempts') return { result: 'locked', record: structuredClone(record) };
    if (!isPending(record, now)) return { result: 'not_found' };
    if (record.attempts >= record.maxAttempts) {
      Object.assign(record, { status: 'max_attempts', digest: '', updatedAt: now });
      this.settled(record, now);
      return { result: 'locked', record: structuredClone(record) };
    }
    if (matches(record)) {
      Object.assign(record, { status: 'approved', digest: '', updatedAt: now });
      this.settled(record, now);
      return { result: 'approved', record: structuredClone(record) };
    }
    record.attempts += 1;
    record.updatedAt = now;
    if (record.attempts >= record.maxAttempts) {
      Object.assign(record, { status: 'max_attempts', digest: '' });
      this.settled(record, now);
    }
    return { result: 'incorrect', record: structuredClone(record) };
  }

  private release(record: VerificationRecord) {
    const key = pendingKey(record.to, record.purpose, record.budget, record.subject);
    if (this.pending.get(key) === record.id) this.pending.delete(key);
  }

  private settled(record: VerificationRecord, now: number) {
    this.release(record);
    this.noteChange(now);
  }

  private noteChange(now: number) {
    this.changesSinceTrim += 1;
    if (this.changesSinceTrim >= this.trimBatch && this.records.size > this.maxSettled) this.trim(now);
  }

  /** Evicts the oldest settled verifications beyond `maxSettled`. */
  private trim(now: number) {
    this.changesSinceTrim = 0;
    let live = 0;
    for (const record of this.records.values()) if (isPending(record, now)) live += 1;
    let excess = this.records.size - live - this.maxSettled;
    for (const [id, record] of this.records) {
      if (excess <= 0) break;
      if (isPending(record, now)) continue;
      this.release(record);
      this.records.delete(id);
      excess -= 1;
    }
  }

  private sweep(now: number) {
    for (const [id, record] of this.records) {
      if (Math.max(record.updatedAt, record.expiresAt) + RETENTION_MS < now) {
        this.release(record);
        this.records.delete(id);
      }
    }
  }
}

function isPending(record: VerificationRecord, now: number): boolean {
  return record.status === 'pending' && now < record.expiresAt;
}
