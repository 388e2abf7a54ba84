import { entryId } from './destination-hash.js';

/** A UUID of version 8 (lower-case, as ids are minted): an id the next version mints. */
const NEXT_VERSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The Redis key of a verification's hash; whatever else Redis keeps of it (the delivery ledger's sent
 * marks, its kept message, its failover claims) is this key and a suffix, under the same hash tag, so every
 * script on a verification touches one slot and runs unchanged on Redis Cluster.
 *
 * This version mints version-4 ids and keeps each under `otp:{v:<id>}`. The next version mints version-8
 * ids (as many random bits as version 4; the version only marks them) and keeps each under its id in
 * base64url, `otp:{<22 characters>}`: 28 characters, which Redis keeps in 32 bytes where the 44 of the
 * other key take 48. The id alone says which key is its, and this version finds both, so replicas of both
 * versions can serve together during a rolling update.
 */
export function verificationKey(id: string): string {
  return NEXT_VERSION_ID.test(id) ? `otp:{${entryId(id)}}` : `otp:{v:${id}}`;
}
