import { randomUUID } from 'node:crypto';
import { entryId } from './destination-hash.js';

/** A UUID of version 8, lower-case, as `mintVerificationId` gives it. */
const COMPACT_KEYED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A new verification's id: a random UUID whose version nibble says 8 instead of 4. As many random bits
 * (122, from the CSPRNG) as version 4; the version only marks the ids kept under the shorter key below.
 */
export function mintVerificationId(): string {
  const id = randomUUID();
  return `${id.slice(0, 14)}8${id.slice(15)}`;
}

/**
 * The Redis key of a verification's hash; whatever else Redis keeps of it (the delivery ledger's sent
 * marks, its kept message, its failover claims) is this key and a suffix, under the same hash tag, so every
 * script on a verification touches one slot and runs unchanged on Redis Cluster.
 *
 * Ids this version mints (version 8) are kept under the id in base64url, `otp:{<22 characters>}`: 28
 * characters, which Redis keeps in 32 bytes where the 44 of `otp:{v:<id>}` take 48. Any other id (the
 * version-4 ids of earlier versions) is kept under `otp:{v:<id>}`. The id alone says which key is its, so
 * nothing ever looks under two keys, and the previous version (which read both but minted version 4)
 * serves this one's verifications during a rolling update.
 */
export function verificationKey(id: string): string {
  return COMPACT_KEYED_ID.test(id) ? `otp:{${entryId(id)}}` : `otp:{v:${id}}`;
}
