import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, SHORT_CODES, toHash } from '../../src/otp/store/verification-hash.js';

/**
 * A verification's hash as the next layout will write it (verification-hash.ts): this version's hash with
 * one-letter codes for the channel, the budget and both statuses, no field for a counter or time of 0,
 * and the digest's first 16 bytes. This version must read and update such hashes before any replica
 * writes them.
 */
export function nextLayoutHash(record: VerificationRecord): Record<string, string | number | Buffer> {
  const hash = toHash(record);
  hash[FIELD.channel] = SHORT_CODES.channel[record.channel];
  hash[FIELD.budget] = SHORT_CODES.budget[record.budget];
  hash[FIELD.status] = SHORT_CODES.status[record.status];
  hash[DELIVERY_FIELD.status] = SHORT_CODES.deliveryStatus[record.delivery.status];
  const digest = hash[FIELD.digest] as Buffer;
  if (digest.length > 0) hash[FIELD.digest] = digest.subarray(0, 16);
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

/** The record a hash of the next layout reads back as: the same, but for the digest, which it keeps the first half of. */
export const asNextLayoutStoresIt = (record: VerificationRecord): VerificationRecord => ({ ...record, digest: record.digest.slice(0, 32) });
