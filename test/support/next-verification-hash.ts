import type { VerificationRecord } from '../../src/otp/otp.types.js';
import { DELIVERY_FIELD, FIELD, PACKED_CODES, toHash } from '../../src/otp/store/verification-hash.js';

type Hash = Record<string, string | number | Buffer>;

/**
 * A verification's hash as the next version writes it (verification-hash.ts, `PACKED_CODES`): this version's,
 * with the codes of the channel, the budget, both statuses and the provider together in one field. A value
 * without a one-letter code (a provider this version has none for) stays in its own field, `none` in its place;
 * so does a missing one. A delivery that last changed when the verification did has no time of its own, but a
 * mark after the codes. This version must read and update such hashes during a rolling update to the next.
 */
export function nextLayoutHash(record: VerificationRecord): Hash {
  const hash = toHash(record);
  let packed = '';
  for (const field of PACKED_CODES.order) {
    const value = hash[field];
    const code = typeof value === 'string' && value.length === 1 ? value : undefined;
    packed += code ?? PACKED_CODES.none;
    if (code !== undefined) delete hash[field];
  }
  // The delivery's last change, when it is the verification's: as a report leaves it.
  const sameUpdate = hash[DELIVERY_FIELD.updatedAt] !== undefined && hash[DELIVERY_FIELD.updatedAt] === hash[FIELD.updatedAt];
  if (sameUpdate) delete hash[DELIVERY_FIELD.updatedAt];
  hash[PACKED_CODES.field] = sameUpdate ? packed + PACKED_CODES.sameUpdate : packed;
  return hash;
}
