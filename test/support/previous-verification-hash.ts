import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, PACKED_CODES, packedCode, toHash } from '../../src/otp/store/verification-hash.js';

/** Fields left out at 0 (a counter, a time at creation) since the version before the previous one, which the version before it wrote. */
const WRITTEN_AT_ZERO = [
  FIELD.updatedAt,
  FIELD.attempts,
  FIELD.sends,
  FIELD.maxSends,
  FIELD.lastSentAt,
  DELIVERY_FIELD.attempts,
  DELIVERY_FIELD.updatedAt,
];

type Hash = Record<string, string | number | Buffer>;

/**
 * A verification's hash as the previous version wrote it (verification-hash.ts): this version's, with each code
 * (channel, budget, both statuses, the delivery's provider) in its own field rather than together in one
 * (`PACKED_CODES`), and the delivery's time written out when it is the verification's. This version must read and
 * update such hashes for as long as they live, and the previous version reads this version's.
 */
export function previousLayoutHash(record: VerificationRecord): Hash {
  const { [PACKED_CODES.field]: packed, ...hash } = toHash(record);
  for (const field of PACKED_CODES.order) {
    const code = packedCode(packed as string, field);
    if (code !== undefined) hash[field] = code;
  }
  const sameUpdate = String(packed).charAt(PACKED_CODES.order.length) === PACKED_CODES.sameUpdate;
  if (sameUpdate) hash[DELIVERY_FIELD.updatedAt] = hash[FIELD.updatedAt]!;
  return hash;
}

/**
 * A verification's hash as the version before the previous one wrote it: the previous version's, with the
 * locale written out, the default one too, and the delivery's provider in full.
 */
export function olderLayoutHash(record: VerificationRecord): Hash {
  const hash = previousLayoutHash(record);
  hash[FIELD.locale] = record.locale;
  if (record.delivery.provider) hash[DELIVERY_FIELD.provider] = record.delivery.provider;
  return hash;
}

/**
 * A verification's hash as the version three before this one wrote it: the older one's, with the
 * channel, the budget and both statuses in full rather than as codes, and every counter and time written,
 * at 0 too. Its digest is the record's: that version stored `digestCode`'s (32 bytes), which the caller, who
 * has the code, gives the record. Such hashes live up to a day after their code expires.
 */
export function oldestLayoutHash(record: VerificationRecord): Hash {
  const hash = olderLayoutHash(record);
  hash[FIELD.channel] = record.channel;
  hash[FIELD.budget] = record.budget;
  hash[FIELD.status] = record.status;
  hash[DELIVERY_FIELD.status] = record.delivery.status;
  for (const field of WRITTEN_AT_ZERO) hash[field] ??= 0;
  return hash;
}

/**
 * A pending email verification for `login` through the Verifications API whose one code went out by SMTP,
 * as each version records it (its digest left to the caller, who has the code).
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
