import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, toHash } from '../../src/otp/store/verification-hash.js';

/** Fields this version leaves out at 0 (a counter, a time at creation), which the previous version wrote. */
const WRITTEN_AT_ZERO = [
  FIELD.updatedAt,
  FIELD.attempts,
  FIELD.sends,
  FIELD.maxSends,
  FIELD.lastSentAt,
  DELIVERY_FIELD.attempts,
  DELIVERY_FIELD.updatedAt,
];

/**
 * A verification's hash as the previous version wrote it (verification-hash.ts): this version's, with the
 * channel, the budget and both statuses in full rather than as codes, and every counter and time written,
 * at 0 too. Its digest is the record's: the previous version stored `digestCode`'s (32 bytes), which the
 * caller, who has the code, gives the record. This version must read and update such hashes for as long as
 * they live.
 */
export function previousLayoutHash(record: VerificationRecord): Record<string, string | number | Buffer> {
  const hash = toHash(record);
  hash[FIELD.channel] = record.channel;
  hash[FIELD.budget] = record.budget;
  hash[FIELD.status] = record.status;
  hash[DELIVERY_FIELD.status] = record.delivery.status;
  for (const field of WRITTEN_AT_ZERO) hash[field] ??= 0;
  return hash;
}

/**
 * A pending email verification for `login` through the Verifications API whose one code went out by SMTP,
 * as both versions record it (its digest left to the caller, who has the code).
 */
export function sentEmailVerification(id: string, to: string, now: number): VerificationRecord {
  return {
    id,
    channel: 'email',
    to,
    purpose: 'login',
    budget: 'api',
    locale: 'en',
    status: 'pending',
    digest: '',
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 600_000,
    attempts: 0,
    maxAttempts: 5,
    sends: 1,
    maxSends: 5,
    lastSentAt: now,
    delivery: { status: 'sent', provider: 'smtp', attempts: 1, lastError: null, updatedAt: now },
    codeIssuer: null,
  };
}
