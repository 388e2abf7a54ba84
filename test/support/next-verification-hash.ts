import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, NEXT_CODES, toHash, UNWRITTEN_LOCALE } from '../../src/otp/store/verification-hash.js';

/**
 * A verification's hash as the next version will write it (verification-hash.ts, `NEXT_CODES`): this
 * version's, without a locale field for the default locale, and with the delivery's provider as its code.
 * This version must read such hashes, and update them, before any replica writes one.
 */
export function nextLayoutHash(record: VerificationRecord): Record<string, string | number | Buffer> {
  const hash = toHash(record);
  if (record.locale === UNWRITTEN_LOCALE) delete hash[FIELD.locale];
  const provider = record.delivery.provider;
  if (provider) hash[DELIVERY_FIELD.provider] = (NEXT_CODES.provider as Record<string, string>)[provider] ?? provider;
  return hash;
}
