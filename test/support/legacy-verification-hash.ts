import type { VerificationRecord } from '../../src/otp/otp.types.js';

/**
 * A verification's hash exactly as the store wrote it before the compact layout (long field names, its
 * id, the digest in hex, epoch times, '' for null): what Redis still holds for a day after an upgrade.
 */
export function legacyHash(record: VerificationRecord): Record<string, string | number> {
  const { delivery } = record;
  const hash: Record<string, string | number> = {
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
    dStatus: delivery.status,
    dProvider: delivery.provider ?? '',
    dAttempts: delivery.attempts,
    dLastError: delivery.lastError ?? '',
    dUpdatedAt: delivery.updatedAt,
  };
  if (record.deliveryPrivate) hash.deliveryPrivate = 1;
  if (record.subject !== undefined) hash.subject = record.subject;
  if (delivery.messageId !== undefined) hash.dMessageId = delivery.messageId;
  if (delivery.errorCode !== undefined) hash.dErrorCode = delivery.errorCode;
  if (delivery.deliveredAt !== undefined) hash.dDeliveredAt = delivery.deliveredAt;
  return hash;
}
