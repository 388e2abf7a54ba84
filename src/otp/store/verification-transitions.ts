import { type CodeCandidate, matchesCandidate, SHORT_DIGEST_HEX } from '../codes/otp-codes.js';
import {
  type CheckOutcome,
  type CheckScope,
  type DeliveryUpdate,
  isReceiptStatus,
  type NewCode,
  type ResendOutcome,
  type ScopedCheckOutcome,
  type VerificationRecord,
} from '../otp.types.js';

/**
 * What a verification does when it is checked, re-sent, canceled or reported on: pure functions from
 * the stored record (or none), the input and the time to what the caller is told and what is stored
 * next. The memory store runs them; the Redis store's Lua scripts (verification.scripts.ts) follow them
 * step by step, so both keep one state machine and the store contract suite holds them to it.
 */
export interface Transition<Outcome> {
  outcome: Outcome;
  /** The record to store in place of the old one; absent when nothing changed. */
  next?: VerificationRecord;
  /** The record left pending here: the pending index must stop pointing at it. */
  settled?: boolean;
}

/** Pending and not yet expired: the only state a check, resend or cancel acts on. */
export function isPending(record: VerificationRecord, now: number): boolean {
  return record.status === 'pending' && now < record.expiresAt;
}

/** What a check weighs: the digests of the code given, or the verdict of the provider that issued the code (Twilio Verify). */
export type Candidate = CodeCandidate | { approved: boolean };

/** Compares the digest, counts a wrong code, locks at the limit, approves once. */
export function check(record: VerificationRecord | undefined, candidate: Candidate, now: number): Transition<CheckOutcome> {
  if (!record) return { outcome: { result: 'not_found' } };
  if (record.status === 'max_attempts') return { outcome: { result: 'locked', record } };
  if (!isPending(record, now)) return { outcome: { result: 'not_found' } };
  if (record.attempts >= record.maxAttempts) return settle('locked', { ...record, status: 'max_attempts', digest: '', updatedAt: now });
  if (matches(record, candidate)) return settle('approved', { ...record, status: 'approved', digest: '', updatedAt: now });
  const attempts = record.attempts + 1;
  if (attempts >= record.maxAttempts) {
    return settle('incorrect', { ...record, attempts, status: 'max_attempts', digest: '', updatedAt: now });
  }
  const next: VerificationRecord = { ...record, attempts, updatedAt: now };
  return { outcome: { result: 'incorrect', record: next }, next };
}

/**
 * A check by id alone, given only the short digest of the code (over the id and code, `shortDigestCode`):
 * outside the scope is not found; a code its provider checks, or a digest of the other kind (bound to the
 * purpose: written by an earlier version, or for a destination whose wrong guesses count per day), is
 * deferred, untouched; anything else is `check`, and one no longer pending is not found with its record.
 */
export function checkScoped(
  record: VerificationRecord | undefined,
  scope: CheckScope,
  short: string,
  now: number,
): Transition<ScopedCheckOutcome> {
  if (!record || !scope.budgets.includes(record.budget) || (scope.purpose !== undefined && scope.purpose !== record.purpose)) {
    return { outcome: { result: 'not_found' } };
  }
  if (record.codeIssuer || record.digest.length > SHORT_DIGEST_HEX) return { outcome: { result: 'deferred' } };
  const checked = check(record, { digest: '', short }, now);
  return checked.outcome.result === 'not_found' ? { outcome: { result: 'not_found', record } } : checked;
}

function matches(record: VerificationRecord, candidate: Candidate): boolean {
  return 'approved' in candidate ? candidate.approved : matchesCandidate(record.digest, candidate);
}

function settle(result: 'approved' | 'incorrect' | 'locked', next: VerificationRecord): Transition<CheckOutcome> {
  return { outcome: { result, record: next }, next, settled: true };
}

/** A fresh code for a pending verification, up to its send limit: the old digest stops working, failed attempts stay. */
export function resend(record: VerificationRecord | undefined, code: NewCode): Transition<ResendOutcome> {
  if (!record || !isPending(record, code.now)) return { outcome: { result: 'not_pending' } };
  if (record.sends >= record.maxSends) return { outcome: { result: 'max_sends', record } };
  const next: VerificationRecord = {
    ...record,
    digest: code.digest,
    expiresAt: code.expiresAt,
    sends: record.sends + 1,
    lastSentAt: code.now,
    updatedAt: code.now,
    codeIssuer: null,
    delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: code.now },
  };
  return { outcome: { result: 'resent', record: next }, next };
}

/** Pending → canceled; false when it was not pending. */
export function cancel(record: VerificationRecord | undefined, now: number): Transition<boolean> {
  if (!record || !isPending(record, now)) return { outcome: false };
  return { outcome: true, next: { ...record, status: 'canceled', digest: '', updatedAt: now }, settled: true };
}

/**
 * A delivery report, for the current send only (a late report on an earlier send is `ignored`); a
 * failed delivery fails a verification that is still pending, expired or not. A receipt moves only
 * the message it names, and only from `sent`: a status never goes back, and a duplicate is `ignored`.
 */
export function reportDelivery(
  record: VerificationRecord | undefined,
  update: DeliveryUpdate,
  now: number,
): Transition<'ignored' | 'applied' | 'failed'> {
  if (!record || record.sends !== update.sendNumber) return { outcome: 'ignored' };
  if (isReceiptStatus(update.status)) return applyReceipt(record, update, now);
  const { messageId, errorCode, deliveredAt, ...earlier } = record.delivery;
  // A newly accepted message starts its own story (with no id when receipts never name it, so a late
  // receipt for the message before it cannot move it); other reports keep the one told so far.
  const story = update.status === 'sent' ? { messageId: update.messageId } : { messageId, errorCode, deliveredAt };
  const next: VerificationRecord = {
    ...record,
    delivery: {
      ...earlier,
      ...definedOnly(story),
      status: update.status,
      provider: update.provider !== undefined ? update.provider : record.delivery.provider,
      attempts: update.attempts ?? record.delivery.attempts,
      lastError: update.lastError !== undefined ? update.lastError : record.delivery.lastError,
      updatedAt: now,
    },
    codeIssuer: update.codeIssuer !== undefined ? update.codeIssuer : record.codeIssuer,
    updatedAt: now,
  };
  if (update.status !== 'failed' || record.status !== 'pending') return { outcome: 'applied', next };
  return { outcome: 'failed', next: { ...next, status: 'failed', digest: '' }, settled: true };
}

function applyReceipt(record: VerificationRecord, update: DeliveryUpdate, now: number): Transition<'ignored' | 'applied'> {
  if (record.delivery.status !== 'sent' || update.messageId === undefined || record.delivery.messageId !== update.messageId) {
    return { outcome: 'ignored' };
  }
  const delivery = { ...record.delivery, status: update.status, updatedAt: now };
  if (update.errorCode !== undefined) delivery.errorCode = update.errorCode;
  if (update.status === 'delivered') delivery.deliveredAt = update.deliveredAt ?? now;
  return { outcome: 'applied', next: { ...record, delivery, updatedAt: now } };
}

function definedOnly<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** `deliveryPrivate` for good; nothing for a verification that does not exist. */
export function markDeliveryPrivate(record: VerificationRecord | undefined): Transition<void> {
  return record ? { outcome: undefined, next: { ...record, deliveryPrivate: true } } : { outcome: undefined };
}
