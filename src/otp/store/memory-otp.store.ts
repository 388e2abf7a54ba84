import type { CodeCandidate } from '../codes/otp-codes.js';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { SendBudget } from '../limits/send-limiter.js';
import type {
  CheckOutcome,
  CheckScope,
  DeliveryUpdate,
  NewCode,
  ResendOutcome,
  ScopedCheckOutcome,
  VerificationRecord,
} from '../otp.types.js';
import { RETENTION_MS, type OtpStore } from './otp-store.js';
import {
  cancel,
  check,
  checkScoped,
  isPending,
  markDeliveryPrivate,
  reportDelivery,
  resend,
  type Transition,
} from './verification-transitions.js';

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
    return this.apply(id, code.now, (record) => resend(record, code));
  }

  async check(id: string, candidate: CodeCandidate, now: number): Promise<CheckOutcome> {
    return this.apply(id, now, (record) => check(record, candidate, now));
  }

  async checkById(id: string, scope: CheckScope, short: string, now: number): Promise<ScopedCheckOutcome> {
    return this.apply(id, now, (record) => checkScoped(record, scope, short, now));
  }

  async settleExternalCheck(id: string, approved: boolean, now: number): Promise<CheckOutcome> {
    return this.apply(id, now, (record) => check(record, { approved }, now));
  }

  async cancel(id: string, now: number) {
    return this.apply(id, now, (record) => cancel(record, now));
  }

  async markDeliveryPrivate(id: string) {
    this.apply(id, Date.now(), markDeliveryPrivate);
  }

  async updateDelivery(id: string, update: DeliveryUpdate, now: number) {
    return this.apply(id, now, (record) => reportDelivery(record, update, now));
  }

  /**
   * Runs one transition on the stored record and stores what it decided. Replacing a key keeps its
   * place in the map, so eviction order stays creation order. The outcome is a copy: it may carry the
   * stored record.
   */
  private apply<Outcome>(id: string, now: number, transition: (record: VerificationRecord | undefined) => Transition<Outcome>): Outcome {
    const { outcome, next, settled } = transition(this.records.get(id));
    if (next) this.records.set(id, next);
    if (next && settled) this.settled(next, now);
    return structuredClone(outcome);
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
