import { randomUUID } from 'node:crypto';
import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, packDigest, SHORT_CODES, toHash } from '../../src/otp/store/verification-hash.js';

/**
 * A verification's hash as the next version will write it (verification-hash.ts): this version's hash with
 * one-letter codes for the channel, the budget and both statuses, no field for a counter or time of 0,
 * and the code's digest as `shortDigestCode` gives it (`shortDigest`, '' for none: the caller has the code).
 * This version must read and update such hashes before any replica writes them.
 */
export function nextLayoutHash(record: VerificationRecord, shortDigest: string): Record<string, string | number | Buffer> {
  const hash = toHash(record);
  hash[FIELD.channel] = SHORT_CODES.channel[record.channel];
  hash[FIELD.budget] = SHORT_CODES.budget[record.budget];
  hash[FIELD.status] = SHORT_CODES.status[record.status];
  hash[DELIVERY_FIELD.status] = SHORT_CODES.deliveryStatus[record.delivery.status];
  hash[FIELD.digest] = shortDigest === '' ? '' : packDigest(shortDigest);
  // Not deliveredAt: its field is there exactly when it is known, at any time since creation.
  const zeroless = [
    FIELD.updatedAt,
    FIELD.attempts,
    FIELD.sends,
    FIELD.maxSends,
    FIELD.lastSentAt,
    DELIVERY_FIELD.attempts,
    DELIVERY_FIELD.updatedAt,
  ];
  for (const field of zeroless) if (Number(hash[field]) === 0) delete hash[field];
  return hash;
}

/** An id as the next version mints it: a random UUID of version 8 (verification-key.ts). */
export const nextVersionId = (): string => {
  const id = randomUUID();
  return `${id.slice(0, 14)}8${id.slice(15)}`;
};

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
